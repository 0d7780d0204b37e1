//! The scores a training run ends with (`metrics.json`): the held-out pair registered by the
//! network, scored at the fixed volume's full resolution by the engine's evaluation, against its
//! affine alignment alone.

use super::data::native_displacement;
use super::train::Trainer;
use crate::error::{Error, Result};
use crate::eval::{EvalInputs, EvalReport, SlowMeasures, evaluate};
use crate::volume::VectorField;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;

#[derive(Clone, Debug, Serialize)]
pub struct TrainMetrics {
    /// Mean Dice of the validation pair after the affine alignment alone.
    pub val_dice_affine: f64,
    /// Mean Dice of the validation pair registered by the network.
    pub val_dice: f64,
    pub val_dice_per_label: BTreeMap<String, f64>,
    /// Share of the network's map (on the fixed grid) with det J ≤ 0, and SDlogJ.
    pub fold_fraction: f64,
    pub sdlogj: f64,
    /// Training wall time per iteration (augmentation, forward, backward, step), seconds.
    pub seconds_per_iter: f64,
    pub iterations: u32,
    pub train_seconds: f64,
    /// Validation loss at the first and the last validation.
    pub val_loss_first: Option<f64>,
    pub val_loss_last: Option<f64>,
    /// The network's forward pass on the validation pair, seconds (alignment excluded).
    pub inference_seconds: f64,
    /// The network's map refined on the validation pair (config `refinement`), when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refined: Option<RefinedMetrics>,
}

/// The validation pair after instance optimisation of the network's map.
#[derive(Clone, Debug, Serialize)]
pub struct RefinedMetrics {
    pub val_dice: f64,
    pub fold_fraction: f64,
    pub sdlogj: f64,
    /// Network and refinement, seconds.
    pub seconds: f64,
}

pub fn score_run(trainer: &Trainer) -> Result<TrainMetrics> {
    let data = trainer.dataset();
    let (f, m) = data.validation;
    let (fixed, moving) = (&data.subjects[f], &data.subjects[m]);
    let (Some(fixed_labels), Some(moving_labels)) = (&fixed.labels, &moving.labels) else {
        return Err(Error::Config(format!(
            "the validation pair ({}, {}) needs labels on both volumes to be scored",
            fixed.name, moving.name
        )));
    };
    let started = Instant::now();
    let field_g = trainer.predict(f, m, false)?;
    let inference_seconds = started.elapsed().as_secs_f64();
    let score = |field_g: &VectorField| -> Result<EvalReport> {
        let field = native_displacement(fixed, moving, field_g)?;
        evaluate(
            &EvalInputs {
                field: &field,
                fixed_labels: Some(fixed_labels),
                moving_labels: Some(moving_labels),
                warped_labels: None,
                landmarks: None,
                images: None,
                warped_image: None,
                label_table: None,
            },
            SlowMeasures {
                surface: false,
                ndv: true,
            },
        )
    };
    let network = score(&field_g)?;
    let refined = if trainer.config().refinement.steps > 0 {
        let started = Instant::now();
        let field_g = trainer.predict(f, m, true)?;
        let seconds = started.elapsed().as_secs_f64();
        let report = score(&field_g)?;
        Some(RefinedMetrics {
            val_dice: report.dice_mean.unwrap_or(f64::NAN),
            fold_fraction: report.fold_fraction,
            sdlogj: report.sdlogj,
            seconds,
        })
    } else {
        None
    };
    let affine = score(&VectorField::zeros(data.grid.clone()))?;
    let history = trainer.history();
    let iterations = trainer.iteration();
    Ok(TrainMetrics {
        val_dice_affine: affine.dice_mean.unwrap_or(f64::NAN),
        val_dice: network.dice_mean.unwrap_or(f64::NAN),
        val_dice_per_label: network.dice.clone(),
        fold_fraction: network.fold_fraction,
        sdlogj: network.sdlogj,
        seconds_per_iter: trainer.seconds() / f64::from(iterations.max(1)),
        iterations,
        train_seconds: trainer.seconds(),
        val_loss_first: history.validations.first().map(|v| v.loss),
        val_loss_last: history.validations.last().map(|v| v.loss),
        inference_seconds,
        refined,
    })
}
