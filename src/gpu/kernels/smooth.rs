//! GPU separable filters: Gaussian smoothing (`shaders/smooth.wgsl`) and box sums
//! (`shaders/box_sum.wgsl`); CPU references `volume::filter::gaussian_blur` and `box_sum`.

use crate::error::{Error, Result};
use crate::gpu::buffer::{read_f32, storage_f32, upload_f32};
use crate::gpu::context::GpuContext;
use crate::gpu::kernel::{ComputeKernel, dims_u32};
use crate::gpu::slabs;
use crate::volume::ScalarVolume;
use crate::volume::filter::gaussian_taps;

/// Most taps one pass takes (the shader's uniform array holds 64): σ up to about 10 voxels.
const MAX_TAPS: usize = 64;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    dims: [u32; 4],
    axis: u32,
    radius: u32,
    channels: u32,
    stride: u32,
    taps: [f32; MAX_TAPS],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct BoxParams {
    dims: [u32; 4],
    axis: u32,
    radius: u32,
    lines: u32,
    channels: u32,
}

/// Largest tap radius of `smooth_lines.wgsl` (its window holds 2·4 + 1 values).
const LINE_RADIUS: usize = 4;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct LineParams {
    dims: [u32; 4],
    axis: u32,
    channels: u32,
    lines: u32,
    _pad: u32,
    taps: [f32; 12],
}

pub struct SmoothKernel {
    blur: ComputeKernel,
    lines: ComputeKernel,
    boxes: ComputeKernel,
}

impl SmoothKernel {
    pub fn new(ctx: &GpuContext) -> Result<SmoothKernel> {
        Ok(SmoothKernel {
            blur: ComputeKernel::new(ctx, "smooth.wgsl")?,
            lines: ComputeKernel::new(ctx, "smooth_lines.wgsl")?,
            boxes: ComputeKernel::new(ctx, "box_sum.wgsl")?,
        })
    }

    /// Records the three passes `src → dst → scratch → dst` over `channels` interleaved values per
    /// voxel; `src` is left untouched.
    pub fn record_blur(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        dims: [u32; 4],
        channels: u32,
        sigma_voxels: [f64; 3],
        [src, scratch, dst]: [&wgpu::Buffer; 3],
    ) -> Result<()> {
        let groups = (dims[0].div_ceil(8), dims[1].div_ceil(8), dims[2]);
        let strides = [1, dims[0], dims[0] * dims[1]];
        let passes = [(src, dst), (dst, scratch), (scratch, dst)];
        for (axis, (from, to)) in passes.into_iter().enumerate() {
            let t = gaussian_taps(sigma_voxels[axis]);
            let radius = t.len() / 2;
            if radius <= LINE_RADIUS && (channels == 1 || channels == 3) {
                // Short filters walk lines (several times faster on CPU rasterisers).
                let mut taps = [0f32; 12];
                taps[LINE_RADIUS - radius..LINE_RADIUS + radius + 1].copy_from_slice(&t);
                let params = LineParams {
                    dims,
                    axis: axis as u32,
                    channels,
                    lines: dims[0] * dims[1] * dims[2] / dims[axis],
                    _pad: 0,
                    taps,
                };
                self.lines.record_weighted(
                    ctx,
                    encoder,
                    bytemuck::bytes_of(&params),
                    &[from, to],
                    params.lines as usize,
                    u64::from(dims[axis]),
                )?;
                continue;
            }
            if t.len() > MAX_TAPS {
                return Err(Error::Gpu(format!(
                    "smoothing σ = {} voxels needs {} taps, more than {MAX_TAPS}",
                    sigma_voxels[axis],
                    t.len()
                )));
            }
            let mut taps = [0f32; MAX_TAPS];
            taps[..t.len()].copy_from_slice(&t);
            let params = Params {
                dims,
                axis: axis as u32,
                radius: (t.len() / 2) as u32,
                channels,
                stride: strides[axis],
                taps,
            };
            self.blur.record_groups(
                ctx,
                encoder,
                bytemuck::bytes_of(&params),
                &[from, to],
                groups,
            )?;
        }
        Ok(())
    }

    /// Records `(2r+1)³` box sums of one value per voxel (zero beyond the edges) as three passes
    /// `src → dst → scratch → dst`, like [`SmoothKernel::record_blur`].
    pub fn record_box(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        dims: [u32; 4],
        radius: u32,
        buffers: [&wgpu::Buffer; 3],
    ) -> Result<()> {
        self.record_box_channels(ctx, encoder, (dims, 1), radius, buffers)
    }

    /// [`Self::record_box`] of `channels` volumes stored one after another in each buffer.
    pub fn record_box_channels(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        (dims, channels): ([u32; 4], u32),
        radius: u32,
        [src, scratch, dst]: [&wgpu::Buffer; 3],
    ) -> Result<()> {
        let passes = [(src, dst), (dst, scratch), (scratch, dst)];
        for (axis, (from, to)) in passes.into_iter().enumerate() {
            let lines = (dims[0] * dims[1] * dims[2]) / dims[axis];
            let params = BoxParams {
                dims,
                axis: axis as u32,
                radius,
                lines,
                channels,
            };
            self.boxes.record_weighted(
                ctx,
                encoder,
                bytemuck::bytes_of(&params),
                &[from, to],
                (lines * channels) as usize,
                u64::from(dims[axis]),
            )?;
        }
        Ok(())
    }

    /// Smooths a volume with per-axis σ in voxels and reads it back. A volume larger than one
    /// binding is smoothed in z-slabs, each with a halo of the z filter's radius, so the result is
    /// the same as in one piece.
    pub fn blur(
        &self,
        ctx: &GpuContext,
        volume: &ScalarVolume,
        sigma_voxels: [f64; 3],
    ) -> Result<ScalarVolume> {
        let grid = volume.grid();
        if slabs::fits(ctx, grid.voxel_count()) {
            return self.blur_whole(ctx, volume, sigma_voxels);
        }
        let [nx, ny, nz] = grid.dims();
        let plane = nx * ny;
        let halo = gaussian_taps(sigma_voxels[2]).len() / 2;
        let planes = slabs::planes_per_binding(ctx, "smoothing", plane)?;
        if planes <= 2 * halo {
            return Err(Error::Gpu(format!(
                "smoothing σ = {} voxels along z needs {} planes of halo; only {planes} planes \
                 fit one storage binding",
                sigma_voxels[2],
                2 * halo
            )));
        }
        let mut out = Vec::with_capacity(grid.voxel_count());
        for inner in slabs::ranges(nz, planes - 2 * halo) {
            let lo = inner.start.saturating_sub(halo);
            let hi = (inner.end + halo).min(nz);
            let slab = self.blur_whole(
                ctx,
                &volume.crop([0, 0, lo], [nx, ny, hi - lo]),
                sigma_voxels,
            )?;
            out.extend_from_slice(
                &slab.data()[(inner.start - lo) * plane..(inner.end - lo) * plane],
            );
        }
        ScalarVolume::new(grid.clone(), out)
    }

    fn blur_whole(
        &self,
        ctx: &GpuContext,
        volume: &ScalarVolume,
        sigma_voxels: [f64; 3],
    ) -> Result<ScalarVolume> {
        let n = volume.grid().voxel_count();
        let src = upload_f32(ctx, "smooth input", volume.data())?;
        let scratch = storage_f32(ctx, "smooth scratch", n)?;
        let dst = storage_f32(ctx, "smooth output", n)?;
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        self.record_blur(
            ctx,
            &mut encoder,
            dims_u32(volume.grid())?,
            1,
            sigma_voxels,
            [&src, &scratch, &dst],
        )?;
        ctx.queue.submit([encoder.finish()]);
        ScalarVolume::new(volume.grid().clone(), read_f32(ctx, &dst, n)?)
    }
}
