//! GPU Jacobian determinant of a displacement field (`shaders/jacobian.wgsl`); CPU reference
//! `eval::jacobian::jacobian_determinant` (same stencil, documented there).

use crate::error::Result;
use crate::gpu::buffer::{read_f32, storage_f32, upload_f32};
use crate::gpu::context::GpuContext;
use crate::gpu::kernel::{ComputeKernel, dims_u32, voxel_from_world_columns};
use crate::volume::{Grid, ScalarVolume, VectorField};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    dims: [u32; 4],
    /// Columns of voxel_from_world's linear part.
    voxel_from_world: [[f32; 4]; 3],
    count: u32,
    _pad: [u32; 3],
}

pub struct JacobianKernel(ComputeKernel);

impl JacobianKernel {
    pub fn new(ctx: &GpuContext) -> Result<JacobianKernel> {
        ComputeKernel::new(ctx, "jacobian.wgsl").map(JacobianKernel)
    }

    /// Records `det J` of the interleaved displacement buffer `field` on `grid` into `out`.
    pub fn record(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        grid: &Grid,
        field: &wgpu::Buffer,
        out: &wgpu::Buffer,
    ) -> Result<()> {
        let params = Params {
            dims: dims_u32(grid)?,
            voxel_from_world: voxel_from_world_columns(grid),
            count: grid.voxel_count() as u32,
            _pad: [0; 3],
        };
        self.0.record(
            ctx,
            encoder,
            bytemuck::bytes_of(&params),
            &[field, out],
            grid.voxel_count(),
        )
    }

    pub fn determinant(&self, ctx: &GpuContext, field: &VectorField) -> Result<ScalarVolume> {
        let n = field.grid().voxel_count();
        let src = upload_f32(
            ctx,
            "jacobian displacement",
            bytemuck::cast_slice(field.data()),
        )?;
        let dst = storage_f32(ctx, "jacobian determinant", n)?;
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        self.record(ctx, &mut encoder, field.grid(), &src, &dst)?;
        ctx.queue.submit([encoder.finish()]);
        ScalarVolume::new(field.grid().clone(), read_f32(ctx, &dst, n)?)
    }
}
