//! Similarity terms on the GPU. Each gives per-voxel loss terms (summing to the loss) and `dS/dw`,
//! the derivative with respect to the warped intensity, so the optimiser and the affine and
//! deformable stages need nothing metric-specific: a new metric is one more [`Similarity`] variant
//! and kernel here.

pub mod lncc;
pub mod moments;
pub mod mse;
pub mod ncc;

use crate::error::Result;
use crate::gpu::buffer::storage_f32;
use crate::gpu::context::GpuContext;
use crate::volume::Grid;
use serde::{Deserialize, Serialize};

/// What the warp writes where a sample falls outside the moving image.
pub const OUTSIDE: f32 = -3.0e38;

/// Whether a warped sample is the [`OUTSIDE`] marker (any value below −1e38; the shaders'
/// `is_outside` in `common.wgsl`).
pub fn is_outside(w: f32) -> bool {
    w < -1e38
}

/// Which similarity a stage optimises (losses are minimised: NCC terms are negated).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Similarity {
    /// Mean squared difference of intensities normalised by their 99th percentile.
    Mse,
    /// Global normalised cross-correlation, −cc.
    Ncc,
    /// Local NCC over `(2 radius + 1)³`-voxel windows, −mean(cc²).
    Lncc { radius: u32 },
}

/// The kernels of one metric, compiled once per run.
pub enum SimilarityKernel {
    Mse(mse::MseKernel),
    Ncc(ncc::NccKernel),
    Lncc {
        kernel: lncc::LnccKernel,
        radius: u32,
    },
}

/// A metric's working buffers on one grid.
pub struct SimilarityScratch {
    buffers: Vec<wgpu::Buffer>,
}

impl SimilarityKernel {
    /// The similarity this kernel computes.
    pub fn metric(&self) -> Similarity {
        match self {
            SimilarityKernel::Mse(_) => Similarity::Mse,
            SimilarityKernel::Ncc(_) => Similarity::Ncc,
            SimilarityKernel::Lncc { radius, .. } => Similarity::Lncc { radius: *radius },
        }
    }

    pub fn new(ctx: &GpuContext, metric: Similarity) -> Result<SimilarityKernel> {
        Ok(match metric {
            Similarity::Mse => SimilarityKernel::Mse(mse::MseKernel::new(ctx)?),
            Similarity::Ncc => SimilarityKernel::Ncc(ncc::NccKernel::new(ctx)?),
            Similarity::Lncc { radius } => SimilarityKernel::Lncc {
                kernel: lncc::LnccKernel::new(ctx)?,
                radius,
            },
        })
    }

    pub fn scratch(&self, ctx: &GpuContext, grid: &Grid) -> Result<SimilarityScratch> {
        let count = match self {
            SimilarityKernel::Mse(_) => 0,
            SimilarityKernel::Ncc(_) => ncc::SCRATCH_BUFFERS,
            SimilarityKernel::Lncc { .. } => lncc::SCRATCH_BUFFERS,
        };
        let buffers = (0..count)
            .map(|_| storage_f32(ctx, "similarity scratch", grid.voxel_count()))
            .collect::<Result<_>>()?;
        Ok(SimilarityScratch { buffers })
    }

    /// Records `dS/dw` and the loss terms of `warped` against `fixed` on `grid`.
    pub fn record(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        grid: &Grid,
        scratch: &SimilarityScratch,
        images: [&wgpu::Buffer; 4],
    ) -> Result<()> {
        let n = grid.voxel_count();
        let s: Vec<&wgpu::Buffer> = scratch.buffers.iter().collect();
        match self {
            SimilarityKernel::Mse(k) => k.record(ctx, encoder, n, images),
            SimilarityKernel::Ncc(k) => k.record(ctx, encoder, n, &s, images),
            SimilarityKernel::Lncc { kernel, radius } => {
                kernel.record(ctx, encoder, grid, *radius, &s, images)
            }
        }
    }
}

/// CPU reference of any metric: `(dS/dw, terms)` on `dims`.
pub fn reference(
    metric: Similarity,
    dims: [usize; 3],
    fixed: &[f32],
    warped: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    match metric {
        Similarity::Mse => mse::reference(fixed, warped),
        Similarity::Ncc => ncc::reference(fixed, warped),
        Similarity::Lncc { radius } => lncc::reference(dims, radius as usize, fixed, warped),
    }
}
