//! Per-voxel products f, w, f², w², fw and the inside flag (`shaders/moments.wgsl`), the input of
//! both correlation metrics.

use crate::error::Result;
use crate::gpu::context::GpuContext;
use crate::gpu::kernel::ComputeKernel;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    count: u32,
    _pad: [u32; 3],
}

pub struct MomentsKernel(ComputeKernel);

impl MomentsKernel {
    pub fn new(ctx: &GpuContext) -> Result<MomentsKernel> {
        ComputeKernel::new(ctx, "moments.wgsl").map(MomentsKernel)
    }

    /// Records the six products of `count` voxels into `out` (f, w, f², w², fw, inside).
    pub fn record(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        count: usize,
        [fixed, warped]: [&wgpu::Buffer; 2],
        out: [&wgpu::Buffer; 6],
    ) -> Result<()> {
        let params = Params {
            count: count as u32,
            _pad: [0; 3],
        };
        let mut buffers = vec![fixed, warped];
        buffers.extend(out);
        self.0
            .record(ctx, encoder, bytemuck::bytes_of(&params), &buffers, count)
    }
}

/// CPU reference: the six products per voxel, in f64, zero where `warped` is outside.
pub fn moments_reference(fixed: &[f32], warped: &[f32]) -> [Vec<f64>; 6] {
    let inside = |i: usize| !super::is_outside(warped[i]);
    let value = |i: usize, v: fn(f64, f64) -> f64| {
        if inside(i) {
            v(fixed[i] as f64, warped[i] as f64)
        } else {
            0.0
        }
    };
    let n = fixed.len();
    [
        (0..n).map(|i| value(i, |f, _| f)).collect(),
        (0..n).map(|i| value(i, |_, w| w)).collect(),
        (0..n).map(|i| value(i, |f, _| f * f)).collect(),
        (0..n).map(|i| value(i, |_, w| w * w)).collect(),
        (0..n).map(|i| value(i, |f, w| f * w)).collect(),
        (0..n).map(|i| value(i, |_, _| 1.0)).collect(),
    ]
}
