//! Label overlap: Dice per label, its mean, and Dice30.

use crate::volume::LabelVolume;
use std::collections::BTreeMap;

/// Label ids (non-zero) present in both maps, sorted.
pub fn shared_ids(a: &LabelVolume, b: &LabelVolume) -> Vec<i32> {
    let ib = b.ids();
    a.ids()
        .into_iter()
        .filter(|id| ib.binary_search(id).is_ok())
        .collect()
}

/// Dice per label on one grid: `2|A∩B| / (|A|+|B|)` for each id in `ids`.
/// Both maps must be on the same grid (warp the moving labels onto the fixed grid first).
pub fn dice_per_label(
    fixed: &LabelVolume,
    warped: &LabelVolume,
    ids: &[i32],
) -> BTreeMap<i32, f64> {
    let max_id = ids.iter().copied().max().unwrap_or(0).max(0) as usize;
    let slot = |v: i32| -> Option<usize> { (v > 0 && v as usize <= max_id).then_some(v as usize) };
    let (mut inter, mut na, mut nb) = (
        vec![0u64; max_id + 1],
        vec![0u64; max_id + 1],
        vec![0u64; max_id + 1],
    );
    for (&a, &b) in fixed.data().iter().zip(warped.data()) {
        if let Some(i) = slot(a) {
            na[i] += 1;
            if a == b {
                inter[i] += 1;
            }
        }
        if let Some(i) = slot(b) {
            nb[i] += 1;
        }
    }
    ids.iter()
        .filter(|&&id| id > 0)
        .map(|&id| {
            let i = id as usize;
            let denom = na[i] + nb[i];
            let d = if denom == 0 {
                1.0
            } else {
                2.0 * inter[i] as f64 / denom as f64
            };
            (id, d)
        })
        .collect()
}

/// Mean of the ⌈30 %⌉ lowest values (Learn2Reg's robustness measure, here over labels).
pub fn worst30_mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let k = ((v.len() as f64 * 0.3).ceil() as usize).max(1);
    v[..k].iter().sum::<f64>() / k as f64
}

pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        f64::NAN
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}
