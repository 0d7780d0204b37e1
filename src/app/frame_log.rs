//! Frame times: the interval between consecutive frames while frames are being requested, with
//! percentiles for the status bar and a CSV for benchmarks (`warpbench open --frame-log`).

use std::path::Path;
use std::time::Instant;

/// Intervals longer than this are idle gaps (nothing asked for a frame), not slow frames.
const IDLE_GAP_S: f64 = 0.25;

pub struct FrameLog {
    last: Option<Instant>,
    /// `(seconds since start, frame interval ms, UI CPU ms, registration running)`.
    rows: Vec<(f64, f64, f64, bool)>,
    start: Instant,
}

impl Default for FrameLog {
    fn default() -> FrameLog {
        FrameLog {
            last: None,
            rows: Vec::new(),
            start: Instant::now(),
        }
    }
}

impl FrameLog {
    /// Called once per frame, at its start; `cpu_ms` is egui's CPU time of the previous frame.
    /// Returns the seconds since the previous frame.
    pub fn frame(&mut self, cpu_ms: f64, running: bool) -> Option<f64> {
        let now = Instant::now();
        let interval = self.last.map(|last| now.duration_since(last).as_secs_f64());
        if let Some(dt) = interval.filter(|&dt| dt < IDLE_GAP_S) {
            self.rows.push((
                now.duration_since(self.start).as_secs_f64(),
                dt * 1e3,
                cpu_ms,
                running,
            ));
        }
        self.last = Some(now);
        interval
    }

    /// The `q`-quantile (0..1) of the last `n` frame intervals (ms), `None` before any.
    pub fn percentile(&self, q: f64, n: usize) -> Option<f64> {
        let mut v: Vec<f64> = self.rows.iter().rev().take(n).map(|r| r.1).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(v[((v.len() - 1) as f64 * q).round() as usize])
    }

    pub fn write_csv(&self, path: &Path) -> crate::Result<()> {
        let mut text = String::from("t_s,frame_ms,ui_cpu_ms,registering\n");
        for (t, dt, cpu, running) in &self.rows {
            text += &format!("{t:.4},{dt:.3},{cpu:.3},{}\n", *running as u8);
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
        log.frame(1.0, false);
        std::thread::sleep(std::time::Duration::from_millis(5));
        log.frame(1.0, false);
        std::thread::sleep(std::time::Duration::from_millis(300));
        log.frame(1.0, false);
        assert_eq!(log.rows.len(), 1);
        let p = log.percentile(0.95, 100).unwrap();
        assert!((5.0..100.0).contains(&p), "{p}");
    }
}
