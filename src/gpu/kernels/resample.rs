//! GPU trilinear resampling (`shaders/resample.wgsl`); CPU reference `volume::resample::resample_scalar`.

use crate::error::{Error, Result};
use crate::gpu::buffer::{dispatch_size, read_f32, storage_f32, upload_f32};
use crate::gpu::context::GpuContext;
use crate::volume::{Grid, ScalarVolume};
use wgpu::util::DeviceExt;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    source_dims: [u32; 4],
    target_dims: [u32; 4],
    rows: [[f32; 4]; 3],
    outside: f32,
    target_count: u32,
    _pad: [u32; 2],
}

/// The compiled resampling pipeline; build once, dispatch many times.
pub struct ResampleKernel {
    pipeline: wgpu::ComputePipeline,
}

fn dims_u32(grid: &Grid) -> Result<[u32; 4]> {
    let d = grid.dims();
    let fit = |n: usize| {
        u32::try_from(n).map_err(|_| Error::Gpu(format!("grid {d:?} too large for the GPU")))
    };
    Ok([fit(d[0])?, fit(d[1])?, fit(d[2])?, 0])
}

impl ResampleKernel {
    pub fn new(ctx: &GpuContext) -> ResampleKernel {
        let source = crate::gpu::shaders::compute_source("resample.wgsl")
            .expect("resample.wgsl is embedded");
        let module = ctx
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("resample.wgsl"),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            });
        let pipeline = ctx
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some("resample"),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            });
        ResampleKernel { pipeline }
    }

    /// Resamples `source` onto `target` on the GPU and reads the result back.
    pub fn run(
        &self,
        ctx: &GpuContext,
        source: &ScalarVolume,
        target: &Grid,
        outside: f32,
    ) -> Result<ScalarVolume> {
        let m = source
            .grid()
            .voxel_from_world()
            .then_after(target.world_from_voxel());
        let count = target.voxel_count();
        let params = Params {
            source_dims: dims_u32(source.grid())?,
            target_dims: dims_u32(target)?,
            rows: std::array::from_fn(|r| std::array::from_fn(|c| m.0[r][c] as f32)),
            outside,
            target_count: u32::try_from(count)
                .map_err(|_| Error::Gpu("target grid too large".into()))?,
            _pad: [0; 2],
        };
        let uniform = ctx
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("resample params"),
                contents: bytemuck::bytes_of(&params),
                usage: wgpu::BufferUsages::UNIFORM,
            });
        let src = upload_f32(ctx, "resample source", source.data())?;
        let dst = storage_f32(ctx, "resample target", count)?;
        let bind = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("resample"),
            layout: &self.pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: uniform.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: src.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: dst.as_entire_binding(),
                },
            ],
        });
        let (x, y, z) = dispatch_size(count)?;
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(x, y, z);
        }
        ctx.queue.submit([encoder.finish()]);
        let data = read_f32(ctx, &dst, count)?;
        ScalarVolume::new(target.clone(), data)
    }
}
