//! Frame times: the interval between consecutive frames while frames are being requested, with
//! percentiles for the status bar and a CSV for benchmarks (`warpbench open --frame-log`), which
//! also says which snapshot of a run each frame showed, so that a benchmark can tell how often
//! the views changed.

use std::path::Path;
use std::time::Instant;

/// Intervals longer than this are idle gaps (nothing asked for a frame), not slow frames.
const IDLE_GAP_S: f64 = 0.25;

/// One frame: when it began, the interval since the one before, and what it showed.
struct Row {
    /// Seconds since the log began.
    t_s: f64,
    interval_ms: f64,
    /// egui's CPU time of the frame before.
    ui_cpu_ms: f64,
    registering: bool,
    /// The generation of the run's newest snapshot on show in a view.
    generation: u64,
}

impl Row {
    fn idle_gap(&self) -> bool {
        self.interval_ms >= IDLE_GAP_S * 1e3
    }
}

/// Frames a log that is not recording keeps: enough for the status bar's percentiles, and a
/// window open for days does not grow with every frame it draws.
const RECENT: usize = 1024;

pub struct FrameLog {
    last: Option<Instant>,
    rows: Vec<Row>,
    start: Instant,
    /// Keeps every frame for the CSV, not only the recent ones.
    recording: bool,
}

impl Default for FrameLog {
    fn default() -> FrameLog {
        FrameLog {
            last: None,
            rows: Vec::new(),
            start: Instant::now(),
            recording: false,
        }
    }
}

impl FrameLog {
    /// A log that keeps every frame, for [`FrameLog::write_csv`].
    pub fn recording() -> FrameLog {
        FrameLog {
            recording: true,
            ..FrameLog::default()
        }
    }

    /// Called once per frame, at its start; `cpu_ms` is egui's CPU time of the previous frame,
    /// `generation` that of the snapshot the frame shows. Returns the seconds since the previous
    /// frame.
    pub fn frame(&mut self, cpu_ms: f64, registering: bool, generation: u64) -> Option<f64> {
        let now = Instant::now();
        let interval = self.last.map(|last| now.duration_since(last).as_secs_f64());
        if let Some(dt) = interval {
            self.rows.push(Row {
                t_s: now.duration_since(self.start).as_secs_f64(),
                interval_ms: dt * 1e3,
                ui_cpu_ms: cpu_ms,
                registering,
                generation,
            });
            if !self.recording && self.rows.len() >= 2 * RECENT {
                self.rows.drain(..RECENT);
            }
        }
        self.last = Some(now);
        interval
    }

    /// The `q`-quantile (0..1) of the last `n` frame intervals (ms) that were not idle gaps,
    /// `None` before any.
    pub fn percentile(&self, q: f64, n: usize) -> Option<f64> {
        let mut v: Vec<f64> = self
            .rows
            .iter()
            .rev()
            .filter(|r| !r.idle_gap())
            .take(n)
            .map(|r| r.interval_ms)
            .collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(v[((v.len() - 1) as f64 * q).round() as usize])
    }

    pub fn write_csv(&self, path: &Path) -> crate::Result<()> {
        let mut text = String::from("t_s,frame_ms,ui_cpu_ms,registering,idle_gap,generation\n");
        for r in &self.rows {
            text += &format!(
                "{:.4},{:.3},{:.3},{},{},{}\n",
                r.t_s,
                r.interval_ms,
                r.ui_cpu_ms,
                r.registering as u8,
                r.idle_gap() as u8,
                r.generation
            );
        }
        crate::atomic::write_bytes(path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_skip_idle_gaps() {
        let mut log = FrameLog::default();
        log.frame(1.0, false, 0);
        std::thread::sleep(std::time::Duration::from_millis(5));
        log.frame(1.0, false, 0);
        std::thread::sleep(std::time::Duration::from_millis(300));
        log.frame(1.0, false, 0);
        assert_eq!(log.rows.len(), 2);
        assert!(log.rows[1].idle_gap());
        let p = log.percentile(0.95, 100).unwrap();
        assert!((5.0..100.0).contains(&p), "{p}");
    }

    #[test]
    fn only_a_recording_log_keeps_every_frame() {
        let mut recent = FrameLog::default();
        let mut recording = FrameLog::recording();
        for generation in 0..5 * RECENT as u64 {
            recent.frame(1.0, false, generation);
            recording.frame(1.0, false, generation);
        }
        assert!((RECENT..2 * RECENT).contains(&recent.rows.len()));
        assert_eq!(
            recent.rows.last().unwrap().generation,
            5 * RECENT as u64 - 1
        );
        assert_eq!(recording.rows.len(), 5 * RECENT - 1);
    }
}
