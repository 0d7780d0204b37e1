//! `SessionHandle`: starts a registration worker and talks to it.

use super::protocol::{Command, Event, Method, Outcome, SessionOptions, Slot, Snapshot};
use super::worker::Worker;
use crate::error::{Error, Result};
use crate::eval::Scoring;
use crate::gpu::GpuContext;
use crate::register::config::RegistrationConfig;
use crate::volume::ScalarVolume;
use crossbeam_channel::{Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

pub struct SessionHandle {
    commands: Sender<Command>,
    events: Receiver<Event>,
    snapshots: Slot<Snapshot>,
    thread: Option<JoinHandle<Result<Outcome>>>,
}

/// Starts a registration of `moving` to `fixed` on its own thread. `wake` is called after each
/// batch of events (a GUI requests a repaint there).
pub fn start(
    ctx: &GpuContext,
    images: (Arc<ScalarVolume>, Arc<ScalarVolume>),
    config: RegistrationConfig,
    scoring: Scoring,
    options: SessionOptions,
    wake: impl Fn() + Send + Sync + 'static,
) -> Result<SessionHandle> {
    let method = Method::Iterative(Box::new(config));
    start_method(ctx, images, method, scoring, options, wake)
}

/// [`start`] for either method: a trained network's run reports as an iterative one does, with
/// phases in place of iterations. The worker copies shared images on its own thread, so a window
/// that starts a run keeps its frames.
pub fn start_method(
    ctx: &GpuContext,
    (fixed, moving): (Arc<ScalarVolume>, Arc<ScalarVolume>),
    method: Method,
    scoring: Scoring,
    options: SessionOptions,
    wake: impl Fn() + Send + Sync + 'static,
) -> Result<SessionHandle> {
    match &method {
        Method::Iterative(config) => config.validate()?,
        Method::Sweep(sweep) => sweep.validate()?,
        Method::Network(_) => {}
    }
    let (command_tx, command_rx) = crossbeam_channel::unbounded();
    let (event_tx, event_rx) = crossbeam_channel::bounded(options.event_capacity.max(8));
    let snapshots = Slot::default();
    let worker = Worker {
        ctx: ctx.clone(),
        method,
        scoring,
        options,
        commands: command_rx,
        events: event_tx,
        snapshots: snapshots.clone(),
        wake: Arc::new(wake),
    };
    let thread = std::thread::Builder::new()
        .name("registration".into())
        .spawn(move || {
            crate::parallel::lower_priority();
            worker.run(Arc::unwrap_or_clone(fixed), Arc::unwrap_or_clone(moving))
        })
        .map_err(|e| Error::Registration(format!("cannot start the worker thread: {e}")))?;
    Ok(SessionHandle {
        commands: command_tx,
        events: event_rx,
        snapshots,
        thread: Some(thread),
    })
}

impl SessionHandle {
    /// Sends a command; a run that has ended ignores it.
    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// The events that arrived, without waiting.
    pub fn drain(&self) -> Vec<Event> {
        self.events.try_iter().collect()
    }

    /// The event channel, for front ends that wait on it (tests, the CLI).
    pub fn events(&self) -> &Receiver<Event> {
        &self.events
    }

    /// The newest snapshot not taken yet.
    pub fn take_snapshot(&self) -> Option<Snapshot> {
        self.snapshots.take()
    }

    /// Waits for the worker: the outcome, `Error::Cancelled`, or the error that stopped it.
    pub fn join(mut self) -> Result<Outcome> {
        let thread = self.thread.take().expect("joined once");
        thread
            .join()
            .map_err(|_| Error::Registration("the registration thread panicked".into()))?
    }

    /// Cancels the run and waits for its worker to stop (one iteration at most), listening to it
    /// no more: its last events are dropped, so a full event queue cannot hold it up. For a
    /// front end that is closing.
    pub fn cancel_and_wait(mut self) {
        self.send(Command::Cancel);
        self.events = crossbeam_channel::never();
        if let Err(e) = self.join()
            && !matches!(e, Error::Cancelled)
        {
            log::warn!("the registration ended with: {e}");
        }
    }
}

impl Drop for SessionHandle {
    /// Dropping the handle cancels the run (the worker sees the closed command channel).
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Cancel);
    }
}
