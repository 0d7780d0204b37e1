//! Target registration error of landmark pairs, in millimetres.
//!
//! For a pair (fixed `x`, moving `y`), the registration maps `x` to `x + u(x)` (the displacement
//! interpolated trilinearly at `x`); TRE is `|x + u(x) − y|`, and before registration `|x − y|`.
//! Both point sets are in world RAS mm, so no voxel conversion enters.

use crate::error::Result;
use crate::volume::VectorField;
use crate::volume::landmarks::{LandmarkSet, pair_landmarks};
use crate::volume::warp::displacement_at;
use serde::Serialize;

/// Summary of a set of distances.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct DistanceStats {
    pub mean: f64,
    pub median: f64,
    /// Population standard deviation.
    pub std: f64,
    pub max: f64,
    /// Mean of the ⌈30 %⌉ largest errors (Learn2Reg's TRE30 idea, over points).
    pub worst30: f64,
}

impl DistanceStats {
    pub fn of(values: &[f64]) -> DistanceStats {
        if values.is_empty() {
            return DistanceStats {
                mean: f64::NAN,
                median: f64::NAN,
                std: f64::NAN,
                max: f64::NAN,
                worst30: f64::NAN,
            };
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        let mut sorted = values.to_vec();
        let median = super::surface::percentile(&mut sorted, 50.0);
        let k = ((n * 0.3).ceil() as usize).max(1);
        let worst30 = sorted[sorted.len() - k..].iter().sum::<f64>() / k as f64;
        DistanceStats {
            mean,
            median,
            std,
            max: sorted[sorted.len() - 1],
            worst30,
        }
    }
}

/// One pair's error before and after registration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PairError {
    pub name: String,
    pub before_mm: f64,
    pub after_mm: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TreReport {
    pub pairs: Vec<PairError>,
    pub before: DistanceStats,
    pub after: DistanceStats,
}

/// The distance of two points (mm).
pub fn distance(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|i| (a[i] - b[i]).powi(2)).sum::<f64>().sqrt()
}

/// TRE of paired landmarks (paired by name, else by order); without a field, "after" equals "before".
pub fn tre(
    fixed: &LandmarkSet,
    moving: &LandmarkSet,
    field: Option<&VectorField>,
) -> Result<TreReport> {
    Ok(tre_of_pairs(
        fixed,
        moving,
        &pair_landmarks(fixed, moving)?,
        field,
    ))
}

/// TRE of the pairs `(fixed index, moving index)` already made by [`pair_landmarks`].
pub fn tre_of_pairs(
    fixed: &LandmarkSet,
    moving: &LandmarkSet,
    pairs: &[(usize, usize)],
    field: Option<&VectorField>,
) -> TreReport {
    let pairs: Vec<PairError> = pairs
        .iter()
        .map(|&(i, j)| {
            let (x, y) = (fixed.points[i].world_mm, moving.points[j].world_mm);
            let mapped = match field {
                Some(f) => {
                    let u = displacement_at(f, x);
                    [x[0] + u[0], x[1] + u[1], x[2] + u[2]]
                }
                None => x,
            };
            PairError {
                name: fixed.points[i]
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("#{}", i + 1)),
                before_mm: distance(x, y),
                after_mm: distance(mapped, y),
            }
        })
        .collect();
    let before = DistanceStats::of(&pairs.iter().map(|p| p.before_mm).collect::<Vec<_>>());
    let after = DistanceStats::of(&pairs.iter().map(|p| p.after_mm).collect::<Vec<_>>());
    TreReport {
        pairs,
        before,
        after,
    }
}
