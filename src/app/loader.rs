//! Loading a case on a worker thread: progress in a shared cell, the result over a channel, a
//! cancel flag. The window keeps drawing (and keeps the open case) until a new case arrives.

use crate::case::{Case, CaseFiles};
use crate::error::Error;
use crossbeam_channel::Receiver;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub struct Load {
    pub files: CaseFiles,
    cancel: Arc<AtomicBool>,
    progress: Arc<Mutex<(f32, String)>>,
    result: Receiver<Result<Case, Error>>,
}

pub enum Poll {
    Pending { fraction: f32, reading: String },
    Done(Box<Case>),
    Failed(String),
    Cancelled,
}

impl Load {
    /// Starts reading `files`; `wake` is called when there is news.
    pub fn start(files: CaseFiles, wake: impl Fn() + Send + Sync + 'static) -> Load {
        let cancel = Arc::new(AtomicBool::new(false));
        let progress = Arc::new(Mutex::new((0.0, String::new())));
        let (tx, rx) = crossbeam_channel::bounded(1);
        let (c, p, f) = (cancel.clone(), progress.clone(), files.clone());
        // A thread that cannot start drops the sender, which `poll` reports as a failure.
        let _ = std::thread::Builder::new()
            .name("load".into())
            .spawn(move || {
                let result = f.load(&c, |fraction, path| {
                    *p.lock().unwrap_or_else(|e| e.into_inner()) =
                        (fraction, path.display().to_string());
                    wake();
                });
                let _ = tx.send(result);
                wake();
            });
        Load {
            files,
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
            Ok(Ok(case)) if !self.cancel.load(Ordering::Relaxed) => Poll::Done(Box::new(case)),
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
        match wait(&Load::start(files.clone(), || {})) {
            Poll::Failed(message) => assert!(message.contains("broken.nii.gz"), "{message}"),
            _ => panic!("a corrupt file must fail"),
        }
        let load = Load::start(CaseFiles::default(), || {});
        load.cancel();
        assert!(matches!(wait(&load), Poll::Cancelled));
    }
}
