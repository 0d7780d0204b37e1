//! MIND-SSC and macMIND descriptors on the GPU (`shaders/mind_differences.wgsl`,
//! `mind_descriptor.wgsl`, `mind_aggregate.wgsl`, with the multi-channel box sums of
//! `box_sum.wgsl`) and the descriptor similarity (`descriptor_ssd.wgsl`), which warps the moving
//! image's descriptor each iteration instead of describing the warped image: the descriptors are
//! computed once per level. CPU references: `volume::mind::descriptor` and [`ssd_reference`].

use crate::error::{Error, Result};
use crate::gpu::buffer::{storage_f32, upload_f32};
use crate::gpu::context::GpuContext;
use crate::gpu::kernel::{ComputeKernel, SampleGeometry, dims_u32};
use crate::gpu::kernels::smooth::SmoothKernel;
use crate::gpu::kernels::warp::WarpCall;
use crate::volume::mind::{Descriptor, MIN_VARIANCE};
use crate::volume::{Affine, Grid, ScalarVolume};

/// Most connections of one scale the differences pass takes (its offsets are a uniform array).
const MAX_PAIRS: usize = 18;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct DifferenceParams {
    dims: [u32; 4],
    count: u32,
    pairs: u32,
    _pad: [u32; 2],
    offsets: [[i32; 4]; 2 * MAX_PAIRS],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct DescriptorParams {
    count: u32,
    pairs: u32,
    subtract_min: u32,
    accumulate: u32,
    alpha: f32,
    min_variance: f32,
    _pad: [u32; 2],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct AggregateParams {
    dims: [u32; 4],
    count: u32,
    pairs: u32,
    bins: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SsdParams {
    geometry: SampleGeometry,
    fixed_count: u32,
    channels: u32,
    use_displacement: u32,
    write_gradient: u32,
    inv_norm: f32,
    _pad: [u32; 3],
}

/// A descriptor on the device: `channels` values per voxel of `grid`, interleaved.
pub struct DescriptorImage {
    pub grid: Grid,
    pub channels: usize,
    pub values: wgpu::Buffer,
}

pub struct MindKernel {
    differences: ComputeKernel,
    descriptor: ComputeKernel,
    aggregate: ComputeKernel,
    ssd: ComputeKernel,
    smooth: SmoothKernel,
    unused_input: wgpu::Buffer,
    unused_output: wgpu::Buffer,
}

impl MindKernel {
    pub fn new(ctx: &GpuContext) -> Result<MindKernel> {
        Ok(MindKernel {
            differences: ComputeKernel::new(ctx, "mind_differences.wgsl")?,
            descriptor: ComputeKernel::new(ctx, "mind_descriptor.wgsl")?,
            aggregate: ComputeKernel::new(ctx, "mind_aggregate.wgsl")?,
            ssd: ComputeKernel::new(ctx, "descriptor_ssd.wgsl")?,
            smooth: SmoothKernel::new(ctx)?,
            unused_input: storage_f32(ctx, "descriptor unused input", 4)?,
            unused_output: storage_f32(ctx, "descriptor unused output", 4)?,
        })
    }

    /// The descriptor of `image` (on `grid`, already on the device), computed and left there.
    pub fn describe(
        &self,
        ctx: &GpuContext,
        descriptor: &Descriptor,
        grid: &Grid,
        image: &wgpu::Buffer,
    ) -> Result<DescriptorImage> {
        let n = grid.voxel_count();
        let dims = dims_u32(grid)?;
        let p = descriptor.connections();
        let buffer = |label: &str, len: usize| {
            storage_f32(ctx, label, len).map_err(|e| {
                Error::Gpu(format!(
                    "the {descriptor:?} descriptor of a {:?} grid does not fit: {e}",
                    grid.dims()
                ))
            })
        };
        // The differences are read only by the box filter's first pass, so they are its scratch too.
        let squared = buffer("mind differences", p * n)?;
        let distances = buffer("mind distances", p * n)?;
        let mixed = buffer("mind self-similarity", p * n)?;
        let alphas = match *descriptor {
            Descriptor::MindSsc { .. } => vec![1.0],
            Descriptor::MacMind { alpha, .. } => alpha.to_vec(),
        };
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        for (scale, &distance) in descriptor.distances().iter().enumerate() {
            let mut offsets = [[0i32; 4]; 2 * MAX_PAIRS];
            for (c, (a, b)) in descriptor.pairs(distance).into_iter().enumerate() {
                offsets[2 * c] = [a[0], a[1], a[2], 0];
                offsets[2 * c + 1] = [b[0], b[1], b[2], 0];
            }
            let params = DifferenceParams {
                dims,
                count: n as u32,
                pairs: p as u32,
                _pad: [0; 2],
                offsets,
            };
            self.differences.record(
                ctx,
                &mut encoder,
                bytemuck::bytes_of(&params),
                &[image, &squared],
                p * n,
            )?;
            self.smooth.record_box_channels(
                ctx,
                &mut encoder,
                (dims, p as u32),
                descriptor.box_radius(),
                [&squared, &squared, &distances],
            )?;
            let params = DescriptorParams {
                count: n as u32,
                pairs: p as u32,
                subtract_min: matches!(descriptor, Descriptor::MindSsc { .. }) as u32,
                accumulate: (scale > 0) as u32,
                alpha: alphas[scale],
                min_variance: MIN_VARIANCE,
                _pad: [0; 2],
            };
            self.descriptor.record(
                ctx,
                &mut encoder,
                bytemuck::bytes_of(&params),
                &[&distances, &mixed],
                n,
            )?;
        }
        let values = match descriptor {
            Descriptor::MindSsc { .. } => mixed,
            Descriptor::MacMind { .. } => {
                let bins = descriptor.bins();
                let mut ranges = Vec::new();
                let mut offsets = Vec::new();
                for bin in &bins {
                    let start = offsets.len() as u32;
                    offsets.extend(bin.iter().map(|o| [o[0], o[1], o[2], 0]));
                    ranges.push([start, offsets.len() as u32]);
                }
                let ranges = upload_f32(ctx, "macmind bins", bytemuck::cast_slice(&ranges))?;
                let offsets = upload_f32(ctx, "macmind offsets", bytemuck::cast_slice(&offsets))?;
                let out = buffer("macmind descriptor", n * p * bins.len())?;
                let params = AggregateParams {
                    dims,
                    count: n as u32,
                    pairs: p as u32,
                    bins: bins.len() as u32,
                    _pad: 0,
                };
                self.aggregate.record(
                    ctx,
                    &mut encoder,
                    bytemuck::bytes_of(&params),
                    &[&mixed, &ranges, &offsets, &out],
                    n * bins.len(),
                )?;
                out
            }
        };
        ctx.queue.submit([encoder.finish()]);
        Ok(DescriptorImage {
            grid: grid.clone(),
            channels: descriptor.channels(),
            values,
        })
    }

    /// Records the descriptor similarity of `moving` warped by `warp`'s mapping against `fixed`:
    /// terms into `terms`, 1 into `dsdw`, and dS/du into `warp.gradient` when it is given.
    pub fn record_ssd(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        warp: &WarpCall,
        [fixed, moving]: [&DescriptorImage; 2],
        [dsdw, terms]: [&wgpu::Buffer; 2],
    ) -> Result<()> {
        let count = warp.fixed.voxel_count();
        let params = SsdParams {
            geometry: SampleGeometry::new(warp.fixed, warp.moving, warp.moving_from_fixed)?,
            fixed_count: count as u32,
            channels: fixed.channels as u32,
            use_displacement: warp.displacement.is_some() as u32,
            write_gradient: warp.gradient.is_some() as u32,
            inv_norm: 1.0 / (fixed.channels * count) as f32,
            _pad: [0; 3],
        };
        self.ssd.record(
            ctx,
            encoder,
            bytemuck::bytes_of(&params),
            &[
                &fixed.values,
                &moving.values,
                warp.displacement.unwrap_or(&self.unused_input),
                dsdw,
                terms,
                warp.gradient.unwrap_or(&self.unused_output),
            ],
            count,
        )
    }
}

/// CPU reference of [`MindKernel::record_ssd`]: `(terms, dS/du)` of interleaved descriptors
/// `fixed` (on `fixed_grid`) and `moving` (on `moving_grid`) under `x ↦ A(x + u(x))`.
pub fn ssd_reference(
    (fixed_grid, fixed): (&Grid, &[f32]),
    (moving_grid, moving): (&Grid, &[f32]),
    channels: usize,
    (moving_from_fixed, u): (&Affine, Option<&[[f32; 3]]>),
) -> (Vec<f32>, Vec<[f32; 3]>) {
    let n = fixed_grid.voxel_count();
    let norm = 1.0 / (channels * n) as f64;
    let mut terms = vec![0f64; n];
    let mut grads = vec![[0f64; 3]; n];
    for c in 0..channels {
        let channel: Vec<f32> = moving.iter().skip(c).step_by(channels).copied().collect();
        let volume = ScalarVolume::new(moving_grid.clone(), channel).expect("same size");
        let (values, dw) = crate::volume::warp::warp_with_gradient(
            &volume,
            fixed_grid,
            moving_from_fixed,
            u,
            super::similarity::OUTSIDE,
        );
        for i in 0..n {
            if super::similarity::is_outside(values[i]) {
                continue;
            }
            let d = values[i] as f64 - fixed[i * channels + c] as f64;
            terms[i] += d * d * norm;
            for a in 0..3 {
                grads[i][a] += 2.0 * d * dw[i][a] as f64 * norm;
            }
        }
    }
    (
        terms.iter().map(|&t| t as f32).collect(),
        grads.iter().map(|g| g.map(|v| v as f32)).collect(),
    )
}
