//! The training data: each volume read, affinely registered to the atlas by the engine, brought
//! onto the training grid (axis-aligned RAS around the atlas) and normalised; the ordered pairs
//! training draws from; and the held-out validation pair.

use super::config::{NO_ALIGNMENT, Pairing, TrainConfig};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::parallel::for_each_slice;
use crate::register::config::RegistrationConfig;
use crate::register::deformable::affine_displacement;
use crate::register::pipeline::Registration;
use crate::volume::nifti_io::{read_labels, read_scalar};
use crate::volume::resample::resample_scalar;
use crate::volume::warp::{displacement_at, warp_labels, warp_scalar};
use crate::volume::{Affine, Grid, LabelVolume, ScalarVolume, VectorField};

/// Structures smaller than this many training-grid voxels are left out of the Dice loss: at
/// 3–4 mm they are a handful of voxels whose overlap is noise.
const MIN_LABEL_VOXELS: usize = 8;

/// One volume of the dataset.
pub struct Subject {
    pub name: String,
    /// The image as read (for scoring at full resolution).
    pub image: ScalarVolume,
    pub labels: Option<LabelVolume>,
    /// Atlas world → this volume's world (the engine's affine; identity for the atlas).
    pub from_atlas: Affine,
    /// On the training grid, intensities mapped to `[0, 1]`.
    pub image_g: ScalarVolume,
    pub labels_g: Option<LabelVolume>,
}

impl Subject {
    /// A volume brought onto the training `grid`: through its affine alignment to the atlas
    /// (made here by the engine with `config`'s affine stage), or as it lies (`alignment` `None`:
    /// the atlas itself, or volumes already aligned).
    pub fn new(
        name: &str,
        image: ScalarVolume,
        labels: Option<LabelVolume>,
        grid: &Grid,
        alignment: Option<(&GpuContext, &ScalarVolume, RegistrationConfig)>,
    ) -> Result<Subject> {
        let image_n = normalised(&image);
        let from_atlas = match alignment {
            Some((ctx, atlas, config)) => align(ctx, atlas, &image_n, config)?,
            None => Affine::IDENTITY,
        };
        let field = affine_displacement(&from_atlas, grid);
        let image_g = warp_scalar(&image_n, &field, 0.0);
        let labels_g = labels.as_ref().map(|l| warp_labels(l, &field));
        Ok(Subject {
            name: name.to_string(),
            image,
            labels,
            from_atlas,
            image_g,
            labels_g,
        })
    }
}

impl Subject {
    /// This volume's world → atlas world.
    pub fn to_atlas(&self) -> Result<Affine> {
        self.from_atlas.inverse().ok_or_else(|| {
            Error::Registration(format!("the alignment of {} cannot be inverted", self.name))
        })
    }
}

pub struct Dataset {
    /// The training grid.
    pub grid: Grid,
    /// The atlas, normalised, that volumes are aligned to (see [`alignment_grid`]).
    pub alignment_atlas: ScalarVolume,
    pub subjects: Vec<Subject>,
    /// Ordered (fixed, moving) subject indices that training draws from.
    pub pairs: Vec<(usize, usize)>,
    pub validation: (usize, usize),
    /// Label ids of the Dice loss: in every labelled volume, large enough on the training grid.
    pub label_ids: Vec<i32>,
}

impl Dataset {
    /// One line on what the run trains with.
    pub fn summary(&self, config: &TrainConfig) -> String {
        format!(
            "{} volumes on a {:?} grid of {} mm; {} training pairs; validation pair: fixed {}, moving {}; {} Dice labels",
            self.subjects.len(),
            self.grid.dims(),
            config.data.spacing_mm,
            self.pairs.len(),
            self.subjects[self.validation.0].name,
            self.subjects[self.validation.1].name,
            self.label_ids.len()
        )
    }

    /// Reads and aligns every volume; `progress` hears each step by name.
    pub fn prepare(
        ctx: &GpuContext,
        config: &TrainConfig,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Dataset> {
        let data = &config.data;
        let atlas_entry = data
            .volumes
            .iter()
            .find(|v| v.name == data.atlas)
            .ok_or_else(|| Error::Config(format!("no volume named {:?}", data.atlas)))?;
        progress(&format!("reading the atlas {}", atlas_entry.name));
        let atlas = read_scalar(&config.path_of(&atlas_entry.image))?;
        let grid = training_grid(atlas.grid(), data.spacing_mm, data.dims)?;
        let alignment_atlas = resample_scalar(
            &normalised(&atlas),
            &alignment_grid(&grid, data.alignment_spacing_mm)?,
            0.0,
        );
        let affine_only = alignment_config(&data.affine_preset)?;

        let mut atlas = Some(atlas);
        let mut subjects = Vec::with_capacity(data.volumes.len());
        for entry in &data.volumes {
            let image_path = config.path_of(&entry.image);
            let image = match atlas.take_if(|_| entry.name == data.atlas) {
                Some(atlas) => atlas,
                None => {
                    progress(&format!("reading {}", entry.name));
                    read_scalar(&image_path)?
                }
            };
            let labels = match &entry.labels {
                Some(path) => {
                    let path = config.path_of(path);
                    let labels = read_labels(&path)?;
                    if !labels.grid().same_as(image.grid(), 1e-3) {
                        return Err(Error::format(
                            &path,
                            format!("labels are not on the grid of {}", image_path.display()),
                        ));
                    }
                    Some(labels)
                }
                None => None,
            };
            let alignment = match (&affine_only, entry.name == data.atlas) {
                (Some(config), false) => {
                    progress(&format!("aligning {} to the atlas", entry.name));
                    Some((ctx, &alignment_atlas, config.clone()))
                }
                _ => None,
            };
            subjects.push(Subject::new(&entry.name, image, labels, &grid, alignment)?);
        }
        let index = |name: &str| {
            subjects
                .iter()
                .position(|s| s.name == name)
                .expect("names were validated")
        };
        let validation = (
            index(&data.validation.fixed),
            index(&data.validation.moving),
        );
        let atlas_index = index(&data.atlas);
        let pairs = training_pairs(subjects.len(), config.data.pairing, atlas_index, validation);
        if pairs.is_empty() && config.augmentation.synthetic_fraction == 0.0 {
            return Err(Error::Config(
                "no training pairs besides the validation pair, and no synthetic pairs".into(),
            ));
        }
        let label_ids = common_label_ids(&subjects, config.training.dice_labels);
        Ok(Dataset {
            grid,
            alignment_atlas,
            subjects,
            pairs,
            validation,
            label_ids,
        })
    }
}

/// The training grid: axis-aligned RAS, `dims` voxels of `spacing_mm`, centred on `atlas`.
pub fn training_grid(atlas: &Grid, spacing_mm: f64, dims: [usize; 3]) -> Result<Grid> {
    centred_grid(atlas.centre_mm(), spacing_mm, dims)
}

/// An axis-aligned RAS grid of `dims` voxels of `spacing_mm` whose centre is `centre_mm`.
fn centred_grid(centre_mm: [f64; 3], spacing_mm: f64, dims: [usize; 3]) -> Result<Grid> {
    let origin = std::array::from_fn(|a| centre_mm[a] - spacing_mm * (dims[a] as f64 - 1.0) / 2.0);
    Grid::axis_aligned(dims, [spacing_mm; 3], origin)
}

/// The grid volumes are aligned on: the training grid's extent at `spacing_mm`. The engine's
/// affine stage works at 8 and 4 times its fixed image's voxel size, so aligning to a 4 mm
/// training grid would align at 32 and 16 mm; at 2 mm it aligns at 16 and 8 mm, as it does a
/// 1 mm image in `register`.
pub fn alignment_grid(training: &Grid, spacing_mm: f64) -> Result<Grid> {
    let spacing = training.spacing_mm();
    let dims = std::array::from_fn(|a| {
        ((training.dims()[a] as f64 * spacing[a] / spacing_mm).round() as usize).max(1)
    });
    centred_grid(training.centre_mm(), spacing_mm, dims)
}

/// Intensities mapped to `[0, 1]` by the 1st and 99th percentiles, clipped; NaN becomes 0.
pub fn normalised(image: &ScalarVolume) -> ScalarVolume {
    let [lo, hi] = image.quantiles([0.01, 0.99]);
    let range = (hi - lo).max(f32::EPSILON);
    let data = image
        .data()
        .iter()
        .map(|&v| {
            if v.is_nan() {
                0.0
            } else {
                ((v - lo) / range).clamp(0.0, 1.0)
            }
        })
        .collect();
    ScalarVolume::new(image.grid().clone(), data).expect("same grid")
}

/// The affine stage of a registration preset, alone: how volumes are aligned to the atlas
/// (`None` for [`NO_ALIGNMENT`]).
pub fn alignment_config(preset: &str) -> Result<Option<RegistrationConfig>> {
    if preset == NO_ALIGNMENT {
        return Ok(None);
    }
    let mut config = RegistrationConfig::preset(preset)?;
    config.deformable = None;
    Ok(Some(config))
}

/// The engine's affine registration of `moving` to `atlas`: atlas world → moving world.
pub fn align(
    ctx: &GpuContext,
    atlas: &ScalarVolume,
    moving: &ScalarVolume,
    config: RegistrationConfig,
) -> Result<Affine> {
    let mut registration = Registration::new(ctx, atlas.clone(), moving.clone(), config)?;
    while !registration.is_done() {
        registration.step()?;
    }
    Ok(registration.affine())
}

fn training_pairs(
    count: usize,
    pairing: Pairing,
    atlas: usize,
    validation: (usize, usize),
) -> Vec<(usize, usize)> {
    let held_out = |f: usize, m: usize| (f, m) == validation || (m, f) == validation;
    let mut pairs = Vec::new();
    for f in 0..count {
        for m in 0..count {
            let wanted = match pairing {
                Pairing::AllPairs => f != m,
                Pairing::AtlasToSubject => f != m && (f == atlas || m == atlas),
            };
            if wanted && !held_out(f, m) {
                pairs.push((f, m));
            }
        }
    }
    pairs
}

/// The `max` largest label ids every labelled volume has (by their smallest voxel count on the
/// training grid), leaving out those too small to overlap meaningfully.
fn common_label_ids(subjects: &[Subject], max: usize) -> Vec<i32> {
    let labelled: Vec<&LabelVolume> = subjects
        .iter()
        .filter_map(|s| s.labels_g.as_ref())
        .collect();
    let Some(first) = labelled.first() else {
        return Vec::new();
    };
    let count = |l: &LabelVolume, id: i32| l.data().iter().filter(|&&v| v == id).count();
    let mut sized: Vec<(usize, i32)> = first
        .ids()
        .into_iter()
        .map(|id| (labelled.iter().map(|l| count(l, id)).min().unwrap_or(0), id))
        .filter(|&(n, _)| n >= MIN_LABEL_VOXELS)
        .collect();
    sized.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut ids: Vec<i32> = sized.into_iter().take(max).map(|(_, id)| id).collect();
    ids.sort_unstable();
    ids
}

/// The displacement (mm, on the fixed volume's own grid) of a prediction made on the training
/// grid: fixed world → atlas world → the prediction → moving world. `field_g` is the
/// prediction in mm on the training grid; a zero field gives the affine alignment alone.
pub fn native_displacement(
    fixed: &Subject,
    moving: &Subject,
    field_g: &VectorField,
) -> Result<VectorField> {
    let to_atlas = fixed.to_atlas()?;
    let grid = fixed.image.grid().clone();
    let mut data = vec![[0.0f32; 3]; grid.voxel_count()];
    let slice = grid.dims()[0] * grid.dims()[1];
    for_each_slice(&mut data, slice, |k, out| {
        for (v, d) in out.iter_mut().enumerate() {
            let p = grid.index_to_world(k * slice + v);
            let q = to_atlas.apply(p);
            let u = displacement_at(field_g, q);
            let r = moving
                .from_atlas
                .apply(std::array::from_fn(|a| q[a] + u[a]));
            *d = std::array::from_fn(|a| (r[a] - p[a]) as f32);
        }
    });
    VectorField::new(grid, data)
}
