//! Soft Dice of warped one-hot label maps and its gradient with respect to the displacement
//! (`shaders/label_overlap.wgsl`, `shaders/label_gradient.wgsl`): the weak label supervision of the
//! deformable stage, `L = weight · (1 − mean_k Dice_k)` over the labels both maps hold.

use crate::error::{Error, Result};
use crate::gpu::buffer::{read_f32, storage_f32, upload_f32};
use crate::gpu::context::GpuContext;
use crate::gpu::kernel::{ComputeKernel, SampleGeometry};
use crate::gpu::kernels::reduce::ReduceKernel;
use crate::volume::warp::warp_with_gradient;
use crate::volume::{Affine, Grid, ScalarVolume};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    geometry: SampleGeometry,
    fixed_count: u32,
    channels: u32,
    weight_per_channel: f32,
    _pad: u32,
}

/// One level's label maps on the device: one-hot occupancies interleaved per voxel (channel k is
/// label k), the fixed ones on the level grid, the moving ones on `moving_grid`.
pub struct LabelMaps {
    grid: Grid,
    moving_grid: Grid,
    channels: usize,
    fixed: wgpu::Buffer,
    moving: wgpu::Buffer,
    /// Pass 1's per-voxel overlaps and occupancies, `2 · channels` runs of the level's voxels.
    parts: wgpu::Buffer,
    /// `I_k`, `Σ w_k`, `Σ f_k` for each channel (the last written once, at upload).
    sums: wgpu::Buffer,
}

impl LabelMaps {
    /// Uploads `fixed` (`channels` values per voxel of `grid`) and `moving` (per voxel of
    /// `moving_grid`).
    pub fn upload(
        ctx: &GpuContext,
        (grid, fixed): (&Grid, &[f32]),
        (moving_grid, moving): (&Grid, &[f32]),
        channels: usize,
    ) -> Result<LabelMaps> {
        let n = grid.voxel_count();
        if channels == 0
            || fixed.len() != n * channels
            || moving.len() != moving_grid.voxel_count() * channels
        {
            return Err(Error::Mismatch(format!(
                "label maps: {} and {} values for {channels} labels on grids of {n} and {} voxels",
                fixed.len(),
                moving.len(),
                moving_grid.voxel_count()
            )));
        }
        let mut sums = vec![0f32; 3 * channels];
        for (c, sum) in sums[2 * channels..].iter_mut().enumerate() {
            *sum = fixed
                .iter()
                .skip(c)
                .step_by(channels)
                .map(|&v| v as f64)
                .sum::<f64>() as f32;
        }
        Ok(LabelMaps {
            fixed: upload_f32(ctx, "fixed labels (one-hot)", fixed)?,
            moving: upload_f32(ctx, "moving labels (one-hot)", moving)?,
            parts: storage_f32(ctx, "label overlaps", 2 * channels * n)?,
            sums: upload_f32(ctx, "label sums", &sums)?,
            grid: grid.clone(),
            moving_grid: moving_grid.clone(),
            channels,
        })
    }

    /// Each label's soft Dice from the last recorded evaluation (after its submission).
    pub fn read_dice(&self, ctx: &GpuContext) -> Result<Vec<f64>> {
        let sums = read_f32(ctx, &self.sums, 3 * self.channels)?;
        Ok(dice_of(&sums, self.channels))
    }
}

fn dice_of(sums: &[f32], channels: usize) -> Vec<f64> {
    (0..channels)
        .map(|k| {
            let total = sums[2 * channels + k] as f64 + sums[channels + k] as f64;
            if total > 0.0 {
                2.0 * sums[k] as f64 / total
            } else {
                1.0
            }
        })
        .collect()
}

pub struct LabelDiceKernel {
    overlap: ComputeKernel,
    gradient: ComputeKernel,
    reduce: ReduceKernel,
}

impl LabelDiceKernel {
    pub fn new(ctx: &GpuContext) -> Result<LabelDiceKernel> {
        Ok(LabelDiceKernel {
            overlap: ComputeKernel::new(ctx, "label_overlap.wgsl")?,
            gradient: ComputeKernel::new(ctx, "label_gradient.wgsl")?,
            reduce: ReduceKernel::new(ctx)?,
        })
    }

    /// Records the soft Dice of `maps` under `x ↦ A(x + u(x))` (`displacement` interleaved on the
    /// maps' grid) and adds `weight` times its loss's gradient to `grad`.
    pub fn record(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        maps: &LabelMaps,
        (moving_from_fixed, displacement): (&Affine, &wgpu::Buffer),
        weight: f64,
        grad: &wgpu::Buffer,
    ) -> Result<()> {
        let n = maps.grid.voxel_count();
        let channels = maps.channels;
        let params = Params {
            geometry: SampleGeometry::new(&maps.grid, &maps.moving_grid, moving_from_fixed)?,
            fixed_count: n as u32,
            channels: channels as u32,
            weight_per_channel: (weight / channels as f64) as f32,
            _pad: 0,
        };
        let params = bytemuck::bytes_of(&params);
        self.overlap.record(
            ctx,
            encoder,
            params,
            &[&maps.fixed, &maps.moving, displacement, &maps.parts],
            n,
        )?;
        for run in 0..2 * channels {
            self.reduce.record_total(
                ctx,
                encoder,
                (&maps.parts, run * n..(run + 1) * n, false),
                (&maps.sums, run),
            )?;
        }
        self.gradient.record(
            ctx,
            encoder,
            params,
            &[&maps.fixed, &maps.moving, displacement, &maps.sums, grad],
            n,
        )
    }
}

/// What [`reference`] computes.
pub struct LabelDiceReference {
    /// Each label's soft Dice.
    pub dice: Vec<f64>,
    /// `weight · (1 − mean Dice)`.
    pub loss: f64,
    /// `∂loss/∂u` per fixed voxel (world mm⁻¹).
    pub gradient: Vec<[f64; 3]>,
}

/// CPU reference of [`LabelDiceKernel::record`] (in f64), with the maps as in
/// [`LabelMaps::upload`].
pub fn reference(
    (grid, fixed): (&Grid, &[f32]),
    (moving_grid, moving): (&Grid, &[f32]),
    channels: usize,
    (moving_from_fixed, u): (&Affine, &[[f32; 3]]),
    weight: f64,
) -> LabelDiceReference {
    let n = grid.voxel_count();
    let mut dice = Vec::with_capacity(channels);
    let mut gradient = vec![[0f64; 3]; n];
    for c in 0..channels {
        let channel: Vec<f32> = moving.iter().skip(c).step_by(channels).copied().collect();
        let volume = ScalarVolume::new(moving_grid.clone(), channel).expect("same size");
        let outside = super::similarity::OUTSIDE;
        let (values, dw) = warp_with_gradient(&volume, grid, moving_from_fixed, Some(u), outside);
        let w = |i: usize| {
            if super::similarity::is_outside(values[i]) {
                0.0
            } else {
                values[i] as f64
            }
        };
        let f = |i: usize| fixed[i * channels + c] as f64;
        let overlap: f64 = (0..n).map(|i| f(i) * w(i)).sum();
        let total: f64 = (0..n).map(|i| f(i) + w(i)).sum();
        if total <= 0.0 {
            dice.push(1.0);
            continue;
        }
        dice.push(2.0 * overlap / total);
        for i in 0..n {
            let dl_dw =
                -weight / channels as f64 * 2.0 * (f(i) * total - overlap) / (total * total);
            for a in 0..3 {
                gradient[i][a] += dl_dw * dw[i][a] as f64;
            }
        }
    }
    let loss = weight * (1.0 - dice.iter().sum::<f64>() / channels as f64);
    LabelDiceReference {
        dice,
        loss,
        gradient,
    }
}
