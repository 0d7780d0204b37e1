//! Multi-resolution pyramid: coarser grids over the same extent, and images smoothed and
//! resampled onto them on the GPU.

use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::gpu::buffer::upload_f32;
use crate::gpu::kernels::smooth::SmoothKernel;
use crate::gpu::kernels::warp::WarpKernel;
use crate::volume::{Affine, Grid, ScalarVolume};

/// The grid `shrink` times coarser than `grid` along each voxel axis (at least one voxel),
/// covering the same extent: the level's voxel `i` is centred at the fine continuous index
/// `(i + ½) f − ½`, `f = n / n_level` (so the first and last voxel edges coincide).
pub fn level_grid(grid: &Grid, shrink: f64) -> Result<Grid> {
    let dims = grid.dims();
    let level: [usize; 3] =
        std::array::from_fn(|a| ((dims[a] as f64 / shrink).round() as usize).max(1));
    let f: [f64; 3] = std::array::from_fn(|a| dims[a] as f64 / level[a] as f64);
    let scale = Affine::from_linear_translation(
        [[f[0], 0.0, 0.0], [0.0, f[1], 0.0], [0.0, 0.0, f[2]]],
        std::array::from_fn(|a| (f[a] - 1.0) / 2.0),
    );
    Grid::new(level, grid.world_from_voxel().then_after(&scale)).map_err(Error::Mismatch)
}

/// Gaussian σ (voxels of `grid`) before sampling onto `target`: half the spacing ratio where the
/// target is coarser, none otherwise.
pub fn antialias_sigma(grid: &Grid, target: &Grid) -> [f64; 3] {
    let s = grid.spacing_mm();
    let t = target.min_spacing_mm();
    std::array::from_fn(|a| {
        let ratio = t / s[a];
        if ratio > 1.0 { ratio / 2.0 } else { 0.0 }
    })
}

/// `image` smoothed against aliasing and resampled onto `target` (both on the GPU).
pub fn downsample(
    ctx: &GpuContext,
    smooth: &SmoothKernel,
    warp: &WarpKernel,
    image: &ScalarVolume,
    target: &Grid,
) -> Result<ScalarVolume> {
    if image.grid().same_as(target, 1e-6) {
        return Ok(image.clone());
    }
    let sigma = antialias_sigma(image.grid(), target);
    let smoothed = if sigma.iter().any(|&s| s > 0.0) {
        smooth.blur(ctx, image, sigma)?
    } else {
        image.clone()
    };
    warp.resample(ctx, &smoothed, target, 0.0)
}

/// A fixed and a moving image on one pyramid level, on the device.
pub struct LevelPair {
    pub grid: Grid,
    pub moving_grid: Grid,
    pub fixed: wgpu::Buffer,
    pub moving: wgpu::Buffer,
}

impl LevelPair {
    /// The fixed image on the level `shrink` times coarser than its grid, and the moving image on
    /// a grid of its own no finer than that level's spacing.
    pub fn new(
        ctx: &GpuContext,
        (smooth, warp): (&SmoothKernel, &WarpKernel),
        fixed: &ScalarVolume,
        moving: &ScalarVolume,
        shrink: f64,
    ) -> Result<LevelPair> {
        let grid = level_grid(fixed.grid(), shrink)?;
        let fixed_level = downsample(ctx, smooth, warp, fixed, &grid)?;
        let moving_shrink = (grid.min_spacing_mm() / moving.grid().min_spacing_mm()).max(1.0);
        let moving_grid = level_grid(moving.grid(), moving_shrink)?;
        let moving_level = downsample(ctx, smooth, warp, moving, &moving_grid)?;
        Ok(LevelPair {
            fixed: upload_f32(ctx, "fixed level", fixed_level.data())?,
            moving: upload_f32(ctx, "moving level", moving_level.data())?,
            grid,
            moving_grid,
        })
    }
}

/// Intensities divided by their 99th percentile, so loss weights and learning rates mean the same
/// for every modality and scanner scale.
pub fn normalised(image: ScalarVolume) -> ScalarVolume {
    let [p99] = image.quantiles([0.99]);
    let scale = if p99 > 0.0 { 1.0 / p99 } else { 1.0 };
    let grid = image.grid().clone();
    let data = image.into_data().into_iter().map(|v| v * scale).collect();
    ScalarVolume::new(grid, data).expect("same size")
}
