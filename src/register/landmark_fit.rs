//! The rigid, similarity or affine transform that best takes one set of points onto another
//! (least squares; rotations by Horn's closed form with unit quaternions, the scale by Umeyama's):
//! how paired landmarks start the affine stage where the headers disagree and intensities alone
//! cannot find the pose, and the window's fiducial registration.

use crate::error::{Error, Result};
use crate::volume::landmarks::pair_landmarks;
use crate::volume::{Affine, LandmarkSet};
use serde::{Deserialize, Serialize};

/// A fixed point and its moving partner (world mm).
pub type PointPair = ([f64; 3], [f64; 3]);

/// The mean of `points` (the origin for none).
pub fn centroid(points: impl IntoIterator<Item = [f64; 3]>) -> [f64; 3] {
    let (sum, n) = points.into_iter().fold(([0.0; 3], 0usize), |(s, n), p| {
        (std::array::from_fn(|k| s[k] + p[k]), n + 1)
    });
    sum.map(|v| v / n.max(1) as f64)
}

/// Which transforms a landmark fit chooses from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FitModel {
    /// Rotation and translation.
    #[default]
    Rigid,
    /// Rigid with one scale (Umeyama): for subjects of different size.
    Similarity,
    /// Any affine map (least squares): needs four pairs off one plane.
    Affine,
}

impl FitModel {
    pub const ALL: [FitModel; 3] = [FitModel::Rigid, FitModel::Similarity, FitModel::Affine];

    pub fn name(self) -> &'static str {
        match self {
            FitModel::Rigid => "rigid",
            FitModel::Similarity => "similarity",
            FitModel::Affine => "affine",
        }
    }
}

/// A fit of point pairs and how far each pair stays apart under it.
#[derive(Clone, Debug, PartialEq)]
pub struct LandmarkFit {
    /// Fixed world (mm) to moving world (mm), as every transform in the registration.
    pub affine: Affine,
    /// `|A(fixed) − moving|` per pair (mm): the fiducial registration error.
    pub residuals_mm: Vec<f64>,
}

/// Fits `A` of `model` with `A(fixed) ≈ moving` over `pairs` of (fixed, moving) world points
/// (mm), in the least-squares sense.
///
/// Needs three pairs whose fixed points do not lie on one line (a rotation about that line would
/// be free); an affine fit, four not in one plane.
pub fn fit_landmarks(pairs: &[PointPair], model: FitModel) -> Result<LandmarkFit> {
    let (least, in_words) = match model {
        FitModel::Affine => (4, "four"),
        _ => (3, "three"),
    };
    if pairs.len() < least {
        return Err(Error::Config(format!(
            "a {} landmark fit needs at least {in_words} landmark pairs; there are {}",
            model.name(),
            pairs.len()
        )));
    }
    let n = pairs.len() as f64;
    let cf = centroid(pairs.iter().map(|p| p.0));
    let cm = centroid(pairs.iter().map(|p| p.1));
    // Scatter of the fixed points, to refuse degenerate layouts; cross-covariance for the map.
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
    let (mut spread, _) = symmetric_eigen(scatter);
    spread.sort_by(|a, b| b.total_cmp(a));
    // A spread below a tenth of a millimetre (rms) across a direction counts as none.
    if spread[1] / n < 0.01 {
        return Err(Error::Config(
            "the fixed landmarks lie on one line: a rotation about it is not fixed; place a \
             pair off that line"
                .into(),
        ));
    }
    if model == FitModel::Affine && spread[2] / n < 0.01 {
        return Err(Error::Config(
            "the fixed landmarks lie in one plane: an affine fit needs a pair off it".into(),
        ));
    }
    let linear = match model {
        FitModel::Rigid => horn_rotation(&s),
        FitModel::Similarity => {
            let r = horn_rotation(&s);
            // Umeyama's scale: Σ bᵀ R a / Σ |a|².
            let turned: f64 = (0..3)
                .map(|i| (0..3).map(|k| r[i][k] * s[k][i]).sum::<f64>())
                .sum();
            let size: f64 = (0..3).map(|i| scatter[i][i]).sum();
            r.map(|row| row.map(|v| v * turned / size))
        }
        FitModel::Affine => {
            // M = (Σ b aᵀ)(Σ a aᵀ)⁻¹.
            let inverse = Affine::from_linear_translation(scatter, [0.0; 3])
                .inverse()
                .ok_or_else(|| Error::Config("the fixed landmarks lie in one plane".into()))?
                .linear();
            std::array::from_fn(|r| {
                std::array::from_fn(|c| (0..3).map(|k| s[k][r] * inverse[k][c]).sum())
            })
        }
    };
    let mc: [f64; 3] = std::array::from_fn(|i| (0..3).map(|k| linear[i][k] * cf[k]).sum());
    let affine = Affine::from_linear_translation(linear, std::array::from_fn(|i| cm[i] - mc[i]));
    let residuals_mm = pairs
        .iter()
        .map(|(f, m)| {
            let p = affine.apply(*f);
            (0..3).map(|k| (p[k] - m[k]).powi(2)).sum::<f64>().sqrt()
        })
        .collect();
    Ok(LandmarkFit {
        affine,
        residuals_mm,
    })
}

/// The rotation `R` maximising `Σ bᵀ R a` for cross-covariance `s = Σ a bᵀ`: the unit
/// quaternion of the largest eigenvalue of Horn's 4 × 4 matrix.
fn horn_rotation(s: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let [[sxx, sxy, sxz], [syx, syy, syz], [szx, szy, szz]] = *s;
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
    quaternion_rotation(std::array::from_fn(|r| vectors[r][best]))
}

/// `landmarks` (fixed, moving) as point pairs (world mm), paired by name or else by order.
pub fn landmark_pairs(landmarks: Option<(&LandmarkSet, &LandmarkSet)>) -> Result<Vec<PointPair>> {
    let Some((fixed, moving)) = landmarks else {
        return Err(Error::Config(
            "a landmark fit needs fixed and moving landmarks".into(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::affine::{rotation, rotation_angles};

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
        let fit = fit_landmarks(&pairs, FitModel::Rigid).unwrap();
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
        let fit = fit_landmarks(&pairs, FitModel::Rigid).unwrap();
        assert!(fit.affine.max_abs_diff(&moved) < 0.1, "{:?}", fit.affine);
        let rms = (fit.residuals_mm.iter().map(|e| e * e).sum::<f64>() / 5.0).sqrt();
        assert!(rms > 0.05 && rms < 0.45, "{rms}");
    }

    #[test]
    fn a_scaled_and_a_sheared_map_are_recovered_by_their_models() {
        let r = rotation([-0.2, 0.4, 0.1]);
        let scaled = Affine::from_linear_translation(r.map(|row| row.map(|v| v * 1.15)), [3.0; 3]);
        let mut sheared_m = r;
        sheared_m[0][1] += 0.2;
        sheared_m[2] = sheared_m[2].map(|v| v * 0.9);
        let sheared = Affine::from_linear_translation(sheared_m, [-5.0, 0.0, 7.0]);
        for (model, known) in [(FitModel::Similarity, scaled), (FitModel::Affine, sheared)] {
            let pairs: Vec<_> = points().into_iter().map(|p| (p, known.apply(p))).collect();
            let fit = fit_landmarks(&pairs, model).unwrap();
            assert!(
                fit.affine.max_abs_diff(&known) < 1e-9,
                "{model:?}: {:?}",
                fit.affine
            );
            // A rigid fit cannot follow the scale: its residuals show it.
            let rigid = fit_landmarks(&pairs, FitModel::Rigid).unwrap();
            assert!(rigid.residuals_mm.iter().any(|&e| e > 0.5));
        }
    }

    #[test]
    fn too_few_pairs_pairs_on_a_line_or_for_an_affine_in_a_plane_are_refused() {
        let pairs = [([0.0; 3], [1.0; 3]), ([1.0, 0.0, 0.0], [2.0, 1.0, 1.0])];
        let refused =
            |pairs: &[PointPair], model| fit_landmarks(pairs, model).unwrap_err().to_string();
        assert!(refused(&pairs, FitModel::Rigid).contains("three"));
        let line: Vec<_> = (0..4)
            .map(|i| ([i as f64 * 10.0, 0.0, 0.0], [0.0, i as f64 * 10.0, 0.0]))
            .collect();
        assert!(refused(&line, FitModel::Similarity).contains("one line"));
        let plane: Vec<_> = points()
            .into_iter()
            .map(|p| ([p[0], p[1], 0.0], [p[1], p[0], 2.0]))
            .collect();
        assert!(refused(&plane, FitModel::Affine).contains("one plane"));
        assert!(fit_landmarks(&plane, FitModel::Rigid).is_ok());
    }
}
