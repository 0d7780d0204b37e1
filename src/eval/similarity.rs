//! Image similarity on one grid: NCC, mutual information and SSIM. Voxels where either image is
//! NaN (outside a warped image) are left out.
//!
//! - NCC: Pearson correlation of the two intensity sets.
//! - MI: `Σ p(a,b) ln(p(a,b) / (p(a) p(b)))` in nats, from a 32×32 joint histogram spanning each
//!   image's own range; NMI = `(H(A) + H(B)) / H(A,B)` (Studholme), in `[1, 2]`.
//! - SSIM: mean over voxels of Wang et al.'s local SSIM with a 3D Gaussian window (σ = 1.5 voxels),
//!   `C1 = (0.01 L)²`, `C2 = (0.03 L)²`, `L` the fixed image's intensity range.

use super::joint_histogram::JointHistogram;
use crate::volume::ScalarVolume;
use crate::volume::filter::gaussian_blur;

const BINS: usize = 32;

fn pairs<'a>(
    a: &'a ScalarVolume,
    b: &'a ScalarVolume,
) -> impl Iterator<Item = (f64, f64)> + Clone + 'a {
    a.data()
        .iter()
        .zip(b.data())
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|(&x, &y)| (x as f64, y as f64))
}

/// Pearson correlation, NaN when either image is constant or nothing overlaps.
pub fn ncc(a: &ScalarVolume, b: &ScalarVolume) -> f64 {
    let (mut n, mut sa, mut sb) = (0.0, 0.0, 0.0);
    for (x, y) in pairs(a, b) {
        n += 1.0;
        sa += x;
        sb += y;
    }
    let (ma, mb) = (sa / n, sb / n);
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (x, y) in pairs(a, b) {
        cov += (x - ma) * (y - mb);
        va += (x - ma) * (x - ma);
        vb += (y - mb) * (y - mb);
    }
    cov / (va * vb).sqrt()
}

/// `(MI in nats, NMI)`, NaN when nothing overlaps.
pub fn mutual_information(a: &ScalarVolume, b: &ScalarVolume) -> (f64, f64) {
    JointHistogram::of_pairs(pairs(a, b), BINS)
        .information()
        .unwrap_or((f64::NAN, f64::NAN))
}

/// Mean local SSIM (3D Gaussian window).
pub fn ssim(a: &ScalarVolume, b: &ScalarVolume) -> f64 {
    let dims = a.grid().dims();
    let valid: Vec<bool> = a
        .data()
        .iter()
        .zip(b.data())
        .map(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let clean = |v: &ScalarVolume| -> Vec<f32> {
        v.data()
            .iter()
            .zip(&valid)
            .map(|(&x, &ok)| if ok { x } else { 0.0 })
            .collect()
    };
    let (x, y) = (clean(a), clean(b));
    let (lo, hi) = x
        .iter()
        .zip(&valid)
        .filter(|(_, ok)| **ok)
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), (&v, _)| {
            (l.min(v), h.max(v))
        });
    let l = (hi - lo).max(f32::EPSILON) as f64;
    let (c1, c2) = ((0.01 * l).powi(2), (0.03 * l).powi(2));
    let blur = |v: &[f32]| gaussian_blur(v, dims, [1.5; 3]);
    let product = |p: &[f32], q: &[f32]| p.iter().zip(q).map(|(a, b)| a * b).collect::<Vec<f32>>();
    let (mx, my) = (blur(&x), blur(&y));
    let (sxx, syy, sxy) = (
        blur(&product(&x, &x)),
        blur(&product(&y, &y)),
        blur(&product(&x, &y)),
    );
    let mut sum = 0.0;
    let mut count = 0.0;
    for i in 0..x.len() {
        if !valid[i] {
            continue;
        }
        let (mx, my) = (mx[i] as f64, my[i] as f64);
        let vx = sxx[i] as f64 - mx * mx;
        let vy = syy[i] as f64 - my * my;
        let cxy = sxy[i] as f64 - mx * my;
        sum +=
            ((2.0 * mx * my + c1) * (2.0 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
        count += 1.0;
    }
    sum / count
}
