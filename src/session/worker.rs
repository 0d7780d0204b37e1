//! The worker thread's loop: owns the GPU state of one run, steps it, applies commands between
//! steps and rate-limits what it reports. A network run goes through its phases instead, with
//! the same events, snapshot and scores, so a front end shows both kinds alike.

use super::protocol::{
    Command, Event, Method, NetworkJob, Outcome, SessionOptions, Slot, Snapshot,
};
use crate::error::{Error, Result};
use crate::eval::{EvalReport, Scoring, SlowMeasures, evaluate};
use crate::gpu::GpuContext;
use crate::learn::infer::TrainedModel;
use crate::register::StepReport;
use crate::register::config::RegistrationConfig;
use crate::register::pipeline::Registration;
use crate::volume::resample::resample_field;
use crate::volume::{Grid, ScalarVolume, VectorField};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub(super) struct Worker {
    pub ctx: GpuContext,
    pub method: Method,
    pub scoring: Scoring,
    pub options: SessionOptions,
    pub commands: Receiver<Command>,
    pub events: Sender<Event>,
    pub snapshots: Slot<Snapshot>,
    pub wake: Box<dyn Fn() + Send>,
}

/// What the command loop decided.
enum Flow {
    Continue,
    Cancel,
}

impl Worker {
    pub fn run(self, fixed: ScalarVolume, moving: ScalarVolume) -> Result<Outcome> {
        let result = self.run_inner(fixed, moving);
        match &result {
            Ok(_) => {}
            Err(Error::Cancelled) => self.send(Event::Cancelled),
            Err(e) => self.send(Event::Failed(e.to_string())),
        }
        result
    }

    fn send(&self, event: Event) {
        // End and state events wait for room; a closed channel means nobody listens any more.
        let _ = self.events.send(event);
        (self.wake)();
    }

    fn send_progress(&self, event: Event) {
        match self.events.try_send(event) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => (self.wake)(),
            Err(TrySendError::Full(_)) => {}
        }
    }

    fn run_inner(&self, fixed: ScalarVolume, moving: ScalarVolume) -> Result<Outcome> {
        match &self.method {
            Method::Iterative(config) => self.register(config, fixed, moving),
            Method::Network(job) => self.infer(job, fixed, moving),
        }
    }

    fn register(
        &self,
        config: &RegistrationConfig,
        fixed: ScalarVolume,
        moving: ScalarVolume,
    ) -> Result<Outcome> {
        let fixed_grid = fixed.grid().clone();
        let mut registration = Registration::new(&self.ctx, fixed, moving, config.clone())?;
        self.send(Event::Started {
            method: self.method.clone(),
        });
        let started = Instant::now();
        let mut paused_for = Duration::ZERO;
        let mut last_progress: Option<Instant> = None;
        let mut last_snapshot = Instant::now();
        let mut last_metrics = Instant::now();
        let mut generation = 0u64;
        let mut last_report: Option<StepReport> = None;
        while !registration.is_done() {
            if let Flow::Cancel = self.apply_commands(&mut registration, &mut paused_for)? {
                return Err(Error::Cancelled);
            }
            let report = registration.step()?;
            let boundary = report.iteration >= report.iterations;
            let due = last_progress.is_none_or(|t| t.elapsed() >= self.options.progress_interval);
            if due || boundary || report.losses.is_some() {
                last_progress = Some(Instant::now());
                self.send_progress(Event::Progress {
                    report: report.clone(),
                    elapsed_s: (started.elapsed() - paused_for).as_secs_f64(),
                });
            }
            last_report = Some(report);
            if last_snapshot.elapsed() >= self.options.snapshot_interval {
                last_snapshot = Instant::now();
                generation += 1;
                let field = registration.level_displacement()?;
                let scores = if last_metrics.elapsed() >= self.options.metrics_interval {
                    last_metrics = Instant::now();
                    self.score(&field, &fixed_grid)?
                } else {
                    None
                };
                self.publish(
                    Snapshot::new(
                        generation,
                        last_report.clone(),
                        registration.affine(),
                        field,
                    ),
                    scores,
                );
            }
        }
        let seconds = (started.elapsed() - paused_for).as_secs_f64();
        let displacement = registration.displacement()?;
        let scores = self.score(&displacement, &fixed_grid)?;
        self.publish(
            Snapshot::new(
                generation + 1,
                last_report,
                registration.affine(),
                displacement.clone(),
            ),
            scores,
        );
        self.send(Event::Finished {
            seconds,
            stage_seconds: registration.stage_seconds().clone(),
        });
        Ok(Outcome {
            affine: registration.affine(),
            displacement,
            seconds,
        })
    }

    /// Registers with a trained network: one snapshot, the final one, scored.
    fn infer(
        &self,
        job: &NetworkJob,
        fixed: ScalarVolume,
        moving: ScalarVolume,
    ) -> Result<Outcome> {
        let started = Instant::now();
        self.enter("loading the model")?;
        let mut model = TrainedModel::load(&self.ctx, &job.model)?;
        if let Some(steps) = job.refinement_steps {
            model.set_refinement_steps(steps);
        }
        self.send(Event::Started {
            method: self.method.clone(),
        });
        let aligning = Instant::now();
        self.enter("aligning the fixed volume to the model's atlas")?;
        let fixed_grid = fixed.grid().clone();
        let fixed = model.subject(&self.ctx, "fixed", fixed, None)?;
        self.enter("aligning the moving volume to the model's atlas")?;
        let moving = model.subject(&self.ctx, "moving", moving, None)?;
        let mut stage_seconds = BTreeMap::from([("alignment", aligning.elapsed().as_secs_f64())]);
        let running = Instant::now();
        self.enter(if model.config().refinement.steps > 0 {
            "running the network, then refining its map"
        } else {
            "running the network"
        })?;
        let inference = model.infer(&fixed, &moving)?;
        stage_seconds.insert("network", running.elapsed().as_secs_f64());
        let seconds = started.elapsed().as_secs_f64();
        self.enter("scoring")?;
        let scores = self.score(&inference.field, &fixed_grid)?;
        self.publish(
            Snapshot::new(1, None, inference.affine, inference.field.clone()),
            scores,
        );
        self.send(Event::Finished {
            seconds,
            stage_seconds,
        });
        Ok(Outcome {
            affine: inference.affine,
            displacement: inference.field,
            seconds,
        })
    }

    /// Starts a network run's next phase, unless it was cancelled; it has no iterations to pause
    /// or retune between, so it lets those commands go.
    fn enter(&self, phase: &'static str) -> Result<()> {
        loop {
            match self.commands.try_recv() {
                Ok(Command::Cancel) | Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    return Err(Error::Cancelled);
                }
                Ok(_) => {}
                Err(crossbeam_channel::TryRecvError::Empty) => break,
            }
        }
        self.send(Event::Phase(phase));
        Ok(())
    }

    /// Applies waiting commands; while paused, waits for the next one.
    fn apply_commands(
        &self,
        registration: &mut Registration,
        paused_for: &mut Duration,
    ) -> Result<Flow> {
        let mut paused: Option<Instant> = None;
        loop {
            let command = match paused {
                None => match self.commands.try_recv() {
                    Ok(c) => c,
                    Err(crossbeam_channel::TryRecvError::Empty) => return Ok(Flow::Continue),
                    Err(crossbeam_channel::TryRecvError::Disconnected) => return Ok(Flow::Cancel),
                },
                Some(_) => match self.commands.recv_timeout(Duration::from_secs(1)) {
                    Ok(c) => c,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return Ok(Flow::Cancel),
                },
            };
            match command {
                Command::Cancel => return Ok(Flow::Cancel),
                Command::Pause => {
                    if paused.is_none() {
                        paused = Some(Instant::now());
                        self.send(Event::Paused);
                    }
                }
                Command::Resume => {
                    if let Some(since) = paused.take() {
                        *paused_for += since.elapsed();
                        self.send(Event::Resumed);
                        return Ok(Flow::Continue);
                    }
                }
                Command::SetDiffusion(lambda) => {
                    if !(lambda >= 0.0 && lambda.is_finite()) {
                        return Err(Error::Config(format!(
                            "diffusion weight {lambda} is not ≥ 0"
                        )));
                    }
                    registration.set_diffusion(lambda);
                    self.send(Event::Retuned(command));
                }
                Command::SetLearningRate(rate) => {
                    if !(rate > 0.0 && rate.is_finite()) {
                        return Err(Error::Config(format!("learning rate {rate} is not > 0")));
                    }
                    registration.set_learning_rate(rate);
                    self.send(Event::Retuned(command));
                }
            }
        }
    }

    /// Puts `snapshot` in the slot and announces it, then its scores.
    fn publish(&self, snapshot: Snapshot, scores: Option<EvalReport>) {
        let generation = snapshot.generation;
        self.snapshots.put(snapshot);
        self.send(Event::SnapshotReady { generation });
        if let Some(report) = scores {
            self.send(Event::Metrics {
                generation,
                report: Box::new(report),
            });
        }
    }

    /// Scores `field` (on any grid; resampled onto the fixed one) when there is anything to score
    /// against.
    fn score(&self, field: &VectorField, fixed: &Grid) -> Result<Option<EvalReport>> {
        if self.scoring.is_empty() {
            return Ok(None);
        }
        let field = resample_field(field, fixed);
        evaluate(&self.scoring.inputs(&field), SlowMeasures::NONE).map(Some)
    }
}
