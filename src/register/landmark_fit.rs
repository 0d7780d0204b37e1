//! The rigid transform that best takes one set of points onto another (least squares, Horn's
//! closed form with unit quaternions): how paired landmarks start the affine stage where the
//! headers disagree and intensities alone cannot find the pose.

use crate::error::{Error, Result};
use crate::volume::landmarks::pair_landmarks;
use crate::volume::{Affine, LandmarkSet};

/// A fixed point and its moving partner (world mm).
pub type PointPair = ([f64; 3], [f64; 3]);

/// The mean of `points` (the origin for none).
pub fn centroid(points: impl IntoIterator<Item = [f64; 3]>) -> [f64; 3] {
    let (sum, n) = points.into_iter().fold(([0.0; 3], 0usize), |(s, n), p| {
        (std::array::from_fn(|k| s[k] + p[k]), n + 1)
    });
    sum.map(|v| v / n.max(1) as f64)
}

/// A rigid fit of point pairs and how far each pair stays apart under it.
#[derive(Clone, Debug, PartialEq)]
pub struct RigidFit {
    /// Fixed world (mm) to moving world (mm), as every transform in the registration.
    pub affine: Affine,
    /// `|A(fixed) − moving|` per pair (mm): the fiducial registration error.
    pub residuals_mm: Vec<f64>,
}

/// Fits `A` with `A(fixed) ≈ moving` over `pairs` of (fixed, moving) world points (mm).
///
/// Needs three pairs whose fixed points do not lie on one line (a rotation about that line would
/// be free).
pub fn fit_rigid(pairs: &[PointPair]) -> Result<RigidFit> {
    if pairs.len() < 3 {
        return Err(Error::Config(format!(
            "a landmark start needs at least three landmark pairs; there are {}",
            pairs.len()
        )));
    }
    let n = pairs.len() as f64;
    let cf = centroid(pairs.iter().map(|p| p.0));
    let cm = centroid(pairs.iter().map(|p| p.1));
    // Scatter of the fixed points, to refuse points on a line; cross-covariance for the rotation.
    let mut scatter = [[0.0f64; 3]; 3];
    let mut s = [[0.0f64; 3]; 3];
    for (f, m) in pairs {
        let (a, b): ([f64; 3], [f64; 3]) = (
            std::array::from_fn(|k| f[k] - cf[k]),
            std::array::from_fn(|k| m[k] - cm[k]),
        );
        for r in 0..3 {
            for c in 0..3 {
                scatter[r][c] += a[r] * a[c];
                s[r][c] += a[r] * b[c];
            }
        }
    }
    let (spread, _) = symmetric_eigen(scatter);
    let mut spread = spread;
    spread.sort_by(|a, b| b.total_cmp(a));
    // The second spread below a tenth of a millimetre (rms) means one line.
    if spread[1] / n < 0.01 {
        return Err(Error::Config(
            "the fixed landmarks lie on one line: a rotation about it is not fixed; place a \
             pair off that line"
                .into(),
        ));
    }
    let [[sxx, sxy, sxz], [syx, syy, syz], [szx, szy, szz]] = s;
    let horn = [
        [sxx + syy + szz, syz - szy, szx - sxz, sxy - syx],
        [syz - szy, sxx - syy - szz, sxy + syx, szx + sxz],
        [szx - sxz, sxy + syx, -sxx + syy - szz, syz + szy],
        [sxy - syx, szx + sxz, syz + szy, -sxx - syy + szz],
    ];
    let (values, vectors) = symmetric_eigen(horn);
    let best = (0..4)
        .max_by(|&a, &b| values[a].total_cmp(&values[b]))
        .expect("four eigenvalues");
    let q: [f64; 4] = std::array::from_fn(|r| vectors[r][best]);
    let r = quaternion_rotation(q);
    let rc: [f64; 3] = std::array::from_fn(|i| (0..3).map(|k| r[i][k] * cf[k]).sum());
    let affine = Affine::from_linear_translation(r, std::array::from_fn(|i| cm[i] - rc[i]));
    let residuals_mm = pairs
        .iter()
        .map(|(f, m)| {
            let p = affine.apply(*f);
            (0..3).map(|k| (p[k] - m[k]).powi(2)).sum::<f64>().sqrt()
        })
        .collect();
    Ok(RigidFit {
        affine,
        residuals_mm,
    })
}

/// `landmarks` (fixed, moving) as point pairs (world mm), paired by name or else by order.
pub fn landmark_pairs(landmarks: Option<(&LandmarkSet, &LandmarkSet)>) -> Result<Vec<PointPair>> {
    let Some((fixed, moving)) = landmarks else {
        return Err(Error::Config(
            "a landmark start needs fixed and moving landmarks".into(),
        ));
    };
    Ok(pair_landmarks(fixed, moving)?
        .into_iter()
        .map(|(i, j)| (fixed.points[i].world_mm, moving.points[j].world_mm))
        .collect())
}

/// The rotation of unit quaternion `(w, x, y, z)` (normalised here).
fn quaternion_rotation(q: [f64; 4]) -> [[f64; 3]; 3] {
    let norm = q.iter().map(|v| v * v).sum::<f64>().sqrt();
    let [w, x, y, z] = q.map(|v| v / norm);
    [
        [
            w * w + x * x - y * y - z * z,
            2.0 * (x * y - w * z),
            2.0 * (x * z + w * y),
        ],
        [
            2.0 * (x * y + w * z),
            w * w - x * x + y * y - z * z,
            2.0 * (y * z - w * x),
        ],
        [
            2.0 * (x * z - w * y),
            2.0 * (y * z + w * x),
            w * w - x * x - y * y + z * z,
        ],
    ]
}

/// Eigenvalues and eigenvectors (columns) of a small symmetric matrix, by cyclic Jacobi
/// rotations: exact to rounding for the 3 × 3 and 4 × 4 matrices above.
fn symmetric_eigen<const N: usize>(mut a: [[f64; N]; N]) -> ([f64; N], [[f64; N]; N]) {
    let mut v = [[0.0; N]; N];
    for (i, row) in v.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for _ in 0..64 {
        let off: f64 = (0..N)
            .flat_map(|p| (0..N).filter(move |&q| q != p).map(move |q| (p, q)))
            .map(|(p, q)| a[p][q] * a[p][q])
            .sum();
        let scale: f64 = (0..N).map(|i| a[i][i] * a[i][i]).sum::<f64>() + off;
        if off <= 1e-30 * scale.max(1e-300) {
            break;
        }
        for p in 0..N {
            for q in p + 1..N {
                if a[p][q] == 0.0 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let sign = if theta >= 0.0 { 1.0 } else { -1.0 };
                let t = sign / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..N {
                    let (akp, akq) = (a[k][p], a[k][q]);
                    a[k][p] = c * akp - s * akq;
                    a[k][q] = s * akp + c * akq;
                }
                for k in 0..N {
                    let (apk, aqk) = (a[p][k], a[q][k]);
                    a[p][k] = c * apk - s * aqk;
                    a[q][k] = s * apk + c * aqk;
                }
                for row in v.iter_mut() {
                    let (vkp, vkq) = (row[p], row[q]);
                    row[p] = c * vkp - s * vkq;
                    row[q] = s * vkp + c * vkq;
                }
            }
        }
    }
    (std::array::from_fn(|i| a[i][i]), v)
}

/// Euler angles `θ` (radians) with `affine::rotation(θ) == r`, for a rotation matrix `r`
/// (`R = Rz Ry Rx`).
pub fn rotation_angles(r: [[f64; 3]; 3]) -> [f64; 3] {
    let y = (-r[2][0]).clamp(-1.0, 1.0).asin();
    [r[2][1].atan2(r[2][2]), y, r[1][0].atan2(r[0][0])]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::affine::rotation;

    fn points() -> Vec<[f64; 3]> {
        vec![
            [10.0, 0.0, 0.0],
            [0.0, 25.0, 3.0],
            [-7.0, 4.0, 30.0],
            [12.0, -18.0, 9.0],
            [-20.0, -5.0, -11.0],
        ]
    }

    #[test]
    fn a_known_rigid_motion_is_recovered_exactly() {
        let r = rotation([0.3, -0.5, 1.2]);
        let t = [4.0, -60.0, 120.0];
        let moved = Affine::from_linear_translation(r, t);
        let pairs: Vec<_> = points().into_iter().map(|p| (p, moved.apply(p))).collect();
        let fit = fit_rigid(&pairs).unwrap();
        assert!(fit.affine.max_abs_diff(&moved) < 1e-9, "{:?}", fit.affine);
        assert!(fit.residuals_mm.iter().all(|&e| e < 1e-9));
        let angles = rotation_angles(fit.affine.linear());
        for (a, b) in angles.iter().zip([0.3, -0.5, 1.2]) {
            assert!((a - b).abs() < 1e-9, "{angles:?}");
        }
    }

    #[test]
    fn a_half_turn_and_noisy_points_fit_with_residuals_of_the_noise() {
        let r = rotation([0.0, 0.0, std::f64::consts::PI]);
        let moved = Affine::from_linear_translation(r, [1.0, 2.0, 3.0]);
        let noise = [0.3, -0.2, 0.1, -0.3, 0.1];
        let pairs: Vec<_> = points()
            .into_iter()
            .zip(noise)
            .map(|(p, e)| {
                let m = moved.apply(p);
                (p, [m[0] + e, m[1] - e, m[2]])
            })
            .collect();
        let fit = fit_rigid(&pairs).unwrap();
        assert!(fit.affine.max_abs_diff(&moved) < 0.1, "{:?}", fit.affine);
        let rms = (fit.residuals_mm.iter().map(|e| e * e).sum::<f64>() / 5.0).sqrt();
        assert!(rms > 0.05 && rms < 0.45, "{rms}");
    }

    #[test]
    fn too_few_pairs_or_pairs_on_a_line_are_refused() {
        let pairs = [([0.0; 3], [1.0; 3]), ([1.0, 0.0, 0.0], [2.0, 1.0, 1.0])];
        assert!(fit_rigid(&pairs).unwrap_err().to_string().contains("three"));
        let line: Vec<_> = (0..4)
            .map(|i| ([i as f64 * 10.0, 0.0, 0.0], [0.0, i as f64 * 10.0, 0.0]))
            .collect();
        assert!(
            fit_rigid(&line)
                .unwrap_err()
                .to_string()
                .contains("one line")
        );
    }
}
