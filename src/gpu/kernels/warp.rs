//! GPU warping and resampling (`shaders/warp.wgsl`). CPU references: `volume::warp::warp_scalar`
//! and `volume::resample::resample_scalar`.

use crate::error::{Error, Result};
use crate::gpu::buffer::{read_f32, storage_f32, upload_f32};
use crate::gpu::context::GpuContext;
use crate::gpu::kernel::{ComputeKernel, affine_rows, dims_u32};
use crate::volume::{Grid, ScalarVolume, VectorField};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    fixed_dims: [u32; 4],
    moving_dims: [u32; 4],
    fixed_world_from_voxel: [[f32; 4]; 3],
    moving_voxel_from_world: [[f32; 4]; 3],
    outside: f32,
    fixed_count: u32,
    use_displacement: u32,
    _pad: u32,
}

/// The compiled warp pipeline; build once, dispatch many times.
pub struct WarpKernel(ComputeKernel);

impl WarpKernel {
    pub fn new(ctx: &GpuContext) -> Result<WarpKernel> {
        ComputeKernel::new(ctx, "warp.wgsl").map(WarpKernel)
    }

    fn dispatch(
        &self,
        ctx: &GpuContext,
        moving: &ScalarVolume,
        target: &Grid,
        displacement: Option<&[[f32; 3]]>,
        outside: f32,
    ) -> Result<ScalarVolume> {
        let params = Params {
            fixed_dims: dims_u32(target)?,
            moving_dims: dims_u32(moving.grid())?,
            fixed_world_from_voxel: affine_rows(target.world_from_voxel()),
            moving_voxel_from_world: affine_rows(moving.grid().voxel_from_world()),
            outside,
            fixed_count: target.voxel_count() as u32,
            use_displacement: displacement.is_some() as u32,
            _pad: 0,
        };
        let src = upload_f32(ctx, "warp moving", moving.data())?;
        let field = upload_f32(
            ctx,
            "warp displacement",
            displacement.map_or(&[0.0; 3][..], |d| bytemuck::cast_slice(d)),
        )?;
        let dst = storage_f32(ctx, "warp output", target.voxel_count())?;
        self.0.run(
            ctx,
            bytemuck::bytes_of(&params),
            &[&src, &field, &dst],
            target.voxel_count(),
        )?;
        ScalarVolume::new(target.clone(), read_f32(ctx, &dst, target.voxel_count())?)
    }

    /// `moving(x + u(x))` on the field's grid.
    pub fn warp(
        &self,
        ctx: &GpuContext,
        moving: &ScalarVolume,
        field: &VectorField,
        outside: f32,
    ) -> Result<ScalarVolume> {
        if field.data().is_empty() {
            return Err(Error::Mismatch("empty displacement field".into()));
        }
        self.dispatch(ctx, moving, field.grid(), Some(field.data()), outside)
    }

    /// `source` resampled onto `target` through world space.
    pub fn resample(
        &self,
        ctx: &GpuContext,
        source: &ScalarVolume,
        target: &Grid,
        outside: f32,
    ) -> Result<ScalarVolume> {
        self.dispatch(ctx, source, target, None, outside)
    }
}
