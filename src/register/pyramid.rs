//! Multi-resolution pyramid: coarser grids over the same extent, and images smoothed and
//! resampled onto them on the GPU.

use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::gpu::buffer::upload_f32;
use crate::gpu::kernels::similarity::{IntensityRanges, Similarity, SimilarityLevel};
use crate::gpu::kernels::smooth::SmoothKernel;
use crate::gpu::kernels::warp::{SampleRequest, WarpKernel};
use crate::volume::{Affine, Grid, ScalarVolume};
use std::sync::{Arc, Mutex};

/// The grid whose spacing is about `shrink` times `grid`'s finest, on every axis no finer than
/// `grid`'s own (so 5 mm slices are not thinned as much as 1 mm rows: the level tends to
/// isotropy), at least one voxel, covering the same extent: the level's voxel `i` is centred at
/// the fine continuous index `(i + ½) f − ½`, `f = n / n_level` (so the first and last voxel
/// edges coincide). For an isotropic grid that is `shrink` times coarser on each axis.
pub fn level_grid(grid: &Grid, shrink: f64) -> Result<Grid> {
    let dims = grid.dims();
    let spacing = grid.spacing_mm();
    let finest = grid.min_spacing_mm();
    let level: [usize; 3] = std::array::from_fn(|a| {
        let axis_shrink = (shrink * finest / spacing[a]).max(1.0);
        ((dims[a] as f64 / axis_shrink).round() as usize).max(1)
    });
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
    kernels: (&SmoothKernel, &WarpKernel),
    image: &ScalarVolume,
    target: &Grid,
) -> Result<ScalarVolume> {
    if image.grid().same_as(target, 1e-6) {
        return Ok(image.clone());
    }
    resample_through(ctx, kernels, image, (target, &Affine::IDENTITY), 0.0)
}

/// `image` smoothed against aliasing for `target`'s spacing and sampled at `through(x)` for each
/// voxel centre `x` of `target` (both on the GPU); `outside` beyond the image.
pub fn resample_through(
    ctx: &GpuContext,
    (smooth, warp): (&SmoothKernel, &WarpKernel),
    image: &ScalarVolume,
    (target, through): (&Grid, &Affine),
    outside: f32,
) -> Result<ScalarVolume> {
    let sigma = antialias_sigma(image.grid(), target);
    let smoothed = if sigma.iter().any(|&s| s > 0.0) {
        smooth.blur(ctx, image, sigma)?
    } else {
        image.clone()
    };
    let sampled = warp.sample(
        ctx,
        &SampleRequest {
            moving: &smoothed,
            fixed: target,
            moving_from_fixed: through,
            displacement: None,
            outside,
            with_gradient: false,
        },
    )?;
    ScalarVolume::new(target.clone(), sampled.values)
}

/// The normalised fixed and moving images of one registration and their coarser versions, each
/// level made once (from a finer level already made) and shared by the stages.
pub struct Pyramid {
    fixed: ScalarVolume,
    moving: ScalarVolume,
    ranges: IntensityRanges,
    levels: Mutex<Vec<(f64, Arc<LevelImages>)>>,
}

/// Both images on one level: the fixed image on the level grid, the moving image on a grid of its
/// own no finer than that level's spacing.
pub struct LevelImages {
    pub fixed: ScalarVolume,
    pub moving: ScalarVolume,
}

impl Pyramid {
    pub fn new(fixed: ScalarVolume, moving: ScalarVolume) -> Arc<Pyramid> {
        let (fixed, moving) = (normalised(fixed), normalised(moving));
        Arc::new(Pyramid {
            ranges: IntensityRanges::of(&fixed, &moving),
            fixed,
            moving,
            levels: Mutex::new(Vec::new()),
        })
    }

    /// The full-resolution fixed image (normalised).
    pub fn fixed(&self) -> &ScalarVolume {
        &self.fixed
    }

    pub fn moving(&self) -> &ScalarVolume {
        &self.moving
    }

    /// The intensity ranges of both full-resolution images, shared by every level.
    pub fn ranges(&self) -> IntensityRanges {
        self.ranges
    }

    /// The level `shrink` times coarser than the fixed grid.
    pub fn level(
        &self,
        ctx: &GpuContext,
        kernels: (&SmoothKernel, &WarpKernel),
        shrink: f64,
    ) -> Result<Arc<LevelImages>> {
        let mut levels = self.levels.lock().unwrap_or_else(|e| e.into_inner());
        self.level_in(&mut levels, ctx, kernels, shrink)
    }

    fn level_in(
        &self,
        levels: &mut Vec<(f64, Arc<LevelImages>)>,
        ctx: &GpuContext,
        (smooth, warp): (&SmoothKernel, &WarpKernel),
        shrink: f64,
    ) -> Result<Arc<LevelImages>> {
        if let Some((_, level)) = levels.iter().find(|(s, _)| (s - shrink).abs() < 1e-9) {
            return Ok(level.clone());
        }
        // Start from the coarsest level made so far that is still finer than this one; with none,
        // make the level half as coarse first, so that each step smooths a grid only twice as
        // fine as its result, with short filters, instead of the full-resolution image.
        let finer = levels
            .iter()
            .filter(|(s, _)| *s < shrink)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, l)| l.clone());
        let source = match finer {
            None if shrink >= 4.0 => {
                Some(self.level_in(levels, ctx, (smooth, warp), shrink / 2.0)?)
            }
            other => other,
        };
        let (fixed, moving) = match &source {
            Some(l) => (&l.fixed, &l.moving),
            None => (&self.fixed, &self.moving),
        };
        let grid = level_grid(self.fixed.grid(), shrink)?;
        let moving_shrink = (grid.min_spacing_mm() / self.moving.grid().min_spacing_mm()).max(1.0);
        let moving_grid = level_grid(self.moving.grid(), moving_shrink)?;
        let level = Arc::new(LevelImages {
            fixed: downsample(ctx, (smooth, warp), fixed, &grid)?,
            moving: downsample(ctx, (smooth, warp), moving, &moving_grid)?,
        });
        levels.push((shrink, level.clone()));
        Ok(level)
    }
}

/// How far beyond the affine footprint of the fixed grid a deformable stage may still sample the
/// moving image (mm); farther samples count as outside.
pub const REACH_MARGIN_MM: f64 = 10.0;

/// The axis-aligned bounds `(lo, hi)` of the outer voxel corners of a `dims` grid (voxel −½ and
/// n − ½ on each axis) mapped by `to`.
fn outer_bounds(dims: [usize; 3], to: &Affine) -> ([f64; 3], [f64; 3]) {
    let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
    for corner in 0..8 {
        let v: [f64; 3] = std::array::from_fn(|a| {
            if corner >> a & 1 == 0 {
                -0.5
            } else {
                dims[a] as f64 - 0.5
            }
        });
        let p = to.apply(v);
        for a in 0..3 {
            lo[a] = lo[a].min(p[a]);
            hi[a] = hi[a].max(p[a]);
        }
    }
    (lo, hi)
}

/// The voxel box `(lo, dims)` of `moving` that `fixed` reaches through `moving_from_fixed`, grown
/// by [`REACH_MARGIN_MM`]; `None` when that is the whole moving grid or nothing of it.
fn reached_box(
    fixed: &Grid,
    moving: &Grid,
    moving_from_fixed: &Affine,
) -> Option<([usize; 3], [usize; 3])> {
    let to_moving = moving
        .voxel_from_world()
        .then_after(moving_from_fixed)
        .then_after(fixed.world_from_voxel());
    let (lo, hi) = outer_bounds(fixed.dims(), &to_moving);
    let spacing = moving.spacing_mm();
    let n = moving.dims();
    let mut start = [0usize; 3];
    let mut size = [0usize; 3];
    for a in 0..3 {
        let margin = REACH_MARGIN_MM / spacing[a];
        let first = (lo[a] - margin).floor().max(0.0);
        let last = (hi[a] + margin).ceil().min(n[a] as f64 - 1.0);
        if last < first {
            return None;
        }
        start[a] = first as usize;
        size[a] = (last - first) as usize + 1;
    }
    (size != n).then_some((start, size))
}

/// Where a level's moving image is placed on the device.
#[derive(Clone, Copy, Debug)]
pub enum MovingPlacement<'a> {
    /// On its own grid, whole: the affine stage, whose mapping still changes.
    Whole,
    /// On its own grid, cropped to what the fixed grid reaches through this settled affine, plus
    /// [`REACH_MARGIN_MM`]: a moving scan with a much larger field of view then costs no more
    /// memory than the fixed one.
    Reached(&'a Affine),
    /// Resampled onto a grid with the fixed level's voxel axes and spacing. Descriptor metrics
    /// compare channels made along voxel axes, so both images need the same axes (an LPS moving
    /// image against an RAS fixed one would otherwise compare left with right). With a settled
    /// affine the moving image is resampled through it over the fixed footprint plus
    /// [`REACH_MARGIN_MM`] (the stage then warps with the identity); without one, over its whole
    /// footprint as it lies.
    FixedAxes(Option<&'a Affine>),
}

impl<'a> MovingPlacement<'a> {
    /// The placement a stage with this metric needs; `settled` is the deformable stage's affine.
    pub fn for_stage(metric: Similarity, settled: Option<&'a Affine>) -> MovingPlacement<'a> {
        match (metric.is_descriptor(), settled) {
            (true, settled) => MovingPlacement::FixedAxes(settled),
            (false, Some(a)) => MovingPlacement::Reached(a),
            (false, None) => MovingPlacement::Whole,
        }
    }
}

/// A fixed and a moving image on one pyramid level, on the device.
pub struct LevelPair {
    pub grid: Grid,
    pub moving_grid: Grid,
    pub fixed: wgpu::Buffer,
    pub moving: wgpu::Buffer,
    pub ranges: IntensityRanges,
    /// The affine the moving image was resampled through (identity when it was not): the stage's
    /// warps apply the rest of their mapping, see [`LevelPair::warp_affine`].
    resampled_through: Option<Affine>,
}

impl LevelPair {
    /// Uploads the pyramid's level `shrink`, the moving image placed as `placement` says.
    pub fn new(
        ctx: &GpuContext,
        kernels: (&SmoothKernel, &WarpKernel),
        pyramid: &Pyramid,
        shrink: f64,
        placement: MovingPlacement,
    ) -> Result<LevelPair> {
        let level = pyramid.level(ctx, kernels, shrink)?;
        let fixed_grid = level.fixed.grid();
        let (moving, resampled_through) = match placement {
            MovingPlacement::Whole => (level.moving.clone(), None),
            MovingPlacement::Reached(a) => match reached_box(fixed_grid, level.moving.grid(), a) {
                Some((lo, dims)) => (level.moving.crop(lo, dims), None),
                None => (level.moving.clone(), None),
            },
            MovingPlacement::FixedAxes(settled) => {
                let through = settled.copied().unwrap_or(Affine::IDENTITY);
                let target = match settled {
                    Some(_) => grown_grid(fixed_grid, REACH_MARGIN_MM)?,
                    None => fixed_axes_cover(fixed_grid, level.moving.grid())?,
                };
                // Beyond the moving image, its background (the low end of its range), so the
                // field of view's edge does not read as a structure.
                let background = pyramid.ranges().moving[0];
                let image =
                    resample_through(ctx, kernels, &level.moving, (&target, &through), background)?;
                (image, Some(through))
            }
        };
        Ok(LevelPair {
            fixed: upload_f32(ctx, "fixed level", level.fixed.data())?,
            moving: upload_f32(ctx, "moving level", moving.data())?,
            grid: fixed_grid.clone(),
            moving_grid: moving.grid().clone(),
            ranges: pyramid.ranges(),
            resampled_through,
        })
    }

    /// The affine a stage whose mapping is `moving_from_fixed` warps this level's moving image
    /// with: the mapping itself, less the affine the image was already resampled through.
    pub fn warp_affine(&self, moving_from_fixed: &Affine) -> Result<Affine> {
        match &self.resampled_through {
            None => Ok(*moving_from_fixed),
            Some(through) => Ok(through
                .inverse()
                .ok_or_else(|| Error::Registration("the affine is singular".into()))?
                .then_after(moving_from_fixed)),
        }
    }

    /// What a similarity metric makes its working buffers from.
    pub fn similarity_level(&self) -> SimilarityLevel<'_> {
        SimilarityLevel {
            grid: &self.grid,
            moving_grid: &self.moving_grid,
            fixed: &self.fixed,
            moving: &self.moving,
            ranges: self.ranges,
        }
    }
}

/// `grid` grown by `margin_mm` (whole voxels) on every side, with the same axes and spacing.
pub fn grown_grid(grid: &Grid, margin_mm: f64) -> Result<Grid> {
    let spacing = grid.spacing_mm();
    let pad: [usize; 3] = std::array::from_fn(|a| (margin_mm / spacing[a]).ceil() as usize);
    let dims = grid.dims();
    grid.lattice_box(
        pad.map(|p| -(p as i64)),
        std::array::from_fn(|a| dims[a] + 2 * pad[a]),
    )
}

/// The smallest grid with `axes`' voxel axes, spacing and lattice that covers all of `cover`.
fn fixed_axes_cover(axes: &Grid, cover: &Grid) -> Result<Grid> {
    let to_axes = axes.voxel_from_world().then_after(cover.world_from_voxel());
    let (lo, hi) = outer_bounds(cover.dims(), &to_axes);
    let first = lo.map(|v| v.floor() as i64);
    axes.lattice_box(
        first,
        std::array::from_fn(|a| (hi[a].ceil() as i64 - first[a] + 1) as usize),
    )
}

/// Intensities divided by their 99th percentile, so loss weights and learning rates mean the same
/// for every modality and scanner scale.
fn normalised(image: ScalarVolume) -> ScalarVolume {
    let [p99] = image.quantiles([0.99]);
    let scale = if p99 > 0.0 { 1.0 / p99 } else { 1.0 };
    let grid = image.grid().clone();
    let data = image.into_data().into_iter().map(|v| v * scale).collect();
    ScalarVolume::new(grid, data).expect("same size")
}
