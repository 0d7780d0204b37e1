//! The worker thread's loop: owns the GPU state of one run, steps it, applies commands between
//! steps and rate-limits what it reports.

use super::protocol::{Command, Event, Outcome, Scoring, SessionOptions, Slot, Snapshot};
use crate::error::{Error, Result};
use crate::eval::{EvalInputs, EvalReport, evaluate};
use crate::gpu::GpuContext;
use crate::register::StepReport;
use crate::register::config::RegistrationConfig;
use crate::register::pipeline::Registration;
use crate::volume::resample::resample_field;
use crate::volume::{Grid, ScalarVolume, VectorField};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use std::time::{Duration, Instant};

pub(super) struct Worker {
    pub ctx: GpuContext,
    pub config: RegistrationConfig,
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
        let fixed_grid = fixed.grid().clone();
        let mut registration = Registration::new(&self.ctx, fixed, moving, self.config.clone())?;
        self.send(Event::Started {
            config: Box::new(self.config.clone()),
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
        let s = &self.scoring;
        if s.labels.is_none() && s.landmarks.is_none() {
            return Ok(None);
        }
        let field = resample_field(field, fixed);
        evaluate(
            &EvalInputs {
                field: &field,
                labels: s.labels.as_ref().map(|(f, m)| (f, m)),
                warped_labels: None,
                warped_image: None,
                landmarks: s.landmarks.as_ref().map(|(f, m)| (f, m)),
                images: None,
            },
            false,
        )
        .map(Some)
    }
}
