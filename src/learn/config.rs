//! A training run's complete configuration (TOML): the dataset, the network, the optimisation and
//! the augmentation. The run writes it back as `config.toml` beside its checkpoints, so a model
//! folder says how it was made and can be resumed.

use crate::error::{Error, Result};
use crate::register::config::RegistrationConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub data: DataConfig,
    #[serde(default)]
    pub model: NetConfig,
    #[serde(default)]
    pub training: TrainingSettings,
    #[serde(default)]
    pub augmentation: Augmentation,
    #[serde(default)]
    pub refinement: Refinement,
}

/// Instance optimisation after the network, as VoxelMorph++ does: Adam steps on the predicted
/// displacement itself, with the similarity and smoothness the network was trained with.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Refinement {
    /// 0 leaves the network's map as it is.
    pub steps: u32,
    /// Adam's step, in training-grid voxels.
    pub learning_rate: f64,
    /// Weight of the diffusion regulariser on the refined map (voxels). Adam moves every voxel
    /// on its own, so the map needs more of it than the network's smooth output does.
    pub smoothness: f64,
}

impl Default for Refinement {
    fn default() -> Self {
        Refinement {
            steps: 0,
            learning_rate: 0.05,
            smoothness: 20.0,
        }
    }
}

/// The volumes, the training grid they are brought onto, and how they are paired.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// The folder volume paths are relative to (itself relative to the config file's folder).
    #[serde(default)]
    pub root: PathBuf,
    /// The training grid: axis-aligned RAS, this voxel size, these dims `[i, j, k]` (each a
    /// multiple of 2^(encoder levels)), centred on the atlas.
    pub spacing_mm: f64,
    pub dims: [usize; 3],
    /// The volume every other one is affinely registered to before training (by the engine, with
    /// `affine_preset`'s affine stage), so the network learns the deformable part; `"none"` for
    /// volumes already aligned (their headers put them in the atlas's space).
    pub atlas: String,
    #[serde(default = "default_affine_preset")]
    pub affine_preset: String,
    /// Voxel size of the atlas copy volumes are aligned to (see `data::alignment_grid`).
    #[serde(default = "default_alignment_spacing")]
    pub alignment_spacing_mm: f64,
    #[serde(default)]
    pub pairing: Pairing,
    /// The volumes listed one by one; a `folder` adds its own.
    #[serde(default)]
    pub volumes: Vec<VolumeEntry>,
    /// A folder (relative to `root`) whose NIfTI files are volumes, each named by its file name
    /// without the extension, its label map the file of the same name in `labels_folder` when
    /// there is one (the Learn2Reg and nnU-Net layout, `imagesTr` and `labelsTr`). Reading the
    /// config lists them in `volumes`, so a run's saved config names every volume it used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels_folder: Option<PathBuf>,
    /// The held-out pair, never trained on in either direction.
    pub validation: PairNames,
}

impl DataConfig {
    /// Moves the volumes of `folder` (and their labels in `labels_folder`) into `volumes`, in
    /// name order.
    pub fn list_folder(&mut self) -> Result<()> {
        let Some(folder) = self.folder.take() else {
            if let Some(labels) = &self.labels_folder {
                return Err(Error::Config(format!(
                    "data.labels_folder {} needs data.folder for its images",
                    labels.display()
                )));
            }
            return Ok(());
        };
        let labels_folder = self.labels_folder.take();
        let path = self.root.join(&folder);
        let images = nifti_names(&path)?;
        if images.is_empty() {
            return Err(Error::format(
                &path,
                "the data folder has no NIfTI files (.nii or .nii.gz)",
            ));
        }
        let label_files = match &labels_folder {
            Some(l) => nifti_names(&self.root.join(l))?,
            None => Vec::new(),
        };
        for (name, file) in images {
            let labels = labels_folder
                .as_ref()
                .filter(|_| label_files.iter().any(|(_, f)| *f == file))
                .map(|l| l.join(&file));
            self.volumes.push(VolumeEntry {
                name,
                image: folder.join(&file),
                labels,
            });
        }
        Ok(())
    }
}

/// `(name, file name)` of each NIfTI file in `folder`, by name; the name is the file name without
/// `.nii` or `.nii.gz`.
fn nifti_names(folder: &Path) -> Result<Vec<(String, String)>> {
    let entries = std::fs::read_dir(folder).map_err(|e| Error::io(folder, e))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(folder, e))?;
        let Ok(file) = entry.file_name().into_string() else {
            continue;
        };
        let stem = file
            .strip_suffix(".nii.gz")
            .or_else(|| file.strip_suffix(".nii"));
        if let Some(stem) = stem
            && entry.path().is_file()
        {
            names.push((stem.to_string(), file.clone()));
        }
    }
    names.sort();
    Ok(names)
}

fn default_alignment_spacing() -> f64 {
    2.0
}

/// The `affine_preset` of volumes that are already aligned.
pub const NO_ALIGNMENT: &str = "none";

fn default_affine_preset() -> String {
    "brain-mri".into()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeEntry {
    pub name: String,
    pub image: PathBuf,
    #[serde(default)]
    pub labels: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairNames {
    pub fixed: String,
    pub moving: String,
}

/// Which ordered (fixed, moving) pairs training draws from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pairing {
    /// The atlas with every other volume, both ways.
    AtlasToSubject,
    /// Every ordered pair of distinct volumes.
    #[default]
    AllPairs,
}

/// What the network's flow layer means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FieldKind {
    Displacement,
    /// A stationary velocity field, integrated by scaling and squaring (diffeomorphic).
    #[default]
    Velocity,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetConfig {
    /// Channels per encoder level; the first level is at half the training grid's resolution,
    /// each next one halves it again.
    pub encoder_channels: Vec<usize>,
    pub decoder_channels: usize,
    pub field: FieldKind,
    /// An affine head on the encoder (the joint affine + deformable network).
    pub affine_head: bool,
    /// U-Nets from coarse to fine, each at twice the previous one's resolution, the finest at the
    /// training grid's (1: VoxelMorph's single U-Net; 3: LapIRN's pyramid, trained coarse to
    /// fine, each level starting when the previous one has had its share of the iterations).
    #[serde(default = "one")]
    pub pyramid_levels: usize,
    /// A correlation layer whose matching estimate each level's flow layer reads (see
    /// [`super::correlation`]); none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation: Option<Correlation>,
}

/// The correlation layer's search: whole-voxel offsets within ±`radius` along each axis, each
/// scored by local correlation over a `window`³ box (voxels of the level's input).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Correlation {
    pub radius: usize,
    pub window: usize,
}

fn one() -> usize {
    1
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            encoder_channels: vec![16, 32, 32],
            decoder_channels: 32,
            field: FieldKind::Velocity,
            affine_head: false,
            pyramid_levels: 1,
            correlation: None,
        }
    }
}

/// The image similarity the network is trained with.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum SimilarityLoss {
    Mse,
    /// `1 − r` over the whole image.
    Ncc,
    /// Local NCC in a cubic window (voxels, odd).
    Lncc {
        window: usize,
    },
    /// Mean squared difference of MIND-SSC or macMIND descriptors (for CT–MR pairs).
    Mind {
        descriptor: crate::volume::mind::Descriptor,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingSettings {
    pub iterations: u32,
    /// Pairs per iteration, their losses averaged: one pair's gradient points wherever that pair
    /// needs, and Adam follows it with steps of the learning rate's size.
    pub batch_size: usize,
    /// Adam's peak learning rate, reached linearly over `warmup_iterations`, then lowered along
    /// a half cosine to `final_learning_rate` at the last iteration.
    pub learning_rate: f64,
    pub warmup_iterations: u32,
    pub final_learning_rate: f64,
    pub similarity: SimilarityLoss,
    /// Weight of the diffusion regulariser on the predicted field (in voxels).
    pub smoothness: f64,
    /// Weight of soft Dice on warped labels, on pairs that have labels on both sides.
    pub label_weight: f64,
    /// The share of labelled pairs whose labels are used (macJNet's weak supervision).
    pub label_fraction: f64,
    /// The Dice loss uses at most this many labels, the largest ones.
    pub dice_labels: usize,
    /// Weight of the folding penalty (`losses::folding`: the mean folded share of the cubes).
    pub folding_weight: f64,
    pub validate_every: u32,
    pub checkpoint_every: u32,
    pub seed: u64,
}

impl TrainingSettings {
    /// The learning rate of iteration `n` (1-based) under the warm-up and cosine schedule.
    ///
    /// Adam's first steps move every weight by about the learning rate whatever the gradient's
    /// size, and with one pair per step they follow that pair: at a rate that learns in a few
    /// hundred steps, the first few moved the brain example's map by voxels and wrecked it. The
    /// warm-up lets Adam's moment estimates settle first.
    pub fn learning_rate_at(&self, n: u32) -> f64 {
        let warmup = self
            .warmup_iterations
            .min(self.iterations.saturating_sub(1));
        if n <= warmup {
            return self.learning_rate * f64::from(n) / f64::from(warmup + 1);
        }
        let span = f64::from((self.iterations - warmup).max(1));
        let t = (f64::from(n - warmup) / span).min(1.0);
        let cosine = 0.5 * (1.0 + (std::f64::consts::PI * t).cos());
        self.final_learning_rate + (self.learning_rate - self.final_learning_rate) * cosine
    }
}

impl Default for TrainingSettings {
    fn default() -> Self {
        TrainingSettings {
            iterations: 300,
            batch_size: 1,
            learning_rate: 1e-3,
            warmup_iterations: 25,
            final_learning_rate: 1e-4,
            similarity: SimilarityLoss::Lncc { window: 5 },
            smoothness: 1.0,
            label_weight: 0.0,
            label_fraction: 1.0,
            dice_labels: 16,
            folding_weight: 0.0,
            validate_every: 25,
            checkpoint_every: 100,
            seed: 1,
        }
    }
}

/// Random changes to each training pair, so a handful of subjects trains a network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Augmentation {
    /// Largest rotation about each axis (degrees), scaling (fraction) and shift (mm).
    pub rotation_deg: f64,
    pub scale: f64,
    pub translation_mm: f64,
    /// Smooth random deformation: largest displacement (mm) of control points this far apart.
    pub deformation_mm: f64,
    pub deformation_spacing_mm: f64,
    /// Intensity: gamma exponent in `[1/(1+g), 1+g]`, and Gaussian noise (fraction of the range).
    pub gamma: f64,
    pub noise: f64,
    /// The share of iterations that register a volume to a deformed copy of itself, whose
    /// labels then always supervise.
    pub synthetic_fraction: f64,
}

impl Default for Augmentation {
    fn default() -> Self {
        Augmentation {
            rotation_deg: 5.0,
            scale: 0.05,
            translation_mm: 4.0,
            deformation_mm: 4.0,
            deformation_spacing_mm: 32.0,
            gamma: 0.2,
            noise: 0.02,
            synthetic_fraction: 0.3,
        }
    }
}

impl TrainConfig {
    /// Reads and checks a config; relative paths become relative to the file's folder.
    pub fn read(path: &Path) -> Result<TrainConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut config: TrainConfig =
            toml::from_str(&text).map_err(|e| Error::format(path, e.to_string()))?;
        let folder = path.parent().unwrap_or(Path::new("."));
        config.data.root = folder.join(&config.data.root);
        config.data.list_folder()?;
        config
            .validate()
            .map_err(|e| Error::format(path, e.to_string()))?;
        Ok(config)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a training config serialises")
    }

    /// How many pyramid levels train at iteration `n` (1-based; 0 for scoring before the first):
    /// the levels start one after another at equal shares of the iterations.
    pub fn active_levels(&self, n: u32) -> usize {
        let levels = self.model.pyramid_levels.max(1);
        let done = u64::from(n.saturating_sub(1));
        let share = (done * levels as u64 / u64::from(self.training.iterations.max(1))) as usize;
        (1 + share).min(levels)
    }

    /// A volume entry's file, resolved against the data root.
    pub fn path_of(&self, relative: &Path) -> PathBuf {
        self.data.root.join(relative)
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        let d = &self.data;
        let m = &self.model;
        let t = &self.training;
        let levels = m.encoder_channels.len();
        if levels < 2 || m.encoder_channels.contains(&0) || m.decoder_channels == 0 {
            return bad("model: at least two encoder levels, none with zero channels".into());
        }
        if !(1..=4).contains(&m.pyramid_levels) {
            return bad(format!(
                "model.pyramid_levels {} must be 1 to 4",
                m.pyramid_levels
            ));
        }
        if let Some(c) = m.correlation
            && (!(1..=3).contains(&c.radius) || c.window % 2 == 0 || c.window < 3)
        {
            return bad(format!(
                "model.correlation: radius {} must be 1 to 3 and window {} odd and at least 3",
                c.radius, c.window
            ));
        }
        let multiple = 1usize << (levels + m.pyramid_levels - 1);
        if d.dims.iter().any(|&n| n == 0 || n % multiple != 0) {
            return bad(format!(
                "data.dims {:?}: each must be a positive multiple of {multiple} for {levels} encoder levels and {} pyramid levels",
                d.dims, m.pyramid_levels
            ));
        }
        for (name, v) in [
            ("spacing_mm", d.spacing_mm),
            ("alignment_spacing_mm", d.alignment_spacing_mm),
        ] {
            if !(v > 0.0 && v.is_finite()) {
                return bad(format!("data.{name} {v} must be positive"));
            }
        }
        let names: Vec<&str> = d.volumes.iter().map(|v| v.name.as_str()).collect();
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return bad(format!("data.volumes: the name {name:?} is used twice"));
            }
        }
        for (what, name) in [
            ("data.atlas", &d.atlas),
            ("data.validation.fixed", &d.validation.fixed),
            ("data.validation.moving", &d.validation.moving),
        ] {
            if !names.contains(&name.as_str()) {
                return bad(format!("{what} {name:?} is not among data.volumes"));
            }
        }
        if d.validation.fixed == d.validation.moving {
            return bad("data.validation: fixed and moving must differ".into());
        }
        if d.affine_preset != NO_ALIGNMENT {
            RegistrationConfig::preset(&d.affine_preset)?;
        }
        if let SimilarityLoss::Lncc { window } = t.similarity
            && (window % 2 == 0 || window < 3)
        {
            return bad(format!(
                "training.similarity.window {window} must be odd and at least 3"
            ));
        }
        let weights = [
            t.smoothness,
            t.label_weight,
            t.folding_weight,
            t.learning_rate,
            t.final_learning_rate,
        ];
        if weights.iter().any(|w| !(*w >= 0.0 && w.is_finite()))
            || t.learning_rate == 0.0
            || t.final_learning_rate == 0.0
        {
            return bad("training: weights must be ≥ 0 and the learning rates > 0".into());
        }
        if !(0.0..=1.0).contains(&t.label_fraction)
            || !(0.0..=1.0).contains(&self.augmentation.synthetic_fraction)
        {
            return bad("label_fraction and synthetic_fraction are shares in [0, 1]".into());
        }
        let r = &self.refinement;
        let valid = r.learning_rate > 0.0
            && r.learning_rate.is_finite()
            && r.smoothness >= 0.0
            && r.smoothness.is_finite();
        if !valid {
            return bad("refinement: learning_rate must be > 0 and smoothness ≥ 0".into());
        }
        if t.iterations == 0
            || t.batch_size == 0
            || t.validate_every == 0
            || t.checkpoint_every == 0
        {
            return bad(
                "training: iterations, batch_size, validate_every and checkpoint_every must be > 0"
                    .into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three levels over 90 iterations: the coarsest alone for 30, then two, then all three, and
    /// every level for scoring once the run has ended.
    #[test]
    fn pyramid_levels_start_one_after_another() {
        let mut config: TrainConfig = toml::from_str(
            r#"[data]
spacing_mm = 4.0
dims = [32, 32, 32]
atlas = "a"
[data.validation]
fixed = "a"
moving = "b"
[model]
encoder_channels = [8, 16]
decoder_channels = 8
field = "velocity"
affine_head = false
pyramid_levels = 3
"#,
        )
        .unwrap();
        config.training.iterations = 90;
        let active: Vec<usize> = [0, 1, 30, 31, 60, 61, 90]
            .into_iter()
            .map(|n| config.active_levels(n))
            .collect();
        assert_eq!(active, [1, 1, 1, 2, 2, 3, 3]);
        config.model.pyramid_levels = 1;
        assert_eq!(config.active_levels(1), 1);
    }

    /// A folder of images and a labels folder holding some of their label maps become volume
    /// entries, and the atlas and the validation pair can name them.
    #[test]
    fn a_folder_lists_its_volumes_and_their_labels() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("data/imagesTr");
        let labels = dir.path().join("data/labelsTr");
        std::fs::create_dir_all(&images).unwrap();
        std::fs::create_dir_all(&labels).unwrap();
        for name in ["b.nii.gz", "a.nii.gz", "c.nii", "notes.txt"] {
            std::fs::write(images.join(name), b"").unwrap();
        }
        std::fs::write(labels.join("a.nii.gz"), b"").unwrap();
        std::fs::write(labels.join("c.nii"), b"").unwrap();
        let file = dir.path().join("train.toml");
        std::fs::write(
            &file,
            r#"[data]
root = "data"
folder = "imagesTr"
labels_folder = "labelsTr"
spacing_mm = 4.0
dims = [16, 16, 16]
atlas = "a"
affine_preset = "none"
[data.validation]
fixed = "b"
moving = "c"
"#,
        )
        .unwrap();
        let config = TrainConfig::read(&file).unwrap();
        let listed: Vec<(&str, &Path, Option<&Path>)> = config
            .data
            .volumes
            .iter()
            .map(|v| (v.name.as_str(), v.image.as_path(), v.labels.as_deref()))
            .collect();
        assert_eq!(
            listed,
            [
                (
                    "a",
                    Path::new("imagesTr/a.nii.gz"),
                    Some(Path::new("labelsTr/a.nii.gz"))
                ),
                ("b", Path::new("imagesTr/b.nii.gz"), None),
                (
                    "c",
                    Path::new("imagesTr/c.nii"),
                    Some(Path::new("labelsTr/c.nii"))
                ),
            ]
        );
        let saved: TrainConfig = toml::from_str(&config.to_toml()).unwrap();
        assert_eq!(
            saved.data.folder, None,
            "the saved config lists the volumes"
        );
        assert_eq!(saved.data.volumes, config.data.volumes);

        std::fs::remove_dir_all(&images).unwrap();
        let missing = TrainConfig::read(&file).unwrap_err().to_string();
        assert!(missing.contains("imagesTr"), "{missing}");
    }
}
