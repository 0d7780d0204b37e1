//! Mean squared difference (`shaders/mse.wgsl`).

use crate::error::Result;
use crate::gpu::context::GpuContext;
use crate::gpu::kernel::ComputeKernel;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    count: u32,
    inv_count: f32,
    _pad: [u32; 2],
}

pub struct MseKernel(ComputeKernel);

impl MseKernel {
    pub fn new(ctx: &GpuContext) -> Result<MseKernel> {
        ComputeKernel::new(ctx, "mse.wgsl").map(MseKernel)
    }

    /// Records `dS/dw` and the loss terms for `count` voxels.
    pub fn record(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        count: usize,
        [fixed, warped, dsdw, terms]: [&wgpu::Buffer; 4],
    ) -> Result<()> {
        let params = Params {
            count: count as u32,
            inv_count: 1.0 / count as f32,
            _pad: [0; 2],
        };
        self.0.record(
            ctx,
            encoder,
            bytemuck::bytes_of(&params),
            &[fixed, warped, dsdw, terms],
            count,
        )
    }
}

/// CPU reference: `(dS/dw, terms)` of the mean squared difference, zero where `warped` is outside.
pub fn reference(fixed: &[f32], warped: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let n = fixed.len() as f64;
    fixed
        .iter()
        .zip(warped)
        .map(|(&f, &w)| {
            if super::is_outside(w) {
                (0.0, 0.0)
            } else {
                let d = w as f64 - f as f64;
                ((2.0 * d / n) as f32, (d * d / n) as f32)
            }
        })
        .unzip()
}
