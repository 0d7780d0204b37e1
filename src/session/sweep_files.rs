//! A smoothness sweep's points as files, for the CLI and the window alike: CSV (a row per point,
//! in the order they ran) or JSON (each point's full scores).

use super::protocol::SweepPoint;
use crate::error::{Error, Result};
use crate::eval::EvalReport;
use serde::Serialize;
use std::fmt::Write;
use std::path::Path;

/// A point as the JSON file holds it.
#[derive(Serialize)]
struct PointRecord<'a> {
    diffusion: f64,
    /// The finest level's last similarity loss.
    similarity: Option<f64>,
    /// Wall time of the point's deformable stage, seconds.
    seconds: f64,
    /// Its scores (the keys of `register`'s metrics.json, surface distances left out).
    scores: &'a EvalReport,
}

/// The CSV table: `diffusion, dice_mean, tre_mean_mm, fold_percent, folded_voxels, ndv_mm3,
/// ndv_percent, sdlogj, jacobian_min, similarity, seconds`; empty cells where a score is absent.
pub fn to_csv(points: &[SweepPoint]) -> String {
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
    let mut csv = String::from(
        "diffusion,dice_mean,tre_mean_mm,fold_percent,folded_voxels,ndv_mm3,ndv_percent,sdlogj,\
         jacobian_min,similarity,seconds\n",
    );
    for p in points {
        let r = &p.report;
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{:.3}",
            p.diffusion,
            opt(r.dice_mean),
            opt(r.tre_mean_mm),
            100.0 * r.fold_fraction,
            r.folded_voxels,
            opt(r.ndv_mm3),
            opt(r.ndv_fraction.map(|f| 100.0 * f)),
            r.sdlogj,
            r.jacobian_min,
            opt(p.similarity),
            p.seconds
        );
    }
    csv
}

/// Writes `points` to `path` atomically: JSON when its name ends in `.json`, else CSV.
pub fn write(points: &[SweepPoint], path: &Path) -> Result<()> {
    let json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let bytes = if json {
        let records: Vec<PointRecord> = points
            .iter()
            .map(|p| PointRecord {
                diffusion: p.diffusion,
                similarity: p.similarity,
                seconds: p.seconds,
                scores: &p.report,
            })
            .collect();
        serde_json::to_vec_pretty(&records)
            .map_err(|e| Error::format(path, format!("cannot encode the sweep: {e}")))?
    } else {
        to_csv(points).into_bytes()
    };
    crate::atomic::write_bytes(path, &bytes)
}
