//! Stationary velocity fields: the displacement `exp(v)` of flowing along `v` for unit time, by
//! scaling and squaring. The CPU reference of `shaders/velocity_exp.wgsl`.
//!
//! With `K` squarings: `u₀ = v / 2ᴷ`, then `K` times `u ← u + u∘(id + u)` (the map composed with
//! itself), where `u∘(id + u)` is `u` interpolated trilinearly at `x + u(x)`, taking the nearest
//! border value beyond the grid. Each `id + u` stays invertible while `u₀` is small, so the result
//! is a diffeomorphism up to interpolation error.

use super::VectorField;
use super::resample::trilinear_clamped;

/// One squaring of the scaled field: `s·u(x) + s·u(x + s·u(x))`.
pub fn square_scaled(u: &VectorField, scale: f64) -> VectorField {
    let grid = u.grid();
    let inv = grid.voxel_from_world().linear();
    let out = (0..grid.voxel_count())
        .map(|n| {
            let a = u.data()[n].map(|c| c as f64 * scale);
            let v = grid.voxel_of(n);
            let p: [f64; 3] = std::array::from_fn(|r| {
                v[r] as f64 + (0..3).map(|c| inv[r][c] * a[c]).sum::<f64>()
            });
            let b = trilinear_clamped(u, p);
            std::array::from_fn(|c| (a[c] + scale * b[c] as f64) as f32)
        })
        .collect();
    VectorField::new(grid.clone(), out).expect("same grid")
}

/// `exp(v)` with `squarings` squarings (0: `v` itself).
pub fn exp_velocity(v: &VectorField, squarings: u32) -> VectorField {
    if squarings == 0 {
        return v.clone();
    }
    let mut u = square_scaled(v, 0.5f64.powi(squarings as i32));
    for _ in 1..squarings {
        u = square_scaled(&u, 1.0);
    }
    u
}
