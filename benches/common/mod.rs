//! What the benchmarks share: where the data is, and the median of their runs.

use std::path::PathBuf;

/// `WARPBENCH_DATA`, or `../shared/data` beside the project.
pub fn data_dir() -> PathBuf {
    std::env::var_os("WARPBENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
