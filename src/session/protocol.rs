//! The messages between a front end and a registration worker, and the latest-value slot.

use crate::error::{Error, Result};
use crate::eval::EvalReport;
use crate::eval::jacobian::{JacobianStats, jacobian_determinant, jacobian_stats};
use crate::eval::non_diffeomorphic::{NonDiffeomorphicVolume, folded_cubes};
use crate::register::StepReport;
use crate::register::config::RegistrationConfig;
use crate::register::deformable::Regulariser;
use crate::volume::{Affine, ScalarVolume, VectorField};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Front end → worker; applied between iterations (a network run applies only `Cancel`, between
/// its phases).
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Pause,
    Resume,
    /// Stops within one iteration; the run ends with [`Event::Cancelled`].
    Cancel,
    /// A deformable regulariser's weight, from the next iteration on (not in a sweep, which
    /// compares diffusion weights with the others held).
    SetWeight(Regulariser, f64),
    /// The running stage's learning rate (mm), from the next iteration on.
    SetLearningRate(f64),
}

/// What a run does: the engine's iterative registration, a smoothness sweep of it, or a trained
/// network's inference.
#[derive(Clone, Debug, PartialEq)]
pub enum Method {
    Iterative(Box<RegistrationConfig>),
    Sweep(Box<Sweep>),
    Network(NetworkJob),
}

/// The regularisation-vs-accuracy trade-off of one pair: the affine stage once, then the
/// deformable stage from it once per diffusion weight, each result scored (folding, NDV and
/// whatever labels and landmarks the run has).
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    pub config: RegistrationConfig,
    /// The diffusion weights λ, in the order they run.
    pub diffusion: Vec<f64>,
}

impl Sweep {
    /// Weights from a tenth to ten times `lambda`, about three apart, to two significant digits:
    /// a trade-off shows over a decade or two. Around 0.1 when `lambda` is 0.
    pub fn weights_around(lambda: f64) -> Vec<f64> {
        let centre = if lambda > 0.0 { lambda } else { 0.1 };
        [0.1, 0.3, 1.0, 3.0, 10.0]
            .iter()
            .map(|f| {
                // Through its decimal text, so that 0.1 · 0.05 reads 0.005.
                format!("{:.1e}", f * centre)
                    .parse()
                    .expect("a formatted number parses")
            })
            .collect()
    }

    pub fn validate(&self) -> Result<()> {
        self.config.validate()?;
        if self.config.deformable.is_none() {
            return Err(Error::Config(
                "a smoothness sweep needs a deformable stage".into(),
            ));
        }
        if self.diffusion.is_empty() {
            return Err(Error::Config(
                "a smoothness sweep needs at least one λ".into(),
            ));
        }
        match self
            .diffusion
            .iter()
            .find(|l| !(l.is_finite() && **l >= 0.0))
        {
            Some(l) => Err(Error::Config(format!("diffusion weight {l} is not ≥ 0"))),
            None => Ok(()),
        }
    }
}

/// One finished point of a [`Sweep`].
#[derive(Clone, Debug)]
pub struct SweepPoint {
    /// Its place in the sweep, from 0.
    pub index: usize,
    pub diffusion: f64,
    /// The finest level's last similarity loss (lower is better).
    pub similarity: Option<f64>,
    /// Its scores, the non-diffeomorphic volume included and the surface distances left out.
    pub report: EvalReport,
    /// Wall time of its deformable stage.
    pub seconds: f64,
}

/// A pair registered by a trained network (`warpbench infer`'s work): both volumes aligned to the
/// model's atlas, the network, and its refinement.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkJob {
    /// A model folder written by a training run.
    pub model: PathBuf,
    /// Instance-optimisation steps after the network; the model's config when `None`.
    pub refinement_steps: Option<u32>,
}

/// Worker → front end. Exactly one of `Finished`, `Cancelled` and `Failed` ends a run.
#[derive(Clone, Debug)]
pub enum Event {
    Started {
        method: Method,
    },
    /// A network run entered a phase of its work (iterative runs report [`Event::Progress`]).
    Phase(&'static str),
    /// An iteration, at most one per `SessionOptions::progress_interval` (and every iteration
    /// that read its losses back, and each level's last).
    Progress {
        report: StepReport,
        elapsed_s: f64,
    },
    /// A new [`Snapshot`] is in the slot.
    SnapshotReady {
        generation: u64,
    },
    /// Scores of the current snapshot, when labels or landmarks were given.
    Metrics {
        generation: u64,
        report: Box<EvalReport>,
    },
    Paused,
    Resumed,
    /// A parameter change took effect (echoes the command).
    Retuned(Command),
    /// A point of a sweep was registered and scored; the run goes on with the next.
    SweepPoint(Box<SweepPoint>),
    Finished {
        seconds: f64,
        stage_seconds: BTreeMap<&'static str, f64>,
    },
    Cancelled,
    Failed(String),
}

/// The state of a run at one moment: the affine and the whole displacement (affine included) on
/// the running level's grid, which is coarser than the fixed grid during coarse levels, with its
/// Jacobian determinant (computed beside the worker, so a viewer never stalls on it).
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub generation: u64,
    pub report: Option<StepReport>,
    pub affine: Affine,
    pub displacement: VectorField,
    pub jacobian: ScalarVolume,
    pub jacobian_stats: JacobianStats,
    /// Where the tetrahedra between voxel centres fold ([`folded_cubes`]): folds det J misses.
    pub folded_cubes: ScalarVolume,
    pub ndv: NonDiffeomorphicVolume,
}

impl Snapshot {
    pub fn new(
        generation: u64,
        report: Option<StepReport>,
        affine: Affine,
        displacement: VectorField,
    ) -> Snapshot {
        let jacobian = jacobian_determinant(&displacement);
        let jacobian_stats = jacobian_stats(&jacobian);
        let (folded_cubes, ndv) = folded_cubes(&displacement);
        Snapshot {
            generation,
            report,
            affine,
            displacement,
            jacobian,
            jacobian_stats,
            folded_cubes,
            ndv,
        }
    }
}

#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// Least time between two progress events.
    pub progress_interval: Duration,
    /// Least time between two snapshots (each reads the field back from the GPU).
    pub snapshot_interval: Duration,
    /// Least time between two live scorings (each warps the labels at full resolution).
    pub metrics_interval: Duration,
    /// Bound of the event channel; progress events are dropped when it is full, others wait.
    pub event_capacity: usize,
}

impl Default for SessionOptions {
    fn default() -> SessionOptions {
        SessionOptions {
            progress_interval: Duration::from_millis(33),
            snapshot_interval: Duration::from_millis(400),
            metrics_interval: Duration::from_secs(2),
            event_capacity: 256,
        }
    }
}

/// What a finished run leaves: the affine and the displacement on the fixed grid.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub affine: Affine,
    pub displacement: VectorField,
    pub seconds: f64,
}

/// The newest value only: a writer replaces what a slow reader has not taken yet.
pub struct Slot<T>(Arc<Mutex<Option<T>>>);

impl<T> Clone for Slot<T> {
    fn clone(&self) -> Self {
        Slot(self.0.clone())
    }
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot(Arc::new(Mutex::new(None)))
    }
}

impl<T> Slot<T> {
    pub fn put(&self, value: T) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
    }

    pub fn take(&self) -> Option<T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}
