//! Applying a displacement field on the CPU: the reference of the GPU warp.
//!
//! Convention, used throughout Warpbench: a displacement field `u` lives on the fixed image's grid,
//! in world (RAS) millimetres, and fixed point `x` corresponds to moving point `x + u(x)`. So the
//! warped moving image is `warped(x) = moving(x + u(x))` and a fixed landmark `x` maps to
//! `x + u(x)` in the moving image.

use super::image::{LabelVolume, ScalarVolume, VectorField};
use super::resample::{nearest_index, trilinear, trilinear_clamped};
use crate::parallel::for_each_slice;

/// Calls `f(out, continuous moving index)` for every voxel of the field's grid.
fn pull<T: Send>(
    field: &VectorField,
    moving: &super::Grid,
    out: &mut [T],
    f: impl Fn(&mut T, [f64; 3]) + Sync,
) {
    let grid = field.grid();
    let [nx, ny, _] = grid.dims();
    let u = field.data();
    for_each_slice(out, nx * ny, |k, slice| {
        for j in 0..ny {
            for i in 0..nx {
                let n = i + nx * j;
                let x = grid.voxel_to_world([i as f64, j as f64, k as f64]);
                let d = u[n + k * nx * ny];
                let y = [x[0] + d[0] as f64, x[1] + d[1] as f64, x[2] + d[2] as f64];
                f(&mut slice[n], moving.world_to_voxel(y));
            }
        }
    });
}

/// `moving(x + u(x))` on the field's (fixed) grid, trilinear; `outside` beyond the moving image.
pub fn warp_scalar(moving: &ScalarVolume, field: &VectorField, outside: f32) -> ScalarVolume {
    let mut out = vec![outside; field.grid().voxel_count()];
    let (dims, data) = (moving.grid().dims(), moving.data());
    pull(field, moving.grid(), &mut out, |o, p| {
        if let Some([v]) = trilinear(dims, p, |n| [data[n]]) {
            *o = v;
        }
    });
    ScalarVolume::new(field.grid().clone(), out).expect("sized from the field's grid")
}

/// Moving labels pulled through the field, nearest neighbour; background outside.
pub fn warp_labels(moving: &LabelVolume, field: &VectorField) -> LabelVolume {
    let mut out = vec![0i32; field.grid().voxel_count()];
    let (dims, data) = (moving.grid().dims(), moving.data());
    pull(field, moving.grid(), &mut out, |o, p| {
        if let Some(n) = nearest_index(dims, p) {
            *o = data[n];
        }
    });
    LabelVolume::new(field.grid().clone(), out).expect("sized from the field's grid")
}

/// The displacement (mm) at a world point, trilinear; beyond the grid the nearest border value,
/// so landmarks just outside the field still map.
pub fn displacement_at(field: &VectorField, world_mm: [f64; 3]) -> [f64; 3] {
    let p = field.grid().world_to_voxel(world_mm);
    trilinear_clamped(field, p).map(f64::from)
}

/// Warped values and their derivative with respect to the displacement, for fixed-grid voxels:
/// `w(x) = moving(A(x + u(x)))` and `∂w/∂u` (world mm⁻¹), with `A` = `moving_from_fixed` (world to
/// world) and the derivative of the trilinear interpolant (zero outside and along single-sample
/// axes). The reference of the GPU warp kernel's gradient output.
pub fn warp_with_gradient(
    moving: &ScalarVolume,
    fixed: &super::Grid,
    moving_from_fixed: &super::Affine,
    u: Option<&[[f32; 3]]>,
    outside: f32,
) -> (Vec<f32>, Vec<[f32; 3]>) {
    let m = moving
        .grid()
        .voxel_from_world()
        .then_after(moving_from_fixed);
    let lin = m.linear();
    let dims = moving.grid().dims();
    let data = moving.data();
    let mut values = vec![outside; fixed.voxel_count()];
    let mut grads = vec![[0f32; 3]; fixed.voxel_count()];
    for (n, (value, grad)) in values.iter_mut().zip(grads.iter_mut()).enumerate() {
        let x = fixed.index_to_world(n);
        let d = u.map_or([0.0; 3], |u| u[n].map(f64::from));
        let p = m.apply([x[0] + d[0], x[1] + d[1], x[2] + d[2]]);
        let Some((idx, f)) = super::resample::trilinear_corners(dims, p) else {
            continue;
        };
        let at = |i: usize, j: usize, k: usize| {
            data[idx[0][i] + dims[0] * (idx[1][j] + dims[1] * idx[2][k])] as f64
        };
        let weight = |a: usize, s: usize| if s == 0 { 1.0 - f[a] } else { f[a] };
        let mut v = 0.0;
        let mut g = [0.0f64; 3];
        for k in 0..2 {
            for j in 0..2 {
                for i in 0..2 {
                    let c = at(i, j, k);
                    v += weight(0, i) * weight(1, j) * weight(2, k) * c;
                    let sign = |s: usize| if s == 0 { -1.0 } else { 1.0 };
                    g[0] += sign(i) * weight(1, j) * weight(2, k) * c;
                    g[1] += weight(0, i) * sign(j) * weight(2, k) * c;
                    g[2] += weight(0, i) * weight(1, j) * sign(k) * c;
                }
            }
        }
        *value = v as f32;
        *grad = std::array::from_fn(|c| (0..3).map(|r| lin[r][c] * g[r]).sum::<f64>() as f32);
    }
    (values, grads)
}
