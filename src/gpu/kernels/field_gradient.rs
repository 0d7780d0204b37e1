//! Gradient of the deformable objective with respect to the displacement
//! (`shaders/field_gradient.wgsl`): similarity by the chain rule plus diffusion regularisation.

use crate::error::Result;
use crate::gpu::context::GpuContext;
use crate::gpu::kernel::{ComputeKernel, dims_u32, inv_spacing_sq};
use crate::volume::Grid;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    dims: [u32; 4],
    inv_spacing_sq: [f32; 4],
    lambda: f32,
    inv_count: f32,
    count: u32,
    _pad: u32,
}

pub struct FieldGradientKernel(ComputeKernel);

impl FieldGradientKernel {
    pub fn new(ctx: &GpuContext) -> Result<FieldGradientKernel> {
        ComputeKernel::new(ctx, "field_gradient.wgsl").map(FieldGradientKernel)
    }

    /// Records `grad = dS/dw · ∂w/∂u + λ ∂E/∂u` and `λ`-weighted energy terms on `grid`.
    pub fn record(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        grid: &Grid,
        lambda: f64,
        [dsdw, warp_grad, u, grad, reg_terms]: [&wgpu::Buffer; 5],
    ) -> Result<()> {
        let params = Params {
            dims: dims_u32(grid)?,
            inv_spacing_sq: inv_spacing_sq(grid),
            lambda: lambda as f32,
            inv_count: 1.0 / grid.voxel_count() as f32,
            count: grid.voxel_count() as u32,
            _pad: 0,
        };
        self.0.record(
            ctx,
            encoder,
            bytemuck::bytes_of(&params),
            &[dsdw, warp_grad, u, grad, reg_terms],
            grid.voxel_count(),
        )
    }
}

/// CPU reference: `(gradient, energy E·λ)` for `u` on `grid`.
pub fn reference(
    grid: &Grid,
    lambda: f64,
    dsdw: &[f32],
    warp_grad: &[[f32; 3]],
    u: &[[f32; 3]],
) -> (Vec<[f32; 3]>, f64) {
    let dims = grid.dims();
    let s = grid.spacing_mm();
    let n = grid.voxel_count() as f64;
    let mut grad: Vec<[f64; 3]> = (0..u.len())
        .map(|i| std::array::from_fn(|c| dsdw[i] as f64 * warp_grad[i][c] as f64))
        .collect();
    let mut energy = 0.0;
    let strides = [1, dims[0], dims[0] * dims[1]];
    for i in 0..u.len() {
        let v = [
            i % dims[0],
            (i / dims[0]) % dims[1],
            i / (dims[0] * dims[1]),
        ];
        for a in 0..3 {
            if v[a] + 1 < dims[a] {
                let j = i + strides[a];
                let w = 1.0 / (s[a] * s[a]);
                for c in 0..3 {
                    let d = u[j][c] as f64 - u[i][c] as f64;
                    energy += lambda * w * d * d / n;
                    // ∂/∂u_i and ∂/∂u_j of λ w d² / n.
                    grad[i][c] -= lambda * 2.0 * w * d / n;
                    grad[j][c] += lambda * 2.0 * w * d / n;
                }
            }
        }
    }
    (
        grad.into_iter().map(|g| g.map(|v| v as f32)).collect(),
        energy,
    )
}
