//! A network training run on a worker thread: the dataset is prepared, then the trainer advances
//! until its last iteration or a stop; pause, resume and stop apply between iterations. A stop (or
//! a dropped handle) saves a checkpoint first, so a run is never lost and can be resumed.

use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::learn::config::TrainConfig;
use crate::learn::data::Dataset;
use crate::learn::score::TrainMetrics;
use crate::learn::train::{History, IterationRecord, Trainer, Validation};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Front end → training worker; applied between iterations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrainingCommand {
    Pause,
    Resume,
    /// Saves a checkpoint and ends the run with [`TrainingEvent::Stopped`].
    Stop,
}

/// Training worker → front end. Exactly one of `Finished`, `Stopped` and `Failed` ends a run.
#[derive(Clone, Debug)]
pub enum TrainingEvent {
    /// A step of preparing the data (reading, aligning each volume to the atlas).
    Preparing(String),
    /// The data is ready. A resumed run starts at `history`'s last iteration.
    Started {
        iterations: u32,
        summary: String,
        history: Box<History>,
    },
    Iteration(IterationRecord),
    Validation(Validation),
    Checkpoint {
        iteration: u32,
    },
    Paused,
    Resumed,
    /// The last iteration ran; the checkpoint and `metrics.json` are written.
    Finished(Box<TrainMetrics>),
    /// Stopped on request at `iteration`, its checkpoint saved.
    Stopped {
        iteration: u32,
    },
    Failed(String),
}

/// What to train: a new run of `config` into the empty folder `out`, or the run saved in `out`
/// continued (then `config` is the run's own, see `learn::model::run_config`).
#[derive(Clone, Debug)]
pub struct TrainingJob {
    pub config: TrainConfig,
    pub out: PathBuf,
    pub resume: bool,
}

pub struct TrainingHandle {
    commands: Sender<TrainingCommand>,
    events: Receiver<TrainingEvent>,
    thread: Option<JoinHandle<()>>,
}

/// Starts `job` on its own thread; `wake` is called after each event.
pub fn start_training(
    ctx: &GpuContext,
    job: TrainingJob,
    wake: impl Fn() + Send + 'static,
) -> Result<TrainingHandle> {
    job.config.validate()?;
    let (command_tx, command_rx) = crossbeam_channel::unbounded();
    let (event_tx, event_rx) = crossbeam_channel::unbounded();
    let worker = TrainingWorker {
        ctx: ctx.clone(),
        job,
        commands: command_rx,
        events: event_tx,
        wake: Box::new(wake),
    };
    let thread = std::thread::Builder::new()
        .name("training".into())
        .spawn(move || {
            crate::parallel::lower_priority();
            worker.run()
        })
        .map_err(|e| Error::Registration(format!("cannot start the training thread: {e}")))?;
    Ok(TrainingHandle {
        commands: command_tx,
        events: event_rx,
        thread: Some(thread),
    })
}

impl TrainingHandle {
    /// Sends a command; a run that has ended ignores it.
    pub fn send(&self, command: TrainingCommand) {
        let _ = self.commands.send(command);
    }

    /// The events that arrived, without waiting.
    pub fn drain(&self) -> Vec<TrainingEvent> {
        self.events.try_iter().collect()
    }

    /// The event channel, for front ends that wait on it (tests).
    pub fn events(&self) -> &Receiver<TrainingEvent> {
        &self.events
    }

    /// Waits for the worker to end.
    pub fn join(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TrainingHandle {
    /// Dropping the handle stops the run (its checkpoint is saved).
    fn drop(&mut self) {
        let _ = self.commands.send(TrainingCommand::Stop);
    }
}

struct TrainingWorker {
    ctx: GpuContext,
    job: TrainingJob,
    commands: Receiver<TrainingCommand>,
    events: Sender<TrainingEvent>,
    wake: Box<dyn Fn() + Send>,
}

impl TrainingWorker {
    fn run(self) {
        if let Err(e) = self.run_inner() {
            self.send(TrainingEvent::Failed(e.to_string()));
        }
    }

    fn send(&self, event: TrainingEvent) {
        // A closed channel means nobody listens any more; the run still ends cleanly.
        let _ = self.events.send(event);
        (self.wake)();
    }

    fn run_inner(&self) -> Result<()> {
        let TrainingJob {
            config,
            out,
            resume,
        } = &self.job;
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        let data = Arc::new(Dataset::prepare(&self.ctx, config, &mut |step| {
            self.send(TrainingEvent::Preparing(step.to_string()))
        })?);
        let summary = data.summary(config);
        let mut trainer = if *resume {
            Trainer::resume(&self.ctx, config.clone(), out, data)?
        } else {
            Trainer::new(&self.ctx, config.clone(), data)?
        };
        self.send(TrainingEvent::Started {
            iterations: config.training.iterations,
            summary,
            history: Box::new(trainer.history().clone()),
        });
        if let Some(v) = trainer.baseline()? {
            self.send(TrainingEvent::Validation(v));
        }
        while !trainer.is_done() {
            if self.wait_for_commands() == Flow::Stop {
                trainer.save_checkpoint(out)?;
                self.send(TrainingEvent::Stopped {
                    iteration: trainer.iteration(),
                });
                return Ok(());
            }
            let advance = trainer.advance(out)?;
            let iteration = advance.record.iteration;
            self.send(TrainingEvent::Iteration(advance.record));
            if let Some(v) = advance.validation {
                self.send(TrainingEvent::Validation(v));
            }
            if advance.checkpointed {
                self.send(TrainingEvent::Checkpoint { iteration });
            }
        }
        let (validation, metrics) = trainer.finish(out)?;
        if let Some(v) = validation {
            self.send(TrainingEvent::Validation(v));
        }
        self.send(TrainingEvent::Finished(Box::new(metrics)));
        Ok(())
    }

    /// Applies waiting commands; while paused, waits for the next one.
    fn wait_for_commands(&self) -> Flow {
        let mut paused = false;
        loop {
            let command = if paused {
                match self.commands.recv_timeout(Duration::from_secs(1)) {
                    Ok(c) => c,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return Flow::Stop,
                }
            } else {
                match self.commands.try_recv() {
                    Ok(c) => c,
                    Err(TryRecvError::Empty) => return Flow::Continue,
                    Err(TryRecvError::Disconnected) => return Flow::Stop,
                }
            };
            match command {
                TrainingCommand::Stop => return Flow::Stop,
                TrainingCommand::Pause if !paused => {
                    paused = true;
                    self.send(TrainingEvent::Paused);
                }
                TrainingCommand::Resume if paused => {
                    self.send(TrainingEvent::Resumed);
                    return Flow::Continue;
                }
                TrainingCommand::Pause | TrainingCommand::Resume => {}
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}
