//! Jacobian determinant of the mapping `x ↦ x + u(x)`, folding fraction and SDlogJ.
//!
//! Stencil: derivatives of `u` along each voxel axis by central differences `(u[i+1] − u[i−1]) / 2`
//! inside and one-sided `u[1] − u[0]` / `u[n−1] − u[n−2]` at the borders (numpy's `gradient`, as
//! Learn2Reg's evaluation uses), converted to world mm through the grid's affine
//! (`∂u/∂x = ∂u/∂v · (world_from_voxel)⁻¹`), then `det J = det(I + ∂u/∂x)`.
//! - fold fraction: share of voxels with `det J ≤ 0`;
//! - SDlogJ: standard deviation of `ln(clip(det J, 1e-9, 1e9))` over all voxels.
//!
//! Central differences can miss folds that alternate voxel by voxel; the stencil is named so the
//! numbers are reproducible, not because it is complete.

use crate::volume::grid::det3;
use crate::volume::{ScalarVolume, VectorField};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct JacobianStats {
    pub fold_fraction: f64,
    pub folded_voxels: usize,
    pub sdlogj: f64,
    pub min: f64,
    pub max: f64,
}

/// How the numbers of [`JacobianStats`] are defined, for people reading them.
pub const DEFINITION: &str = "det J of x → x + u(x) in world mm, derivatives by central \
differences (one-sided at the borders, as numpy's gradient and Learn2Reg); folds: voxels with \
det J ≤ 0; SDlogJ: standard deviation of ln det J over all voxels, det J clipped to \
[1e-9, 1e9]. Central differences miss a voxel that jumps past its neighbours: the \
non-diffeomorphic volume (metrics, score in full) does not.";

impl JacobianStats {
    /// One line for people: fold percentage and count, SDlogJ, the det J range.
    pub fn summary(&self) -> String {
        format!(
            "folds (det J ≤ 0): {:.4} % ({} voxels) · SDlogJ {:.4} · det J {:.3} to {:.3}",
            100.0 * self.fold_fraction,
            self.folded_voxels,
            self.sdlogj,
            self.min,
            self.max
        )
    }
}

/// `det J` at every voxel of the field's grid.
pub fn jacobian_determinant(field: &VectorField) -> ScalarVolume {
    let grid = field.grid();
    let dims = grid.dims();
    let inv = grid.voxel_from_world().linear();
    let u = field.data();
    let strides = [1, dims[0], dims[0] * dims[1]];
    let mut out = vec![0f32; grid.voxel_count()];
    crate::parallel::for_each_slice(&mut out, dims[0] * dims[1], |k, slice| {
        for (local, o) in slice.iter_mut().enumerate() {
            let n = k * dims[0] * dims[1] + local;
            let p = [n % dims[0], (n / dims[0]) % dims[1], k];
            // d[c][a] = ∂u_c / ∂v_a (voxel axes).
            let mut d = [[0f64; 3]; 3];
            for a in 0..3 {
                if dims[a] < 2 {
                    continue;
                }
                let (lo, hi, h) = if p[a] == 0 {
                    (n, n + strides[a], 1.0)
                } else if p[a] + 1 == dims[a] {
                    (n - strides[a], n, 1.0)
                } else {
                    (n - strides[a], n + strides[a], 2.0)
                };
                for c in 0..3 {
                    d[c][a] = (u[hi][c] as f64 - u[lo][c] as f64) / h;
                }
            }
            // J = I + d · inv (world derivatives).
            let mut j = [[0f64; 3]; 3];
            for r in 0..3 {
                for c in 0..3 {
                    j[r][c] =
                        (r == c) as u8 as f64 + (0..3).map(|a| d[r][a] * inv[a][c]).sum::<f64>();
                }
            }
            *o = det3(&j) as f32;
        }
    });
    ScalarVolume::new(grid.clone(), out).expect("sized from the grid")
}

/// Fold fraction, SDlogJ and range of a determinant map.
pub fn jacobian_stats(det: &ScalarVolume) -> JacobianStats {
    let n = det.data().len() as f64;
    let folded_voxels = det.data().iter().filter(|&&v| v <= 0.0).count();
    let logs = det.data().iter().map(|&v| (v as f64).clamp(1e-9, 1e9).ln());
    let mean = logs.clone().sum::<f64>() / n;
    let sdlogj = (logs.map(|l| (l - mean).powi(2)).sum::<f64>() / n).sqrt();
    let (min, max) = det.min_max();
    JacobianStats {
        fold_fraction: folded_voxels as f64 / n,
        folded_voxels,
        sdlogj,
        min: min as f64,
        max: max as f64,
    }
}
