//! `warpbench eval`: score any displacement field (ours or another tool's) against labels,
//! landmarks and images, writing the scores as JSON.

use crate::eval::{EvalInputs, EvalReport, Scoring, SlowMeasures, evaluate};
use crate::register::deformable::affine_displacement;
use crate::volume::nifti_io::{read_displacement, read_labels, read_scalar};
use crate::volume::resample::{resample_field, resample_labels};
use crate::volume::{
    Affine, Grid, LabelTable, LabelVolume, LandmarkSet, ScalarVolume, VectorField,
};
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Fixed image: its grid is where everything is scored.
    #[arg(long)]
    pub fixed: PathBuf,
    /// Displacement field (RAS mm with NIFTI_INTENT_DISPVECT, or an ITK/ANTs LPS field).
    #[arg(long)]
    pub displacement: PathBuf,
    /// Moving image, for NCC/MI/SSIM of the warped image and for voxel-index moving landmarks.
    #[arg(long)]
    pub moving: Option<PathBuf>,
    #[command(flatten)]
    pub scoring: ScoringFiles,
    /// Skip HD95 and ASSD (surface distances are the slowest part).
    #[arg(long)]
    pub no_surface: bool,
    /// Where to write the JSON scores.
    #[arg(long)]
    pub out: PathBuf,
}

/// Label maps and landmarks to score a registration with: fixed labels alone give each
/// structure's motion, both maps the overlap too; landmarks come in pairs.
#[derive(Args, Debug, Clone, Default)]
pub struct ScoringFiles {
    #[arg(long)]
    pub fixed_labels: Option<PathBuf>,
    #[arg(long, requires = "fixed_labels")]
    pub moving_labels: Option<PathBuf>,
    #[arg(long, requires = "moving_landmarks")]
    pub fixed_landmarks: Option<PathBuf>,
    #[arg(long, requires = "fixed_landmarks")]
    pub moving_landmarks: Option<PathBuf>,
    /// Label names (and colours) for the scores: ITK-SNAP label descriptions, FreeSurfer or
    /// Slicer colour tables, or `id name` lines. Without it, label maps named like FreeSurfer's
    /// `aseg` get FreeSurfer's names.
    #[arg(long)]
    pub label_names: Option<PathBuf>,
}

impl ScoringFiles {
    /// Reads the files; fixed labels off the fixed grid are resampled onto it (nearest), and
    /// voxel-index landmarks take the grid of their image.
    pub fn load(&self, fixed: &Grid, moving: Option<&Grid>) -> crate::Result<Scoring> {
        let fixed_labels = match &self.fixed_labels {
            Some(f) => {
                let f = read_labels(f)?;
                Some(if f.grid().same_as(fixed, 1e-3) {
                    f
                } else {
                    resample_labels(&f, fixed)
                })
            }
            None => None,
        };
        let moving_labels = self.moving_labels.as_deref().map(read_labels).transpose()?;
        let landmarks = match (&self.fixed_landmarks, &self.moving_landmarks) {
            (Some(f), Some(m)) => Some((
                LandmarkSet::read(f, Some(fixed))?,
                LandmarkSet::read(m, moving)?,
            )),
            _ => None,
        };
        let label_table = LabelTable::load(
            self.label_names.as_deref(),
            [&self.fixed_labels, &self.moving_labels],
        )?;
        Ok(Scoring {
            fixed_labels: fixed_labels.map(Arc::new),
            moving_labels: moving_labels.map(Arc::new),
            landmarks,
            label_table,
        })
    }
}

pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    let fixed = read_scalar(&args.fixed)?;
    let mut field = read_displacement(&args.displacement)?;
    if !field.grid().same_as(fixed.grid(), 1e-3) {
        log::warn!(
            "{}: not on the fixed grid; resampled onto it",
            args.displacement.display()
        );
        field = resample_field(&field, fixed.grid());
    }
    let moving = args.moving.as_deref().map(read_scalar).transpose()?;
    let scoring = args
        .scoring
        .load(fixed.grid(), moving.as_ref().map(|v| v.grid()))?;
    let report = evaluate(
        &EvalInputs {
            images: moving.as_ref().map(|m| (&fixed, m)),
            ..scoring.inputs(&field)
        },
        SlowMeasures {
            surface: !args.no_surface,
            ndv: true,
        },
    )?;
    let json = serde_json::to_string_pretty(&report)?;
    crate::atomic::write_bytes(&args.out, json.as_bytes())?;
    println!("{}", summary_line(&report));
    Ok(())
}

/// A registration's result as `register` and `infer` score it: the whole map on the fixed grid,
/// the moving image (NaN outside) and labels warped through it, and its affine part.
pub struct Outcome<'a> {
    pub field: &'a VectorField,
    pub warped: &'a ScalarVolume,
    pub warped_labels: Option<&'a LabelVolume>,
    pub affine: &'a Affine,
}

/// Scores `outcome` with `scoring`'s labels and landmarks and the images, and its affine part
/// alone (only its Dice and TRE are of interest).
pub fn score_outcome(
    scoring: &Scoring,
    (fixed, moving): (&ScalarVolume, &ScalarVolume),
    outcome: &Outcome,
    surface: bool,
) -> crate::Result<(EvalReport, EvalReport)> {
    let result = evaluate(
        &EvalInputs {
            warped_labels: outcome.warped_labels,
            images: Some((fixed, moving)),
            warped_image: Some(outcome.warped),
            ..scoring.inputs(outcome.field)
        },
        SlowMeasures { surface, ndv: true },
    )?;
    let affine_field = affine_displacement(outcome.affine, fixed.grid());
    let affine_only = evaluate(&scoring.inputs(&affine_field), SlowMeasures::NONE)?;
    Ok((result, affine_only))
}

/// One line of the main scores, for terminals.
pub fn summary_line(r: &crate::eval::EvalReport) -> String {
    let mut parts = Vec::new();
    if let Some(d) = r.dice_mean {
        parts.push(format!("Dice {d:.4}"));
    }
    if let Some(d) = r.dice30 {
        parts.push(format!("Dice30 {d:.4}"));
    }
    if let Some(h) = r.hd95_mean {
        parts.push(format!("HD95 {h:.2} mm"));
    }
    if let (Some(b), Some(a)) = (r.tre_before_mm, r.tre_mean_mm) {
        parts.push(format!("TRE {b:.2} → {a:.2} mm"));
    }
    parts.push(format!("det J ≤ 0: {:.2e}", r.fold_fraction));
    if let Some(ndv) = r.ndv_fraction {
        parts.push(format!("NDV {ndv:.2e}"));
    }
    parts.push(format!("SDlogJ {:.4}", r.sdlogj));
    if let Some(n) = r.ncc {
        parts.push(format!("NCC {n:.4}"));
    }
    parts.join(" · ")
}
