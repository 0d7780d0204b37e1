//! `ComputeKernel`: one compiled WGSL entry point with Warpbench's binding convention — binding 0
//! is a uniform parameter block, bindings 1.. are storage buffers in the order given, binding 15
//! the piece's origin when pacing splits a dispatch — so each kernel module holds only its
//! parameter struct and its buffers.

use super::buffer::{MAX_GROUPS_X, WORKGROUP, dispatch_size};
use super::context::GpuContext;
use super::pacing;
use crate::error::{Error, Result};
use wgpu::util::DeviceExt;

pub struct ComputeKernel {
    name: &'static str,
    pipeline: wgpu::ComputePipeline,
    split: Split,
    /// The origin of a dispatch that is not cut, made once (kernels that can be split only).
    zero_origin: Option<wgpu::Buffer>,
}

/// How one dispatch of a kernel may be cut into pieces for submission pacing, by what its shader
/// indexes invocations with (the prelude's `flat_index` or `sliced_voxel`, which add the piece's
/// `slice_origin`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Split {
    /// Workgroups see each other's results or index themselves: one dispatch, never cut.
    Whole,
    /// One flat index per invocation: cut into runs of workgroups.
    Flat,
    /// One invocation per voxel of a 3D dispatch: cut into runs of z-planes.
    Planes,
}

impl ComputeKernel {
    /// Compiles `shaders/{file}` (with the prelude) and its `main` entry point; shader or layout
    /// errors come back as `Error::Gpu` naming the file instead of wgpu's panic.
    pub fn new(ctx: &GpuContext, file: &'static str) -> Result<ComputeKernel> {
        let (Some(own), Some(source)) = (
            super::shaders::compute_file(file),
            super::shaders::compute_source(file),
        ) else {
            return Err(Error::Gpu(format!("shader {file} is not embedded")));
        };
        let split = if own.contains("flat_index(") {
            Split::Flat
        } else if own.contains("sliced_voxel(") {
            Split::Planes
        } else {
            Split::Whole
        };
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
        let zero_origin = (split != Split::Whole).then(|| origin_buffer(ctx, [0, 0]));
        Ok(ComputeKernel {
            name: file,
            pipeline,
            split,
            zero_origin,
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
        self.record_weighted(ctx, encoder, params, buffers, count, 1)
    }

    /// Records one dispatch of `count` invocations that each do about as much as `weight`
    /// one-voxel invocations (a line of voxels, say), so that pacing cuts it finely enough.
    pub fn record_weighted(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        params: &[u8],
        buffers: &[&wgpu::Buffer],
        count: usize,
        weight: u64,
    ) -> Result<()> {
        self.dispatch(ctx, encoder, params, buffers, dispatch_size(count)?, weight)
    }

    /// Records one dispatch of an explicit number of workgroups (kernels that size their own).
    pub fn record_groups(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        params: &[u8],
        buffers: &[&wgpu::Buffer],
        groups: (u32, u32, u32),
    ) -> Result<()> {
        self.dispatch(ctx, encoder, params, buffers, groups, 1)
    }

    /// Records the dispatch as one pass, or, when the context paces its submissions, as pieces
    /// that each fit a submission's budget (see `gpu::pacing`).
    fn dispatch(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        params: &[u8],
        buffers: &[&wgpu::Buffer],
        (x, y, z): (u32, u32, u32),
        weight: u64,
    ) -> Result<()> {
        let uniform = ctx
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(self.name),
                contents: params,
                usage: wgpu::BufferUsages::UNIFORM,
            });
        let Some(budget) = ctx.submission_budget() else {
            self.pass(ctx, encoder, (&uniform, buffers), [0, 0], (x, y, z));
            return Ok(());
        };
        // The units a piece is made of, the work of one, and the most one pass may hold.
        let group_work = u64::from(WORKGROUP) * weight;
        let (units, unit_work, most) = match self.split {
            Split::Flat => (
                u64::from(x) * u64::from(y),
                group_work,
                u64::from(MAX_GROUPS_X),
            ),
            Split::Planes => (
                u64::from(z),
                u64::from(x) * u64::from(y) * group_work,
                u64::MAX,
            ),
            Split::Whole => (
                1,
                u64::from(x) * u64::from(y) * u64::from(z) * group_work,
                1,
            ),
        };
        let per_piece = (budget / unit_work).clamp(1, most);
        let mut first = 0;
        while first < units {
            let n = per_piece.min(units - first);
            pacing::make_room(ctx, encoder, n * unit_work)?;
            let (origin, groups) = match self.split {
                Split::Flat => {
                    let index = u32::try_from(first * u64::from(WORKGROUP))
                        .map_err(|_| Error::Gpu(format!("{}: dispatch too large", self.name)))?;
                    ([index, 0], (n as u32, 1, 1))
                }
                Split::Planes => ([0, first as u32], (x, y, n as u32)),
                Split::Whole => ([0, 0], (x, y, z)),
            };
            self.pass(ctx, encoder, (&uniform, buffers), origin, groups);
            first += n;
        }
        Ok(())
    }

    /// One compute pass: the parameters at binding 0, the buffers from binding 1, and (for kernels
    /// that can be split) the piece's first flat index and z-plane at binding 15.
    fn pass(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        (uniform, buffers): (&wgpu::Buffer, &[&wgpu::Buffer]),
        origin: [u32; 2],
        (x, y, z): (u32, u32, u32),
    ) {
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
        let piece_origin = match (&self.zero_origin, origin) {
            (None, _) => None,
            (Some(zero), [0, 0]) => Some(zero.clone()),
            (Some(_), origin) => Some(origin_buffer(ctx, origin)),
        };
        if let Some(origin) = &piece_origin {
            entries.push(wgpu::BindGroupEntry {
                binding: ORIGIN_BINDING,
                resource: origin.as_entire_binding(),
            });
        }
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
    }
}

/// The binding of `slice_origin` in `common.wgsl`.
const ORIGIN_BINDING: u32 = 15;

/// A `slice_origin` uniform: the piece's first flat index and first z-plane.
fn origin_buffer(ctx: &GpuContext, [first_index, first_plane]: [u32; 2]) -> wgpu::Buffer {
    ctx.device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("slice origin"),
            contents: bytemuck::cast_slice(&[first_index, 0, first_plane, 0]),
            usage: wgpu::BufferUsages::UNIFORM,
        })
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
