//! Stationary velocity fields: the displacement `exp(v)` of flowing along `v` for unit time, by
//! scaling and squaring. The CPU reference of `shaders/velocity_exp.wgsl`.
//!
//! With `K` squarings: `u₀ = v / 2ᴷ`, then `K` times `u ← u + u∘(id + u)` (the map composed with
//! itself), where `u∘(id + u)` is `u` interpolated trilinearly at `x + u(x)`, taking the nearest
//! border value beyond the grid. Each `id + u` stays invertible while `u₀` is small, so the result
//! is a diffeomorphism up to interpolation error.

use super::VectorField;

/// One squaring of the scaled field: `s·u(x) + s·u(x + s·u(x))`.
pub fn square_scaled(u: &VectorField, scale: f64) -> VectorField {
    let grid = u.grid();
    let dims = grid.dims();
    let inv = grid.voxel_from_world().linear();
    let data = u.data();
    let out = (0..grid.voxel_count())
        .map(|n| {
            let a = data[n].map(|c| c as f64 * scale);
            let [i, j, k] = [
                n % dims[0],
                (n / dims[0]) % dims[1],
                n / (dims[0] * dims[1]),
            ];
            let v = [i as f64, j as f64, k as f64];
            let p: [f64; 3] = std::array::from_fn(|r| {
                (v[r] + (0..3).map(|c| inv[r][c] * a[c]).sum::<f64>())
                    .clamp(0.0, (dims[r] - 1) as f64)
            });
            let b = super::resample::trilinear(dims, p, |m| data[m]).expect("clamped inside");
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
