//! `ComputeKernel`: one compiled WGSL entry point with Warpbench's binding convention — binding 0
//! is a uniform parameter block, bindings 1.. are storage buffers in the order given — so each
//! kernel module holds only its parameter struct and its buffers.

use super::buffer::dispatch_size;
use super::context::GpuContext;
use crate::error::{Error, Result};
use wgpu::util::DeviceExt;

pub struct ComputeKernel {
    name: &'static str,
    pipeline: wgpu::ComputePipeline,
}

impl ComputeKernel {
    /// Compiles `shaders/{file}` (with the prelude) and its `main` entry point; shader or layout
    /// errors come back as `Error::Gpu` naming the file instead of wgpu's panic.
    pub fn new(ctx: &GpuContext, file: &'static str) -> Result<ComputeKernel> {
        let source = super::shaders::compute_source(file)
            .ok_or_else(|| Error::Gpu(format!("shader {file} is not embedded")))?;
        let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = ctx
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(file),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            });
        let pipeline = ctx
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(file),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!("{file}: {e}")));
        }
        Ok(ComputeKernel {
            name: file,
            pipeline,
        })
    }

    /// Records one dispatch of `count` invocations into `encoder`.
    pub fn record(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        params: &[u8],
        buffers: &[&wgpu::Buffer],
        count: usize,
    ) -> Result<()> {
        self.record_groups(ctx, encoder, params, buffers, dispatch_size(count)?)
    }

    /// Records one dispatch of an explicit number of workgroups (kernels that size their own).
    pub fn record_groups(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        params: &[u8],
        buffers: &[&wgpu::Buffer],
        (x, y, z): (u32, u32, u32),
    ) -> Result<()> {
        let uniform = ctx
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(self.name),
                contents: params,
                usage: wgpu::BufferUsages::UNIFORM,
            });
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: uniform.as_entire_binding(),
        }];
        entries.extend(
            buffers
                .iter()
                .enumerate()
                .map(|(i, b)| wgpu::BindGroupEntry {
                    binding: i as u32 + 1,
                    resource: b.as_entire_binding(),
                }),
        );
        let bind = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(self.name),
            layout: &self.pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(self.name),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(x, y, z);
        Ok(())
    }
}

/// Grid dimensions as the `vec4<u32>` the shaders take, refusing grids beyond u32 indexing.
pub fn dims_u32(grid: &crate::volume::Grid) -> Result<[u32; 4]> {
    let d = grid.dims();
    u32::try_from(grid.voxel_count())
        .map_err(|_| Error::Gpu(format!("grid {d:?} is too large for 32-bit indexing")))?;
    Ok([d[0] as u32, d[1] as u32, d[2] as u32, 0])
}

/// The columns of the grid's voxel-from-world linear part as `vec4<f32>`s: a shader turns a world
/// offset `d` (mm) into voxels as `Σ_c column_c · d_c`.
pub fn voxel_from_world_columns(grid: &crate::volume::Grid) -> [[f32; 4]; 3] {
    let inv = grid.voxel_from_world().linear();
    std::array::from_fn(|c| [inv[0][c] as f32, inv[1][c] as f32, inv[2][c] as f32, 0.0])
}

/// `1 / h²` per voxel axis (mm⁻²) as a `vec4<f32>`, for finite-difference stencils.
pub fn inv_spacing_sq(grid: &crate::volume::Grid) -> [f32; 4] {
    let s = grid.spacing_mm();
    [
        (1.0 / (s[0] * s[0])) as f32,
        (1.0 / (s[1] * s[1])) as f32,
        (1.0 / (s[2] * s[2])) as f32,
        0.0,
    ]
}

/// How fixed voxels sample a moving image under `x ↦ A(x + u(x))`: the head of every sampling
/// kernel's parameters (`SampleGeometry` in `shaders/common.wgsl`).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SampleGeometry {
    fixed_dims: [u32; 4],
    moving_dims: [u32; 4],
    fixed_world_from_voxel: [[f32; 4]; 3],
    moving_voxel_from_world: [[f32; 4]; 3],
}

impl SampleGeometry {
    /// `fixed` grid sampling the `moving` grid through `moving_from_fixed` (`A`).
    pub fn new(
        fixed: &crate::volume::Grid,
        moving: &crate::volume::Grid,
        moving_from_fixed: &crate::volume::Affine,
    ) -> Result<SampleGeometry> {
        Ok(SampleGeometry {
            fixed_dims: dims_u32(fixed)?,
            moving_dims: dims_u32(moving)?,
            fixed_world_from_voxel: affine_rows(fixed.world_from_voxel()),
            moving_voxel_from_world: affine_rows(
                &moving.voxel_from_world().then_after(moving_from_fixed),
            ),
        })
    }
}

/// The first three rows of an affine as `vec4<f32>`s.
pub fn affine_rows(a: &crate::volume::Affine) -> [[f32; 4]; 3] {
    std::array::from_fn(|r| std::array::from_fn(|c| a.0[r][c] as f32))
}
