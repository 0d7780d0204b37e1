//! Gradient steps of a fixed root-mean-square size (`shaders/normalised_step.wgsl`).

use crate::error::Result;
use crate::gpu::buffer::storage_f32;
use crate::gpu::context::GpuContext;
use crate::gpu::kernel::ComputeKernel;
use crate::gpu::kernels::reduce::ReduceKernel;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    count: u32,
    rate: f32,
    inv_voxels: f32,
    _pad: u32,
}

pub struct NormalisedStepKernel {
    reduce: ReduceKernel,
    step: ComputeKernel,
    sums: wgpu::Buffer,
}

impl NormalisedStepKernel {
    pub fn new(ctx: &GpuContext) -> Result<NormalisedStepKernel> {
        Ok(NormalisedStepKernel {
            reduce: ReduceKernel::new(ctx)?,
            step: ComputeKernel::new(ctx, "normalised_step.wgsl")?,
            sums: storage_f32(ctx, "squared gradient sum", 1)?,
        })
    }

    /// Records `u ← u − rate · g / rms(g)` for `voxels` interleaved 3-vectors.
    pub fn record(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        voxels: usize,
        rate_mm: f64,
        [grad, u]: [&wgpu::Buffer; 2],
    ) -> Result<()> {
        self.reduce
            .record_total(ctx, encoder, (grad, 0..3 * voxels, true), (&self.sums, 0))?;
        let params = Params {
            count: (3 * voxels) as u32,
            rate: rate_mm as f32,
            inv_voxels: 1.0 / voxels as f32,
            _pad: 0,
        };
        self.step.record(
            ctx,
            encoder,
            bytemuck::bytes_of(&params),
            &[&self.sums, grad, u],
            3 * voxels,
        )
    }
}

/// CPU reference, in f64.
pub fn reference(rate_mm: f64, grad: &[[f32; 3]], u: &mut [[f32; 3]]) {
    let sum: f64 = grad
        .iter()
        .flat_map(|g| g.iter().map(|&v| v as f64 * v as f64))
        .sum();
    let rms = (sum / grad.len() as f64).sqrt();
    if rms > 0.0 {
        for (ui, gi) in u.iter_mut().zip(grad) {
            for c in 0..3 {
                ui[c] = (ui[c] as f64 - rate_mm * gi[c] as f64 / rms) as f32;
            }
        }
    }
}
