//! A global translation search for the affine stage's start, after the Cross-Sim-NGF paper of the
//! WBIR 2022 proceedings: both images on world-axis grids a few millimetres apart, their normalised
//! gradient fields `n = ∇I / √(|∇I|² + ε²)`, and the score `Σ_x (n_f(x) · n_m(x + t))²` for every
//! translation `t` at once, as six FFT cross-correlations of the fields' component products.
//! Squared cosines ignore the sign of edges, so the score is multimodal; it needs no shared frame
//! or field of view, which centres of mass do (a thin CT slab of the skull's top otherwise lands
//! at the middle of a head MR).

use super::pyramid::resample_through;
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::gpu::kernels::smooth::SmoothKernel;
use crate::gpu::kernels::warp::WarpKernel;
use crate::volume::{Affine, Grid, ScalarVolume};
use rustfft::FftPlanner;
use rustfft::num_complex::Complex32;

/// Shifts are only scored where the two boxes overlap by at least this fraction of the smaller.
const MIN_OVERLAP: f64 = 0.5;

/// The translation `t` (world mm) that takes fixed point `x` to moving point `x + t` with the best
/// edge agreement, searched on grids of `spacing_mm`.
pub fn best_translation(
    ctx: &GpuContext,
    kernels: (&SmoothKernel, &WarpKernel),
    (fixed, moving): (&ScalarVolume, &ScalarVolume),
    spacing_mm: f64,
) -> Result<[f64; 3]> {
    let (f_grid, f_values) = on_world_axes(ctx, kernels, fixed, spacing_mm)?;
    let (m_grid, m_values) = on_world_axes(ctx, kernels, moving, spacing_mm)?;
    let (nf, nm) = (f_grid.dims(), m_grid.dims());
    // Shift d (voxels) pairs fixed voxel i with moving voxel i + d; d ranges over −(nf − 1)..nm.
    let padded: [usize; 3] = std::array::from_fn(|a| (nf[a] + nm[a] - 1).next_power_of_two());
    let fft = Fft3::new(padded);
    let (f_products, m_products) = (ngf_products(&f_values, nf), ngf_products(&m_values, nm));
    let total = padded.iter().product::<usize>();
    let mut score = vec![Complex32::new(0.0, 0.0); total];
    for (fp, mp) in f_products.iter().zip(&m_products) {
        let mut a = fft.forward(fp, nf);
        let b = fft.forward(mp, nm);
        for (x, y) in a.iter_mut().zip(&b) {
            *x = x.conj() * y;
        }
        for (s, x) in score.iter_mut().zip(&a) {
            *s += x;
        }
    }
    fft.inverse(&mut score);

    let smaller = nf.iter().product::<usize>().min(nm.iter().product()) as f64;
    let mut best: Option<(f32, [i64; 3])> = None;
    for (n, s) in score.iter().enumerate() {
        let index = [
            n % padded[0],
            (n / padded[0]) % padded[1],
            n / (padded[0] * padded[1]),
        ];
        let d: [i64; 3] = std::array::from_fn(|a| {
            let v = index[a] as i64;
            if v >= nm[a] as i64 {
                v - padded[a] as i64
            } else {
                v
            }
        });
        let overlap: f64 = (0..3)
            .map(|a| {
                let lo = d[a].max(0);
                let hi = (d[a] + nf[a] as i64).min(nm[a] as i64);
                (hi - lo).max(0) as f64
            })
            .product();
        if overlap < MIN_OVERLAP * smaller {
            continue;
        }
        if best.is_none_or(|(b, _)| s.re > b) {
            best = Some((s.re, d));
        }
    }
    let (_, d) = best.ok_or_else(|| {
        Error::Registration("translation search: the images cannot overlap by half".into())
    })?;
    let (of, om) = (
        f_grid.voxel_to_world([0.0; 3]),
        m_grid.voxel_to_world([0.0; 3]),
    );
    Ok(std::array::from_fn(|a| {
        om[a] - of[a] + spacing_mm * d[a] as f64
    }))
}

/// `image` smoothed and resampled onto the world-axis grid of `spacing_mm` that covers it.
fn on_world_axes(
    ctx: &GpuContext,
    kernels: (&SmoothKernel, &WarpKernel),
    image: &ScalarVolume,
    spacing_mm: f64,
) -> Result<(Grid, Vec<f32>)> {
    let (lo, hi) = image.grid().world_bounds_mm();
    let dims: [usize; 3] =
        std::array::from_fn(|a| ((hi[a] - lo[a]) / spacing_mm).round() as usize + 1);
    let grid = Grid::axis_aligned(dims, [spacing_mm; 3], lo)?;
    let resampled = resample_through(ctx, kernels, image, (&grid, &Affine::IDENTITY), 0.0)?;
    Ok((grid, resampled.into_data()))
}

/// The six products `n_i n_j` of the normalised gradient field (xx, yy, zz, and xy, xz, yz
/// times √2, so that the products' dot product is `(n_f · n_m)²`).
fn ngf_products(values: &[f32], dims: [usize; 3]) -> [Vec<f32>; 6] {
    let [nx, ny, nz] = dims;
    let at = |i: usize, j: usize, k: usize| values[i + nx * (j + ny * k)];
    let central = |v: usize, n: usize| (v.saturating_sub(1), (v + 1).min(n - 1));
    let mut gradients = Vec::with_capacity(values.len());
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                let (i0, i1) = central(i, nx);
                let (j0, j1) = central(j, ny);
                let (k0, k1) = central(k, nz);
                let d = |a: f32, b: f32, steps: usize| {
                    if steps == 0 {
                        0.0
                    } else {
                        (b - a) / steps as f32
                    }
                };
                gradients.push([
                    d(at(i0, j, k), at(i1, j, k), i1 - i0),
                    d(at(i, j0, k), at(i, j1, k), j1 - j0),
                    d(at(i, j, k0), at(i, j, k1), k1 - k0),
                ]);
            }
        }
    }
    let norm = |g: &[f32; 3]| (g[0] * g[0] + g[1] * g[1] + g[2] * g[2]).sqrt();
    let epsilon = (gradients.iter().map(|g| norm(g) as f64).sum::<f64>()
        / gradients.len().max(1) as f64)
        .max(1e-12) as f32;
    let pairs = [(0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)];
    pairs.map(|(p, q)| {
        let weight = if p == q {
            1.0
        } else {
            std::f32::consts::SQRT_2
        };
        gradients
            .iter()
            .map(|g| {
                let n2 = g[0] * g[0] + g[1] * g[1] + g[2] * g[2] + epsilon * epsilon;
                weight * g[p] * g[q] / n2
            })
            .collect()
    })
}

/// 3D complex FFTs of one padded size, one axis at a time.
struct Fft3 {
    dims: [usize; 3],
    forward: [std::sync::Arc<dyn rustfft::Fft<f32>>; 3],
    inverse: [std::sync::Arc<dyn rustfft::Fft<f32>>; 3],
}

impl Fft3 {
    fn new(dims: [usize; 3]) -> Fft3 {
        let mut planner = FftPlanner::new();
        Fft3 {
            dims,
            forward: dims.map(|n| planner.plan_fft_forward(n)),
            inverse: dims.map(|n| planner.plan_fft_inverse(n)),
        }
    }

    /// The transform of `values` (on a `dims` grid) zero-padded to the plan's size.
    fn forward(&self, values: &[f32], dims: [usize; 3]) -> Vec<Complex32> {
        let [px, py, _] = self.dims;
        let mut data = vec![Complex32::new(0.0, 0.0); self.dims.iter().product()];
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    data[i + px * (j + py * k)].re = values[i + dims[0] * (j + dims[1] * k)];
                }
            }
        }
        self.transform(&mut data, &self.forward);
        data
    }

    /// The inverse transform in place (unnormalised: only the peak's position is wanted).
    fn inverse(&self, data: &mut [Complex32]) {
        self.transform(data, &self.inverse);
    }

    fn transform(
        &self,
        data: &mut [Complex32],
        plans: &[std::sync::Arc<dyn rustfft::Fft<f32>>; 3],
    ) {
        let [px, py, pz] = self.dims;
        plans[0].process(data);
        let mut line = Vec::new();
        for (axis, stride, n) in [(1, px, py), (2, px * py, pz)] {
            let lines: Vec<usize> = (0..data.len()).filter(|&s| (s / stride) % n == 0).collect();
            for start in lines {
                line.clear();
                line.extend((0..n).map(|t| data[start + t * stride]));
                plans[axis].process(&mut line);
                for (t, v) in line.iter().enumerate() {
                    data[start + t * stride] = *v;
                }
            }
        }
    }
}
