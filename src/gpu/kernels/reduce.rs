//! GPU sums (`shaders/reduce.wgsl`): workgroup partial sums, finished on the host in f64.

use crate::error::Result;
use crate::gpu::buffer::{read_f32, storage_f32};
use crate::gpu::context::GpuContext;
use crate::gpu::kernel::ComputeKernel;
use std::ops::Range;

const GROUP: usize = 256;
/// At most this many workgroups: each thread folds enough strided values first, so the tree
/// reduction's barriers (costly on a CPU rasteriser such as lavapipe) run a few thousand times,
/// not once per 256 values.
const MAX_GROUPS: usize = 1024;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    count: u32,
    per_thread: u32,
    square: u32,
    offset: u32,
}

pub struct ReduceKernel(ComputeKernel);

/// Partial sums recorded on the GPU, to be read with [`PendingSum::read`] after submission.
pub struct PendingSum {
    partials: wgpu::Buffer,
    groups: usize,
}

impl PendingSum {
    pub fn read(&self, ctx: &GpuContext) -> Result<f64> {
        Ok(read_f32(ctx, &self.partials, self.groups)?
            .iter()
            .map(|&v| v as f64)
            .sum())
    }
}

impl ReduceKernel {
    pub fn new(ctx: &GpuContext) -> Result<ReduceKernel> {
        ComputeKernel::new(ctx, "reduce.wgsl").map(ReduceKernel)
    }

    /// Records the partial sums of the first `count` values of `values`.
    pub fn record(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        values: &wgpu::Buffer,
        count: usize,
    ) -> Result<PendingSum> {
        self.record_partials(ctx, encoder, values, 0..count, false)
    }

    fn record_partials(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        values: &wgpu::Buffer,
        range: Range<usize>,
        square: bool,
    ) -> Result<PendingSum> {
        let count = range.len();
        let per_thread = count.div_ceil(GROUP * MAX_GROUPS).max(1);
        let groups = count.div_ceil(GROUP * per_thread).max(1);
        let partials = storage_f32(ctx, "reduce partials", groups)?;
        let params = Params {
            count: count as u32,
            per_thread: per_thread as u32,
            square: square as u32,
            offset: range.start as u32,
        };
        self.0.record_groups(
            ctx,
            encoder,
            bytemuck::bytes_of(&params),
            &[values, &partials],
            (groups as u32, 1, 1),
        )?;
        Ok(PendingSum { partials, groups })
    }

    /// Records the sum of `values[range]` (or of their squares) into `out[index]`, on the GPU alone (partials of partials until one is left), for kernels that
    /// need a global sum as input.
    pub fn record_total(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        (values, range, square): (&wgpu::Buffer, Range<usize>, bool),
        (out, index): (&wgpu::Buffer, usize),
    ) -> Result<()> {
        let mut pending = self.record_partials(ctx, encoder, values, range, square)?;
        while pending.groups > 1 {
            pending = self.record(ctx, encoder, &pending.partials, pending.groups)?;
        }
        encoder.copy_buffer_to_buffer(&pending.partials, 0, out, 4 * index as u64, 4);
        Ok(())
    }

    /// Sums `count` values of `values` and waits for the result.
    pub fn sum(&self, ctx: &GpuContext, values: &wgpu::Buffer, count: usize) -> Result<f64> {
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        let pending = self.record(ctx, &mut encoder, values, count)?;
        ctx.queue.submit([encoder.finish()]);
        pending.read(ctx)
    }
}
