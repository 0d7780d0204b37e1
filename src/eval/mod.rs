//! Evaluation of a registration, one definition per measure (see each submodule's doc), used live
//! by the app and by `warpbench eval`/`register`: label overlap, surface distances, how far each
//! structure moved, landmark TRE, Jacobian determinant statistics, non-diffeomorphic volume and
//! image similarity.

pub mod jacobian;
pub mod joint_histogram;
pub mod motion;
pub mod non_diffeomorphic;
pub mod overlap;
pub mod similarity;
pub mod surface;
pub mod tre;

use crate::error::{Error, Result};
use crate::volume::warp::{warp_labels, warp_scalar};
use crate::volume::{LabelTable, LabelVolume, LandmarkSet, ScalarVolume, VectorField};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What to score: a displacement on the fixed grid plus any of labels, landmarks and images.
pub struct EvalInputs<'a> {
    pub field: &'a VectorField,
    /// On the field's grid: each structure's motion; with `moving_labels`, the overlap too.
    pub fixed_labels: Option<&'a LabelVolume>,
    pub moving_labels: Option<&'a LabelVolume>,
    /// The moving labels already warped through `field` (by `warp_labels`) where the caller has
    /// them, so they are not warped twice; `None` warps them here.
    pub warped_labels: Option<&'a LabelVolume>,
    pub landmarks: Option<(&'a LandmarkSet, &'a LandmarkSet)>,
    pub images: Option<(&'a ScalarVolume, &'a ScalarVolume)>,
    /// The moving image already warped through `field` with NaN outside (by `warp_scalar`) where
    /// the caller has it; `None` warps it here.
    pub warped_image: Option<&'a ScalarVolume>,
    /// Names for the scored label ids.
    pub label_table: Option<&'a LabelTable>,
}

/// Labels and landmarks to score a registration against (the fixed labels on the fixed grid).
#[derive(Clone, Default)]
pub struct Scoring {
    pub fixed_labels: Option<Arc<LabelVolume>>,
    pub moving_labels: Option<Arc<LabelVolume>>,
    pub landmarks: Option<(LandmarkSet, LandmarkSet)>,
    pub label_table: LabelTable,
}

impl Scoring {
    /// True when there is nothing to score against: moving labels alone score nothing.
    pub fn is_empty(&self) -> bool {
        self.fixed_labels.is_none() && self.landmarks.is_none()
    }

    /// What scores `field` (on the fixed grid) against these, without images.
    pub fn inputs<'a>(&'a self, field: &'a VectorField) -> EvalInputs<'a> {
        EvalInputs {
            field,
            fixed_labels: self.fixed_labels.as_deref(),
            moving_labels: self.moving_labels.as_deref(),
            warped_labels: None,
            landmarks: self.landmarks.as_ref().map(|(f, m)| (f, m)),
            images: None,
            warped_image: None,
            label_table: Some(&self.label_table),
        }
    }
}

/// The measures a live run leaves out: on a large volume each costs as much as the rest of a
/// scoring, or more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlowMeasures {
    /// HD95 and ASSD.
    pub surface: bool,
    /// The non-diffeomorphic volume.
    pub ndv: bool,
}

impl SlowMeasures {
    pub const NONE: SlowMeasures = SlowMeasures {
        surface: false,
        ndv: false,
    };
    pub const ALL: SlowMeasures = SlowMeasures {
        surface: true,
        ndv: true,
    };
}

/// The scores, as written to `metrics.json` (keys as named here; absent inputs give `null`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct EvalReport {
    pub dice_mean: Option<f64>,
    /// Label id → Dice, over ids present in both label maps.
    pub dice: BTreeMap<String, f64>,
    /// Label id → name, for the ids scored here that the case's label table names.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub label_names: BTreeMap<String, String>,
    pub dice30: Option<f64>,
    pub hd95_mean: Option<f64>,
    pub assd_mean: Option<f64>,
    pub hd95: BTreeMap<String, f64>,
    /// Label id → how far that structure of the fixed labels moved.
    pub motion: BTreeMap<String, motion::StructureMotion>,
    pub tre_before_mm: Option<f64>,
    pub tre_mean_mm: Option<f64>,
    pub tre_median_mm: Option<f64>,
    pub tre_std_mm: Option<f64>,
    pub tre_max_mm: Option<f64>,
    pub tre30_mm: Option<f64>,
    pub tre: Option<tre::TreReport>,
    pub fold_fraction: f64,
    pub folded_voxels: usize,
    /// Non-diffeomorphic volume: what the mapping turns inside out between voxel centres,
    /// which central-difference folds can miss (see [`non_diffeomorphic`]).
    pub ndv_mm3: Option<f64>,
    pub ndv_fraction: Option<f64>,
    pub sdlogj: f64,
    pub jacobian_min: f64,
    pub jacobian_max: f64,
    pub ncc: Option<f64>,
    pub mi: Option<f64>,
    pub nmi: Option<f64>,
    pub ssim: Option<f64>,
}

/// The affine stage's own scores, written beside a result's (`metrics.json`, the window's export)
/// so what the deformable stage added is the difference.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AffineStageScores {
    pub dice_affine: Option<f64>,
    /// Label id → Dice after the affine stage alone.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub dice_affine_per_label: BTreeMap<String, f64>,
    pub tre_affine_mm: Option<f64>,
}

impl AffineStageScores {
    /// From the scores of the affine stage's mapping alone.
    pub fn of(affine_only: &EvalReport) -> AffineStageScores {
        AffineStageScores {
            dice_affine: affine_only.dice_mean,
            dice_affine_per_label: affine_only.dice.clone(),
            tre_affine_mm: affine_only.tre_mean_mm,
        }
    }
}

/// Scores `inputs`. The fixed labels and image must be on the field's grid; the moving ones may be
/// on any grid (they are warped through the field). `slow` picks the costly measures.
pub fn evaluate(inputs: &EvalInputs, slow: SlowMeasures) -> Result<EvalReport> {
    let field = inputs.field;
    let det_j = jacobian::jacobian_determinant(field);
    let jac = jacobian::jacobian_stats(&det_j);
    let ndv = slow
        .ndv
        .then(|| non_diffeomorphic::non_diffeomorphic_volume(field));
    let mut report = EvalReport {
        fold_fraction: jac.fold_fraction,
        folded_voxels: jac.folded_voxels,
        ndv_mm3: ndv.map(|n| n.mm3),
        ndv_fraction: ndv.map(|n| n.fraction),
        sdlogj: jac.sdlogj,
        jacobian_min: jac.min,
        jacobian_max: jac.max,
        ..Default::default()
    };
    if let Some(fixed) = inputs.fixed_labels {
        report.motion = motion::motion_per_label(fixed, field, &det_j)?
            .into_iter()
            .map(|(id, m)| (id.to_string(), m))
            .collect();
    }
    if let (Some(fixed), Some(moving)) = (inputs.fixed_labels, inputs.moving_labels) {
        let warped_here;
        let warped = match inputs.warped_labels {
            Some(w) => w,
            None => {
                warped_here = warp_labels(moving, field);
                &warped_here
            }
        };
        let ids = overlap::shared_ids(fixed, moving);
        if ids.is_empty() {
            return Err(Error::Mismatch(
                "the fixed and moving label maps share no label id".into(),
            ));
        }
        let dice = overlap::dice_per_label(fixed, warped, &ids);
        let values: Vec<f64> = dice.values().copied().collect();
        report.dice_mean = Some(overlap::mean(&values));
        report.dice30 = Some(overlap::worst30_mean(&values));
        report.dice = dice.iter().map(|(id, d)| (id.to_string(), *d)).collect();
        if slow.surface {
            let distances: Vec<(i32, surface::SurfaceDistance)> = ids
                .iter()
                .filter_map(|&id| surface::surface_distance(fixed, warped, id).map(|d| (id, d)))
                .collect();
            let hd: Vec<f64> = distances.iter().map(|(_, d)| d.hd95_mm).collect();
            let asd: Vec<f64> = distances.iter().map(|(_, d)| d.assd_mm).collect();
            report.hd95_mean = Some(overlap::mean(&hd));
            report.assd_mean = Some(overlap::mean(&asd));
            report.hd95 = distances
                .iter()
                .map(|(id, d)| (id.to_string(), d.hd95_mm))
                .collect();
        }
    }
    if let Some((fixed, moving)) = inputs.landmarks {
        let t = tre::tre(fixed, moving, Some(field))?;
        report.tre_before_mm = Some(t.before.mean);
        report.tre_mean_mm = Some(t.after.mean);
        report.tre_median_mm = Some(t.after.median);
        report.tre_std_mm = Some(t.after.std);
        report.tre_max_mm = Some(t.after.max);
        report.tre30_mm = Some(t.after.worst30);
        report.tre = Some(t);
    }
    if let Some((fixed, moving)) = inputs.images {
        if !fixed.grid().same_as(field.grid(), 1e-3) {
            return Err(Error::Mismatch(
                "the fixed image is not on the displacement field's grid".into(),
            ));
        }
        let warped_here;
        let warped = match inputs.warped_image {
            Some(w) => w,
            None => {
                warped_here = warp_scalar(moving, field, f32::NAN);
                &warped_here
            }
        };
        report.ncc = Some(similarity::ncc(fixed, warped));
        let (mi, nmi) = similarity::mutual_information(fixed, warped);
        report.mi = Some(mi);
        report.nmi = Some(nmi);
        report.ssim = Some(similarity::ssim(fixed, warped));
    }
    if let Some(table) = inputs.label_table {
        report.label_names = report
            .motion
            .keys()
            .chain(report.dice.keys())
            .filter_map(|id| {
                let name = table.name(id.parse().ok()?)?;
                Some((id.clone(), name.to_string()))
            })
            .collect();
    }
    Ok(report)
}
