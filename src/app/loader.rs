//! Loading a case or a saved session on a worker thread: progress in a shared cell, the result
//! over a channel, a cancel flag. The window keeps drawing (and keeps the open case) until the
//! new one arrives.

use crate::app::saved_session::SavedSession;
use crate::app::state::{Deformation, LayerFacts};
use crate::case::{Case, CaseFiles};
use crate::error::Error;
use crossbeam_channel::Receiver;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// What to load.
#[derive(Clone, Debug)]
pub enum Source {
    Case(CaseFiles),
    /// A saved session file.
    Session(PathBuf),
}

/// What a load gives: the case, what the window shows of it (found on the loading thread, so
/// that installing it does not hold up a frame) and, for a saved session, the rest of it.
pub struct Loaded {
    pub case: Case,
    pub facts: LayerFacts,
    pub session: Option<(SavedSession, Option<Deformation>)>,
}

pub struct Load {
    cancel: Arc<AtomicBool>,
    progress: Arc<Mutex<(f32, String)>>,
    result: Receiver<Result<Box<Loaded>, Error>>,
}

pub enum Poll {
    Pending { fraction: f32, reading: String },
    Done(Box<Loaded>),
    Failed(String),
    Cancelled,
}

impl Load {
    /// Starts reading `source`; `wake` is called when there is news.
    pub fn start(source: Source, wake: impl Fn() + Send + Sync + 'static) -> Load {
        let cancel = Arc::new(AtomicBool::new(false));
        let progress = Arc::new(Mutex::new((0.0, String::new())));
        let (tx, rx) = crossbeam_channel::bounded(1);
        let (c, p) = (cancel.clone(), progress.clone());
        // A thread that cannot start drops the sender, which `poll` reports as a failure.
        let _ = std::thread::Builder::new()
            .name("load".into())
            .spawn(move || {
                let report = |fraction: f32, path: &std::path::Path| {
                    *p.lock().unwrap_or_else(|e| e.into_inner()) =
                        (fraction, path.display().to_string());
                    wake();
                };
                let loaded = match source {
                    Source::Case(files) => files.load(&c, report).map(|case| (case, None)),
                    Source::Session(path) => SavedSession::open(&path, &c, report)
                        .map(|r| (r.case, Some((r.session, r.deformation)))),
                };
                let result = loaded.map(|(case, session)| {
                    Box::new(Loaded {
                        facts: LayerFacts::of(&case),
                        case,
                        session,
                    })
                });
                let _ = tx.send(result);
                wake();
            });
        Load {
            cancel,
            progress,
            result: rx,
        }
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    pub fn poll(&self) -> Poll {
        match self.result.try_recv() {
            Ok(Ok(loaded)) if !self.cancel.load(Ordering::Relaxed) => Poll::Done(loaded),
            Ok(Ok(_)) | Ok(Err(Error::Cancelled)) => Poll::Cancelled,
            Ok(Err(e)) => Poll::Failed(e.to_string()),
            Err(crossbeam_channel::TryRecvError::Disconnected) => {
                Poll::Failed("the loading thread stopped without a result".into())
            }
            Err(crossbeam_channel::TryRecvError::Empty) => {
                let (fraction, reading) = self.progress();
                Poll::Pending { fraction, reading }
            }
        }
    }

    /// The fraction read and the file being read, without touching the result (drawing the
    /// progress bar must not take a finished case away from `poll`).
    pub fn progress(&self) -> (f32, String) {
        self.progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn wait(load: &Load) -> Poll {
        let t = Instant::now();
        loop {
            match load.poll() {
                Poll::Pending { .. } if t.elapsed() < Duration::from_secs(60) => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                other => return other,
            }
        }
    }

    #[test]
    fn a_corrupt_file_fails_with_its_name_and_a_cancelled_load_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("broken.nii.gz");
        std::fs::write(&bad, b"not a nifti file").unwrap();
        let files = CaseFiles {
            fixed: Some(bad.clone()),
            moving: Some(bad.clone()),
            ..Default::default()
        };
        match wait(&Load::start(Source::Case(files.clone()), || {})) {
            Poll::Failed(message) => assert!(message.contains("broken.nii.gz"), "{message}"),
            _ => panic!("a corrupt file must fail"),
        }
        let load = Load::start(Source::Case(CaseFiles::default()), || {});
        load.cancel();
        assert!(matches!(wait(&load), Poll::Cancelled));
    }
}
