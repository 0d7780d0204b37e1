//! Classical (instance-optimisation) registration on the GPU: pyramid, affine stage, deformable
//! stage. Each stage is a stepper (one `step()` is one GPU iteration), so the CLI, the worker
//! thread and the tests decide when to report, pause, retune or stop.

pub mod affine;
pub mod config;
pub mod deformable;
pub mod labels;
pub mod outputs;
pub mod pipeline;
pub mod pyramid;
pub mod translation_search;

use crate::gpu::kernels::similarity::Similarity;
use serde::{Deserialize, Serialize};

/// Which part of a registration a step belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The affine stage's exhaustive search over start rotations.
    Search,
    Rigid,
    Affine,
    Deformable,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Search => "search",
            Stage::Rigid => "rigid",
            Stage::Affine => "affine",
            Stage::Deformable => "deformable",
        }
    }
}

/// What one step did.
#[derive(Clone, Debug, PartialEq)]
pub struct StepReport {
    pub stage: Stage,
    pub level: usize,
    pub levels: usize,
    /// Iterations done in this level and stage, this one included.
    pub iteration: u32,
    pub iterations: u32,
    /// `(similarity, regulariser)` when read back on this step.
    pub losses: Option<(f64, f64)>,
    /// The mean soft Dice of the supervised labels, when the stage has label supervision and read
    /// its losses back on this step (the label term of the loss is `weight · (1 − this)`).
    pub label_dice: Option<f64>,
}

/// One pyramid level of a stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelSettings {
    /// How many times coarser than the fixed grid.
    pub shrink: f64,
    pub iterations: u32,
    /// Adam's step size, in mm (for the affine stage: of a point at the image's radius).
    pub learning_rate: f64,
    /// This level's similarity where it differs from the stage's (e.g. a wider local NCC window
    /// on the finest level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity: Option<Similarity>,
}
