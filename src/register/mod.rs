//! Classical (instance-optimisation) registration on the GPU: pyramid, affine stage, deformable
//! stage. Each stage is a stepper (one `step()` is one GPU iteration), so the CLI, the worker
//! thread and the tests decide when to report, pause, retune or stop.

pub mod affine;
pub mod config;
pub mod deformable;
pub mod labels;
pub mod landmark_fit;
pub mod outputs;
pub mod pipeline;
pub mod preset_choice;
pub mod pyramid;
pub mod translation_search;

use crate::gpu::kernels::similarity::Similarity;
use deformable::Regulariser;
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
    /// The loss terms, when read back on this step.
    pub losses: Option<Losses>,
    /// The mean soft Dice of the supervised labels, when the stage has label supervision and read
    /// its losses back on this step (the label term of the loss is `weight · (1 − this)`).
    pub label_dice: Option<f64>,
}

/// One step's loss terms, each with its weight applied, so that their sum (and the label term,
/// `weight · (1 − label Dice)`) is what the stage minimises. A regulariser that is off (weight 0,
/// or none in this stage) is `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Losses {
    pub similarity: f64,
    /// λ · the mean squared displacement gradient.
    pub diffusion: Option<f64>,
    /// The bending weight · the mean squared Laplacian.
    pub bending: Option<f64>,
    /// The folding weight · the folded cubes' share over the voxel count.
    pub folding: Option<f64>,
}

impl Losses {
    /// A stage that only has a similarity (the affine stages).
    pub fn similarity_only(similarity: f64) -> Losses {
        Losses {
            similarity,
            ..Losses::default()
        }
    }

    /// A regulariser's term, `None` when it is off.
    pub fn regulariser_term(&self, term: Regulariser) -> Option<f64> {
        match term {
            Regulariser::Diffusion => self.diffusion,
            Regulariser::Bending => self.bending,
            Regulariser::Folding => self.folding,
        }
    }

    /// The regularisers' sum.
    pub fn regulariser(&self) -> f64 {
        Regulariser::ALL
            .into_iter()
            .filter_map(|term| self.regulariser_term(term))
            .sum()
    }

    /// Each term by name, the similarity first, the ones that are off left out.
    pub fn terms(&self) -> impl Iterator<Item = (&'static str, f64)> + '_ {
        let regularisers = Regulariser::ALL
            .into_iter()
            .filter_map(|term| Some((term.name(), self.regulariser_term(term)?)));
        std::iter::once(("similarity", self.similarity)).chain(regularisers)
    }
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
