//! Global normalised cross-correlation (`shaders/ncc.wgsl`): moments, their sums on the GPU, then
//! `dS/dw`, with no readback in between.

use super::moments::{MomentsKernel, moments_reference};
use crate::error::Result;
use crate::gpu::context::GpuContext;
use crate::gpu::kernel::ComputeKernel;
use crate::gpu::kernels::reduce::ReduceKernel;

/// Voxel-sized buffers [`NccKernel::record`] needs: six moments, and one for the six sums.
pub const SCRATCH_BUFFERS: usize = 7;

/// ε of `D = var_f·var_w + ε N²`: keeps a flat image's gradient finite, negligible otherwise.
pub const EPSILON: f64 = 1e-9;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    count: u32,
    inv_count: f32,
    epsilon: f32,
    _pad: u32,
}

pub struct NccKernel {
    moments: MomentsKernel,
    reduce: ReduceKernel,
    ncc: ComputeKernel,
}

impl NccKernel {
    pub fn new(ctx: &GpuContext) -> Result<NccKernel> {
        Ok(NccKernel {
            moments: MomentsKernel::new(ctx)?,
            reduce: ReduceKernel::new(ctx)?,
            ncc: ComputeKernel::new(ctx, "ncc.wgsl")?,
        })
    }

    /// Records `dS/dw` and terms; `scratch` holds [`SCRATCH_BUFFERS`] voxel-sized buffers.
    pub fn record(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        count: usize,
        scratch: &[&wgpu::Buffer],
        [fixed, warped, dsdw, terms]: [&wgpu::Buffer; 4],
    ) -> Result<()> {
        let moments: [&wgpu::Buffer; 6] = std::array::from_fn(|c| scratch[c]);
        let sums = scratch[6];
        self.moments
            .record(ctx, encoder, count, [fixed, warped], moments)?;
        for (c, m) in moments.into_iter().enumerate() {
            self.reduce
                .record_total(ctx, encoder, (m, 0..count, false), (sums, c))?;
        }
        let params = Params {
            count: count as u32,
            inv_count: 1.0 / count as f32,
            epsilon: EPSILON as f32,
            _pad: 0,
        };
        self.ncc.record(
            ctx,
            encoder,
            bytemuck::bytes_of(&params),
            &[sums, fixed, warped, dsdw, terms],
            count,
        )
    }
}

/// CPU reference: `(dS/dw, terms)` of −cc, in f64.
pub fn reference(fixed: &[f32], warped: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let sums: Vec<f64> = moments_reference(fixed, warped)
        .iter()
        .map(|m| m.iter().sum())
        .collect();
    let n = sums[5].max(1.0);
    let (mean_f, mean_w) = (sums[0] / n, sums[1] / n);
    let cross = sums[4] - sums[0] * mean_w;
    let var_f = (sums[2] - sums[0] * mean_f).max(0.0);
    let var_w = (sums[3] - sums[1] * mean_w).max(0.0);
    let d = var_f * var_w + EPSILON * n * n;
    let cc = cross / d.sqrt();
    let count = fixed.len() as f64;
    fixed
        .iter()
        .zip(warped)
        .map(|(&f, &w)| {
            let term = (-cc / count) as f32;
            if super::is_outside(w) {
                return (0.0, term);
            }
            let g =
                (f as f64 - mean_f) / d.sqrt() - cross * var_f * (w as f64 - mean_w) / d.powf(1.5);
            (-g as f32, term)
        })
        .unzip()
}
