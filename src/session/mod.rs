//! Runs on worker threads: a registration, iterative or by a trained network (commands in, events
//! out, the newest snapshot in a slot) and a network training ([`training`]: commands in, events out).
//! The GUI, the tests and any other front end drive a run the same way; the engine never sees a UI
//! type (the front end passes a `wake` callback, the app's calls `request_repaint`).

pub mod handle;
pub mod protocol;
pub mod sweep_files;
pub mod training;
mod worker;

pub use crate::eval::Scoring;
pub use handle::{SessionHandle, start, start_method};
pub use protocol::{
    Command, Event, Method, NetworkJob, Outcome, SessionOptions, Slot, Snapshot, Sweep, SweepPoint,
};
