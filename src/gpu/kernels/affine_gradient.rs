//! Sums for the gradient of a similarity with respect to an affine transform
//! (`shaders/affine_gradient.wgsl`): `G = Σ_x (dS/dw · ∂w/∂u)(x) ⊗ (x − c, 1)`.

use crate::error::Result;
use crate::gpu::buffer::{read_f32, storage_f32};
use crate::gpu::context::GpuContext;
use crate::gpu::kernel::{ComputeKernel, affine_rows, dims_u32};
use crate::volume::Grid;

const GROUP: usize = 256;
/// Voxels per thread at least: fewer, larger partials to read back.
const MIN_PER_THREAD: usize = 16;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    dims: [u32; 4],
    rows: [[f32; 4]; 3],
    centre: [f32; 4],
    count: u32,
    per_thread: u32,
    _pad: [u32; 2],
}

/// The 3 × 4 sums `G[r][k]`: columns 0..2 pair with `x − c` (mm), column 3 with 1.
pub type AffineSums = [[f64; 4]; 3];

pub struct AffineGradientKernel(ComputeKernel);

/// Partial sums recorded on the GPU, read after submission.
pub struct PendingAffineSums {
    partials: wgpu::Buffer,
    groups: usize,
}

impl PendingAffineSums {
    pub fn read(&self, ctx: &GpuContext) -> Result<AffineSums> {
        let partials = read_f32(ctx, &self.partials, 12 * self.groups)?;
        let mut out = [[0f64; 4]; 3];
        for chunk in partials.chunks_exact(12) {
            for (k, v) in chunk.iter().enumerate() {
                out[k / 4][k % 4] += *v as f64;
            }
        }
        Ok(out)
    }
}

impl AffineGradientKernel {
    pub fn new(ctx: &GpuContext) -> Result<AffineGradientKernel> {
        ComputeKernel::new(ctx, "affine_gradient.wgsl").map(AffineGradientKernel)
    }

    /// Records the sums over `grid` for centre `c` (world mm).
    pub fn record(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        grid: &Grid,
        centre_mm: [f64; 3],
        [dsdw, warp_grad]: [&wgpu::Buffer; 2],
    ) -> Result<PendingAffineSums> {
        let count = grid.voxel_count();
        let per_thread = count.div_ceil(GROUP * 65_535).max(MIN_PER_THREAD);
        let groups = count.div_ceil(GROUP * per_thread).max(1);
        let partials = storage_f32(ctx, "affine gradient partials", 12 * groups)?;
        let params = Params {
            dims: dims_u32(grid)?,
            rows: affine_rows(grid.world_from_voxel()),
            centre: [
                centre_mm[0] as f32,
                centre_mm[1] as f32,
                centre_mm[2] as f32,
                0.0,
            ],
            count: count as u32,
            per_thread: per_thread as u32,
            _pad: [0; 2],
        };
        self.0.record_groups(
            ctx,
            encoder,
            bytemuck::bytes_of(&params),
            &[dsdw, warp_grad, &partials],
            (groups as u32, 1, 1),
        )?;
        Ok(PendingAffineSums { partials, groups })
    }
}

/// CPU reference of the sums, in f64.
pub fn reference(
    grid: &Grid,
    centre_mm: [f64; 3],
    dsdw: &[f32],
    warp_grad: &[[f32; 3]],
) -> AffineSums {
    let mut out = [[0f64; 4]; 3];
    for (i, (&d, g)) in dsdw.iter().zip(warp_grad).enumerate() {
        let x = grid.index_to_world(i);
        let xt = [
            x[0] - centre_mm[0],
            x[1] - centre_mm[1],
            x[2] - centre_mm[2],
            1.0,
        ];
        for r in 0..3 {
            for k in 0..4 {
                out[r][k] += d as f64 * g[r] as f64 * xt[k];
            }
        }
    }
    out
}
