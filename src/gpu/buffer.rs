//! Storage buffers on the shared device: upload, readback and dispatch sizing.

use super::context::GpuContext;
use crate::error::{Error, Result};
use wgpu::util::DeviceExt;

/// Threads per workgroup of every 1D compute kernel (matches `WORKGROUP` in `common.wgsl`).
pub const WORKGROUP: u32 = 64;
/// Workgroups along one dispatch axis (WebGPU's minimum limit).
pub const MAX_GROUPS_X: u32 = 65_535;

/// Workgroup counts `(x, y, 1)` covering `count` invocations; `flat_index` in the prelude undoes it.
pub fn dispatch_size(count: usize) -> Result<(u32, u32, u32)> {
    let groups = count.div_ceil(WORKGROUP as usize);
    let y = groups.div_ceil(MAX_GROUPS_X as usize).max(1);
    let x = groups.div_ceil(y).max(1);
    if y > MAX_GROUPS_X as usize || count > u32::MAX as usize {
        return Err(Error::Gpu(format!(
            "{count} invocations exceed one dispatch"
        )));
    }
    Ok((x as u32, y as u32, 1))
}

/// Refuses a buffer larger than one storage binding of this device, naming both sizes.
pub fn check_binding(ctx: &GpuContext, what: &str, bytes: u64) -> Result<()> {
    let limit = ctx.binding_limit();
    if bytes > limit {
        return Err(Error::Gpu(format!(
            "{what} needs {} MiB, more than one storage binding of this GPU ({} MiB)",
            bytes >> 20,
            limit >> 20
        )));
    }
    Ok(())
}

/// A storage buffer holding `data` (also writable, and a copy source or target).
pub fn upload_f32(ctx: &GpuContext, label: &str, data: &[f32]) -> Result<wgpu::Buffer> {
    check_binding(ctx, label, std::mem::size_of_val(data) as u64)?;
    Ok(ctx
        .device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::cast_slice(data),
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
        }))
}

/// A writable storage buffer of `len` f32 values.
pub fn storage_f32(ctx: &GpuContext, label: &str, len: usize) -> Result<wgpu::Buffer> {
    let bytes = (len * 4) as u64;
    check_binding(ctx, label, bytes)?;
    Ok(ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    }))
}

/// Reads an interleaved displacement buffer back as a field on `grid`.
pub fn read_field(
    ctx: &GpuContext,
    buffer: &wgpu::Buffer,
    grid: &crate::volume::Grid,
) -> Result<crate::volume::VectorField> {
    let data = read_f32(ctx, buffer, 3 * grid.voxel_count())?;
    crate::volume::VectorField::new(grid.clone(), bytemuck::cast_slice(&data).to_vec())
}

/// Copies `len` f32 values out of `buffer` and waits for them.
pub fn read_f32(ctx: &GpuContext, buffer: &wgpu::Buffer, len: usize) -> Result<Vec<f32>> {
    let bytes = (len * 4) as u64;
    let staging = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size: bytes,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, bytes);
    ctx.queue.submit([encoder.finish()]);
    let (tx, rx) = std::sync::mpsc::channel();
    staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    ctx.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::Gpu(format!("waiting for the GPU: {e}")))?;
    super::pacing::finished();
    rx.recv()
        .map_err(|_| Error::Gpu("readback was dropped".into()))?
        .map_err(|e| Error::Gpu(format!("mapping a readback buffer: {e}")))?;
    let out = {
        let view = staging
            .slice(..)
            .get_mapped_range()
            .map_err(|e| Error::Gpu(format!("reading a mapped buffer: {e}")))?;
        bytemuck::cast_slice(&view).to_vec()
    };
    staging.unmap();
    Ok(out)
}
