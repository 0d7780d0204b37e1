//! A whole registration as one stepper: the affine stage, then the deformable stage on its result,
//! with the time spent in each. The CLI, the worker thread and the tests all drive this.

use super::affine::AffineRun;
use super::config::RegistrationConfig;
use super::deformable::{DeformableRun, Regulariser, affine_displacement};
use super::labels::LabelPair;
use super::pyramid::{Pyramid, level_grid};
use super::{Stage, StepReport};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::volume::{Affine, LabelVolume, LandmarkSet, ScalarVolume, VectorField};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// What besides the images can steer a registration.
#[derive(Clone, Copy, Debug, Default)]
pub struct Guides<'a> {
    /// Label maps (fixed, moving) for a supervised deformable stage (`deformable.label_weight`).
    pub labels: Option<(&'a LabelVolume, &'a LabelVolume)>,
    /// Landmarks (fixed, moving; paired by name, else by order) for a landmark start of the
    /// affine stage (`affine.initialisation = "landmarks"`).
    pub landmarks: Option<(&'a LandmarkSet, &'a LandmarkSet)>,
}

pub struct Registration {
    ctx: GpuContext,
    pyramid: Arc<Pyramid>,
    labels: Option<Arc<LabelPair>>,
    config: RegistrationConfig,
    affine: Option<AffineRun>,
    deformable: Option<DeformableRun>,
    /// The finished affine stage's result (identity without one).
    affine_result: Option<Affine>,
    seconds: BTreeMap<&'static str, f64>,
}

impl Registration {
    pub fn new(
        ctx: &GpuContext,
        fixed: ScalarVolume,
        moving: ScalarVolume,
        config: RegistrationConfig,
    ) -> Result<Registration> {
        Registration::with_guides(ctx, (fixed, moving), Guides::default(), config)
    }

    /// A registration steered by `guides` where the configuration asks: label maps are copied
    /// and used when `deformable.label_weight` is positive, landmarks when the affine stage
    /// starts from them; either then needs them.
    pub fn with_guides(
        ctx: &GpuContext,
        (fixed, moving): (ScalarVolume, ScalarVolume),
        guides: Guides<'_>,
        config: RegistrationConfig,
    ) -> Result<Registration> {
        config.validate()?;
        let labels = match &config.deformable {
            Some(d) => d.supervising(guides.labels)?,
            None => None,
        };
        let labels = labels
            .map(|(f, m)| LabelPair::new(f.clone(), m.clone(), fixed.grid()).map(Arc::new))
            .transpose()?;
        let pyramid = Pyramid::new(fixed, moving);
        let affine = match &config.affine {
            Some(settings) => Some(AffineRun::new(
                ctx,
                pyramid.clone(),
                settings.clone(),
                guides.landmarks,
            )?),
            None => None,
        };
        Ok(Registration {
            ctx: ctx.clone(),
            affine_result: affine.is_none().then_some(Affine::IDENTITY),
            pyramid,
            labels,
            config,
            affine,
            deformable: None,
            seconds: BTreeMap::new(),
        })
    }

    pub fn config(&self) -> &RegistrationConfig {
        &self.config
    }

    pub fn is_done(&self) -> bool {
        self.affine_result.is_some()
            && match (&self.config.deformable, &self.deformable) {
                (None, _) => true,
                (Some(_), Some(d)) => d.is_done(),
                (Some(_), None) => false,
            }
    }

    /// Total iterations of the configured stages (the search counts as one), for progress bars.
    pub fn total_iterations(&self) -> u64 {
        let affine = self.config.affine.as_ref().map_or(0, |a| {
            1 + a.search_keep.max(1) as u64 * a.rigid_iterations.max(1) as u64
                + a.levels.iter().map(|l| l.iterations as u64).sum::<u64>()
        });
        let deformable = self.config.deformable.as_ref().map_or(0, |d| {
            d.levels.iter().map(|l| l.iterations as u64).sum::<u64>()
        });
        affine + deformable
    }

    /// Changes a deformable regulariser's weight from the stage's next step on (now or when it
    /// starts).
    pub fn set_weight(&mut self, term: Regulariser, weight: f64) {
        if let Some(d) = &mut self.config.deformable {
            *term.weight_mut(d) = weight;
        }
        if let Some(d) = &mut self.deformable {
            d.set_weight(term, weight);
        }
    }

    /// Starts the deformable stage again from the affine stage's result, with diffusion weight
    /// `lambda`: the next point of a smoothness sweep, which shares one affine stage.
    pub fn restart_deformable(&mut self, lambda: f64) -> Result<()> {
        if self.affine_result.is_none() || self.config.deformable.is_none() {
            return Err(Error::Registration(
                "a deformable stage restarts only after the affine stage, in a run that has one"
                    .into(),
            ));
        }
        self.deformable = None;
        self.set_weight(Regulariser::Diffusion, lambda);
        Ok(())
    }

    /// Changes the running stage's learning rate (mm) from its next step on.
    pub fn set_learning_rate(&mut self, rate: f64) {
        if let Some(d) = &mut self.deformable {
            d.set_learning_rate(rate);
        } else if let Some(a) = &mut self.affine {
            a.set_learning_rate(rate);
        }
    }

    /// One iteration of whichever stage runs.
    pub fn step(&mut self) -> Result<StepReport> {
        let start = Instant::now();
        let report = self.step_inner()?;
        let key = match report.stage {
            Stage::Search | Stage::Rigid | Stage::Affine => "affine",
            Stage::Deformable => "deformable",
        };
        let elapsed = start.elapsed().as_secs_f64();
        *self.seconds.entry(key).or_default() += elapsed;
        log::debug!(
            "{:?} level {} iteration {}: {:.1} ms",
            report.stage,
            report.level,
            report.iteration,
            1e3 * elapsed
        );
        if let Some(losses) = report.losses
            && let Some((term, value)) = losses.terms().find(|(_, v)| !v.is_finite())
        {
            return Err(Error::Registration(format!(
                "the {key} stage's {term} loss became {value} (not finite) at level {} iteration {}",
                report.level + 1,
                report.iteration
            )));
        }
        Ok(report)
    }

    fn step_inner(&mut self) -> Result<StepReport> {
        if self.affine_result.is_none() {
            let run = self.affine.as_mut().expect("no result means a stage");
            let report = run.step()?;
            if run.is_done() {
                self.affine_result = Some(run.affine());
            }
            return Ok(report);
        }
        let settings = match &self.config.deformable {
            Some(s) => s.clone(),
            None => return Err(Error::Registration("the registration has finished".into())),
        };
        if self.deformable.is_none() {
            self.deformable = Some(DeformableRun::new(
                &self.ctx,
                (self.pyramid.clone(), self.labels.clone()),
                self.affine(),
                settings,
            )?);
        }
        let run = self.deformable.as_mut().expect("made above");
        if run.is_done() {
            return Err(Error::Registration("the registration has finished".into()));
        }
        run.step()
    }

    /// The affine part as it stands (fixed world → moving world).
    pub fn affine(&self) -> Affine {
        match (&self.affine_result, &self.affine) {
            (Some(a), _) => *a,
            (None, Some(run)) => run.affine(),
            (None, None) => Affine::IDENTITY,
        }
    }

    /// The whole mapping as it stands, as one displacement on the fixed grid (affine included).
    pub fn displacement(&self) -> Result<VectorField> {
        match &self.deformable {
            Some(d) => d.displacement(),
            None => Ok(affine_displacement(
                &self.affine(),
                self.pyramid.fixed().grid(),
            )),
        }
    }

    /// The whole mapping as it stands on the running level's grid, cheaper than
    /// [`Registration::displacement`] (for live views and scores). An affine alone is exact on
    /// any grid, so before the deformable stage it is given on a grid four times coarser.
    pub fn level_displacement(&self) -> Result<VectorField> {
        match &self.deformable {
            Some(d) => d.level_displacement(),
            None => Ok(affine_displacement(
                &self.affine(),
                &level_grid(self.pyramid.fixed().grid(), 4.0)?,
            )),
        }
    }

    /// Wall time spent in each stage's steps so far (`affine`, `deformable`), in seconds.
    pub fn stage_seconds(&self) -> &BTreeMap<&'static str, f64> {
        &self.seconds
    }
}
