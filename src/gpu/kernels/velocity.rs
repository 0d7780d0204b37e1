//! GPU exponential of a stationary velocity field by scaling and squaring
//! (`shaders/velocity_exp.wgsl`); CPU reference `volume::velocity::exp_velocity`.

use crate::error::Result;
use crate::gpu::buffer::{read_field, storage_f32, upload_f32};
use crate::gpu::context::GpuContext;
use crate::gpu::kernel::{ComputeKernel, dims_u32, voxel_from_world_columns};
use crate::volume::{Grid, VectorField};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    dims: [u32; 4],
    voxel_from_world: [[f32; 4]; 3],
    count: u32,
    scale: f32,
    _pad: [u32; 2],
}

pub struct VelocityExpKernel(ComputeKernel);

impl VelocityExpKernel {
    pub fn new(ctx: &GpuContext) -> Result<VelocityExpKernel> {
        ComputeKernel::new(ctx, "velocity_exp.wgsl").map(VelocityExpKernel)
    }

    /// Records `out = exp(v)` with `squarings` (≥ 1) squarings, ping-ponging through `scratch`
    /// so that the last one lands in `out`; `v` is left untouched.
    pub fn record(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        grid: &Grid,
        squarings: u32,
        [v, scratch, out]: [&wgpu::Buffer; 3],
    ) -> Result<()> {
        let mut params = Params {
            dims: dims_u32(grid)?,
            voxel_from_world: voxel_from_world_columns(grid),
            count: grid.voxel_count() as u32,
            scale: 0.5f32.powi(squarings as i32),
            _pad: [0; 2],
        };
        let mut from = v;
        for step in 0..squarings {
            // The last step writes `out`, the one before `scratch`, and so on back.
            let to = if (squarings - 1 - step).is_multiple_of(2) {
                out
            } else {
                scratch
            };
            self.0.record(
                ctx,
                encoder,
                bytemuck::bytes_of(&params),
                &[from, to],
                grid.voxel_count(),
            )?;
            params.scale = 1.0;
            from = to;
        }
        Ok(())
    }

    /// `exp(v)` of a CPU field.
    pub fn exp(&self, ctx: &GpuContext, v: &VectorField, squarings: u32) -> Result<VectorField> {
        if squarings == 0 {
            return Ok(v.clone());
        }
        let n = v.grid().voxel_count();
        let src = upload_f32(ctx, "velocity", bytemuck::cast_slice(v.data()))?;
        let scratch = storage_f32(ctx, "velocity scratch", 3 * n)?;
        let out = storage_f32(ctx, "velocity exp", 3 * n)?;
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        self.record(
            ctx,
            &mut encoder,
            v.grid(),
            squarings,
            [&src, &scratch, &out],
        )?;
        ctx.queue.submit([encoder.finish()]);
        read_field(ctx, &out, v.grid())
    }
}
