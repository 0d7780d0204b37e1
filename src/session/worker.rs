//! The worker thread's loop: owns the GPU state of one run, steps it, applies commands between
//! steps and rate-limits what it reports. A network run goes through its phases instead, with
//! the same events, snapshot and scores, so a front end shows both kinds alike.
//!
//! An iterative run's live snapshots (det J, folded cubes) and live scores are built by a
//! publisher thread beside the worker, which reads the field back and steps on until the next
//! snapshot is due: they take half a second of CPU for a 1 mm brain, when an iteration on a GPU
//! takes milliseconds, so building them on the worker left the GPU idle most of the time a live
//! run spent at full resolution.

use super::protocol::{
    Command, Event, Method, NetworkJob, Outcome, SessionOptions, Slot, Snapshot, SweepPoint,
};
use crate::error::{Error, Result};
use crate::eval::{EvalReport, Scoring, SlowMeasures, evaluate};
use crate::gpu::GpuContext;
use crate::learn::infer::TrainedModel;
use crate::register::StepReport;
use crate::register::config::RegistrationConfig;
use crate::register::deformable::Regulariser;
use crate::register::pipeline::{Guides, Registration};
use crate::volume::resample::resample_field;
use crate::volume::{Grid, ScalarVolume, VectorField};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(super) struct Worker {
    pub ctx: GpuContext,
    pub method: Method,
    pub scoring: Scoring,
    pub options: SessionOptions,
    pub commands: Receiver<Command>,
    pub events: Sender<Event>,
    pub snapshots: Slot<Snapshot>,
    pub wake: Arc<dyn Fn() + Send + Sync>,
}

/// What a run reports through, shared by the worker and its publisher.
#[derive(Clone, Copy)]
struct Outlet<'a> {
    events: &'a Sender<Event>,
    snapshots: &'a Slot<Snapshot>,
    wake: &'a (dyn Fn() + Send + Sync),
    scoring: &'a Scoring,
}

impl Outlet<'_> {
    fn send(&self, event: Event) {
        // End and state events wait for room; a closed channel means nobody listens any more.
        let _ = self.events.send(event);
        (self.wake)();
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

/// A live field for the publisher: its snapshot, and its scores when `score`.
struct LiveField {
    generation: u64,
    report: Option<StepReport>,
    affine: crate::volume::Affine,
    field: VectorField,
    score: bool,
}

/// The publisher thread: builds and publishes the live fields it is given, one at a time, in
/// order, and says when each is out.
struct Publisher {
    fields: Sender<LiveField>,
    published: Receiver<()>,
    /// Whether the field offered last is not out yet.
    pending: Cell<bool>,
}

impl Publisher {
    /// Starts the publisher in `scope`; it ends when the `Publisher` is dropped.
    fn start<'scope, 'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        outlet: Outlet<'env>,
        fixed: &'env Grid,
    ) -> Result<Publisher> {
        let (fields, received) = crossbeam_channel::bounded::<LiveField>(1);
        let (done, published) = crossbeam_channel::bounded(1);
        std::thread::Builder::new()
            .name("snapshots".into())
            .spawn_scoped(scope, move || {
                crate::parallel::lower_priority();
                for live in received {
                    let scores = match live.score.then(|| outlet.score(&live.field, fixed)) {
                        Some(Ok(scores)) => scores,
                        Some(Err(e)) => {
                            // The final scoring, on the worker, fails the run if this persists.
                            log::warn!("cannot score the live field: {e}");
                            None
                        }
                        None => None,
                    };
                    let snapshot =
                        Snapshot::new(live.generation, live.report, live.affine, live.field);
                    outlet.publish(snapshot, scores);
                    let _ = done.send(());
                }
            })
            .map_err(|e| Error::Registration(format!("cannot start the snapshot thread: {e}")))?;
        Ok(Publisher {
            fields,
            published,
            pending: Cell::new(false),
        })
    }

    /// Waits until the field offered last is out.
    fn wait(&self) {
        if self.pending.take() {
            let _ = self.published.recv();
        }
    }

    fn offer(&self, field: LiveField) {
        self.pending.set(self.fields.send(field).is_ok());
    }
}

/// Where an iterative run stands between steps: its clock and when it last reported.
struct Live {
    started: Instant,
    /// Time spent paused, left out of the run's time.
    paused_for: Duration,
    last_progress: Option<Instant>,
    last_snapshot: Instant,
    last_metrics: Instant,
    generation: u64,
    last_report: Option<StepReport>,
}

impl Default for Live {
    fn default() -> Live {
        let now = Instant::now();
        Live {
            started: now,
            paused_for: Duration::ZERO,
            last_progress: None,
            last_snapshot: now,
            last_metrics: now,
            generation: 0,
            last_report: None,
        }
    }
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

    fn outlet(&self) -> Outlet<'_> {
        Outlet {
            events: &self.events,
            snapshots: &self.snapshots,
            wake: self.wake.as_ref(),
            scoring: &self.scoring,
        }
    }

    fn send(&self, event: Event) {
        self.outlet().send(event);
    }

    fn send_progress(&self, event: Event) {
        match self.events.try_send(event) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => (self.wake)(),
            Err(TrySendError::Full(_)) => {}
        }
    }

    fn run_inner(&self, fixed: ScalarVolume, moving: ScalarVolume) -> Result<Outcome> {
        match &self.method {
            Method::Iterative(config) => self.register(config, &[], fixed, moving),
            Method::Sweep(sweep) => self.register(&sweep.config, &sweep.diffusion, fixed, moving),
            Method::Network(job) => self.infer(job, fixed, moving),
        }
    }

    /// Registers; with `sweep` weights, runs the deformable stage once per weight from one affine
    /// stage and scores each result ([`Method::Sweep`]).
    fn register(
        &self,
        config: &RegistrationConfig,
        sweep: &[f64],
        fixed: ScalarVolume,
        moving: ScalarVolume,
    ) -> Result<Outcome> {
        let fixed_grid = fixed.grid().clone();
        let scoring = &self.scoring;
        let guides = Guides {
            labels: scoring
                .fixed_labels
                .as_deref()
                .zip(scoring.moving_labels.as_deref()),
            landmarks: scoring.landmarks.as_ref().map(|(f, m)| (f, m)),
        };
        let mut registration =
            Registration::with_guides(&self.ctx, (fixed, moving), guides, config.clone())?;
        if let Some(&first) = sweep.first() {
            registration.set_weight(Regulariser::Diffusion, first);
        }
        self.send(Event::Started {
            method: self.method.clone(),
        });
        let mut live = Live::default();
        let last_point = std::thread::scope(|scope| {
            let publisher = Publisher::start(scope, self.outlet(), &fixed_grid)?;
            self.step_until_done(&mut registration, &mut live, &publisher)?;
            self.sweep_points(&mut registration, &mut live, &publisher, sweep)
            // The publisher ends with the scope, before the final snapshot below: none of its
            // older ones can replace that one in the slot.
        })?;
        let seconds = (live.started.elapsed() - live.paused_for).as_secs_f64();
        let (displacement, scores) = match last_point {
            Some((field, report)) => (field, (!self.scoring.is_empty()).then_some(report)),
            None => {
                let field = registration.displacement()?;
                let scores = self.score(&field, &fixed_grid)?;
                (field, scores)
            }
        };
        self.publish(
            Snapshot::new(
                live.generation + 1,
                live.last_report,
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

    /// Runs the deformable stage once per further weight of `sweep` (the first has run) and scores
    /// each result; the last point's field and scores, which are the run's.
    fn sweep_points(
        &self,
        registration: &mut Registration,
        live: &mut Live,
        publisher: &Publisher,
        sweep: &[f64],
    ) -> Result<Option<(VectorField, EvalReport)>> {
        let deformable_seconds =
            |r: &Registration| r.stage_seconds().get("deformable").copied().unwrap_or(0.0);
        let mut spent_before = 0.0;
        let mut last_point = None;
        for (index, &diffusion) in sweep.iter().enumerate() {
            if index > 0 {
                registration.restart_deformable(diffusion)?;
                self.step_until_done(registration, live, publisher)?;
            }
            let field = registration.displacement()?;
            let slow = SlowMeasures {
                surface: false,
                ndv: true,
            };
            let report = evaluate(&self.scoring.inputs(&field), slow)?;
            self.send(Event::SweepPoint(Box::new(SweepPoint {
                index,
                diffusion,
                similarity: live
                    .last_report
                    .as_ref()
                    .and_then(|r| r.losses)
                    .map(|l| l.similarity),
                report: report.clone(),
                seconds: deformable_seconds(registration) - spent_before,
            })));
            spent_before = deformable_seconds(registration);
            last_point = Some((field, report));
        }
        Ok(last_point)
    }

    /// Steps `registration` until its stages are done, applying commands between steps and
    /// reporting progress, snapshots and scores no more often than the options allow.
    fn step_until_done(
        &self,
        registration: &mut Registration,
        live: &mut Live,
        publisher: &Publisher,
    ) -> Result<()> {
        while !registration.is_done() {
            if let Flow::Cancel =
                self.apply_commands(registration, &mut live.paused_for, publisher)?
            {
                return Err(Error::Cancelled);
            }
            let report = registration.step()?;
            let boundary = report.iteration >= report.iterations;
            let due = live
                .last_progress
                .is_none_or(|t| t.elapsed() >= self.options.progress_interval);
            if due || boundary || report.losses.is_some() {
                live.last_progress = Some(Instant::now());
                self.send_progress(Event::Progress {
                    report: report.clone(),
                    elapsed_s: (live.started.elapsed() - live.paused_for).as_secs_f64(),
                });
            }
            live.last_report = Some(report);
            if live.last_snapshot.elapsed() >= self.options.snapshot_interval {
                // A snapshot still being built is waited for: the views fall no further behind
                // than that, and where the rasteriser is the CPU (lavapipe) the publisher only
                // gets the cores while the worker waits.
                publisher.wait();
                live.last_snapshot = Instant::now();
                live.generation += 1;
                let score = live.last_metrics.elapsed() >= self.options.metrics_interval;
                if score {
                    live.last_metrics = Instant::now();
                }
                publisher.offer(LiveField {
                    generation: live.generation,
                    report: live.last_report.clone(),
                    affine: registration.affine(),
                    field: registration.level_displacement()?,
                    score,
                });
            }
        }
        Ok(())
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
        publisher: &Publisher,
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
                        // A snapshot still being built goes out first: once the window hears
                        // "paused", its views stay still.
                        publisher.wait();
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
                Command::SetWeight(..) if matches!(self.method, Method::Sweep(_)) => {
                    log::warn!(
                        "a sweep compares diffusion weights with the others held; the change is ignored"
                    );
                }
                Command::SetWeight(term, weight) => {
                    if !(weight >= 0.0 && weight.is_finite()) {
                        return Err(Error::Config(format!(
                            "{} weight {weight} is not ≥ 0",
                            term.name()
                        )));
                    }
                    registration.set_weight(term, weight);
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

    fn publish(&self, snapshot: Snapshot, scores: Option<EvalReport>) {
        self.outlet().publish(snapshot, scores);
    }

    fn score(&self, field: &VectorField, fixed: &Grid) -> Result<Option<EvalReport>> {
        self.outlet().score(field, fixed)
    }
}
