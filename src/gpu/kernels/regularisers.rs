//! Bending energy and the Jacobian folding penalty (`shaders/laplacian.wgsl`,
//! `shaders/regularisers.wgsl`), added to the deformable gradient and loss terms.

use crate::error::Result;
use crate::gpu::context::GpuContext;
use crate::gpu::kernel::{ComputeKernel, affine_rows, dims_u32, inv_spacing_sq};
use crate::gpu::kernels::jacobian::JacobianKernel;
use crate::volume::Grid;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct LaplacianParams {
    dims: [u32; 4],
    inv_spacing_sq: [f32; 4],
    count: u32,
    _pad: [u32; 3],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    dims: [u32; 4],
    inv_spacing_sq: [f32; 4],
    voxel_from_world: [[f32; 4]; 3],
    bending: f32,
    folding: f32,
    inv_count: f32,
    count: u32,
}

pub struct RegularisersKernel {
    laplacian: ComputeKernel,
    jacobian: JacobianKernel,
    regularisers: ComputeKernel,
}

impl RegularisersKernel {
    pub fn new(ctx: &GpuContext) -> Result<RegularisersKernel> {
        Ok(RegularisersKernel {
            laplacian: ComputeKernel::new(ctx, "laplacian.wgsl")?,
            jacobian: JacobianKernel::new(ctx)?,
            regularisers: ComputeKernel::new(ctx, "regularisers.wgsl")?,
        })
    }

    /// Adds `bending · ∂E_b/∂u + folding · ∂E_f/∂u` to `grad` and the weighted energies to
    /// `terms`; `lap` (three values per voxel) and `det` (one) are scratch.
    pub fn record(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        grid: &Grid,
        (bending, folding): (f64, f64),
        [u, lap, det, grad, terms]: [&wgpu::Buffer; 5],
    ) -> Result<()> {
        let n = grid.voxel_count();
        let dims = dims_u32(grid)?;
        if bending > 0.0 {
            let params = LaplacianParams {
                dims,
                inv_spacing_sq: inv_spacing_sq(grid),
                count: n as u32,
                _pad: [0; 3],
            };
            self.laplacian
                .record(ctx, encoder, bytemuck::bytes_of(&params), &[u, lap], n)?;
        }
        if folding > 0.0 {
            self.jacobian.record(ctx, encoder, grid, u, det)?;
        }
        let params = Params {
            dims,
            inv_spacing_sq: inv_spacing_sq(grid),
            voxel_from_world: affine_rows(grid.voxel_from_world()),
            bending: bending as f32,
            folding: folding as f32,
            inv_count: 1.0 / n as f32,
            count: n as u32,
        };
        self.regularisers.record(
            ctx,
            encoder,
            bytemuck::bytes_of(&params),
            &[u, lap, det, grad, terms],
            n,
        )
    }
}

/// CPU reference from the definitions (f64): `(gradient, bending · E_b + folding · E_f)`.
pub fn reference(
    grid: &Grid,
    (bending, folding): (f64, f64),
    u: &[[f32; 3]],
) -> (Vec<[f64; 3]>, f64) {
    let dims = grid.dims();
    let s = grid.spacing_mm();
    let v = grid.voxel_from_world().linear();
    let n = u.len() as f64;
    let strides = [1, dims[0], dims[0] * dims[1]];
    let coord = |i: usize| {
        [
            i % dims[0],
            (i / dims[0]) % dims[1],
            i / (dims[0] * dims[1]),
        ]
    };
    let interior = |i: usize| {
        let c = coord(i);
        (0..3).all(|a| c[a] > 0 && c[a] + 1 < dims[a])
    };
    let at = |i: usize, c: usize| u[i][c] as f64;
    let mut grad = vec![[0f64; 3]; u.len()];
    let mut energy = 0.0;
    for i in (0..u.len()).filter(|&i| interior(i)) {
        // Bending: lap(i) and its stencil's adjoint.
        let lap: [f64; 3] = std::array::from_fn(|c| {
            (0..3)
                .map(|a| {
                    (at(i + strides[a], c) - 2.0 * at(i, c) + at(i - strides[a], c)) / (s[a] * s[a])
                })
                .sum()
        });
        for c in 0..3 {
            energy += bending * lap[c] * lap[c] / n;
            let g = bending * 2.0 * lap[c] / n;
            for a in 0..3 {
                let w = g / (s[a] * s[a]);
                grad[i + strides[a]][c] += w;
                grad[i - strides[a]][c] += w;
                grad[i][c] -= 2.0 * w;
            }
        }
        // Folding: J = I + D V.
        let d: [[f64; 3]; 3] = std::array::from_fn(|r| {
            std::array::from_fn(|a| (at(i + strides[a], r) - at(i - strides[a], r)) / 2.0)
        });
        let j: [[f64; 3]; 3] = std::array::from_fn(|r| {
            std::array::from_fn(|c| {
                (r == c) as u8 as f64 + (0..3).map(|a| d[r][a] * v[a][c]).sum::<f64>()
            })
        });
        let det = crate::volume::grid::det3(&j);
        if det < 0.0 {
            energy += folding * -det / n;
            // cof[r][c] = ∂det/∂J[r][c].
            let cof: [[f64; 3]; 3] = std::array::from_fn(|r| {
                std::array::from_fn(|c| {
                    let (r1, r2) = ((r + 1) % 3, (r + 2) % 3);
                    let (c1, c2) = ((c + 1) % 3, (c + 2) % 3);
                    j[r1][c1] * j[r2][c2] - j[r1][c2] * j[r2][c1]
                })
            });
            for r in 0..3 {
                for a in 0..3 {
                    let g: f64 = -(0..3).map(|c| cof[r][c] * v[a][c]).sum::<f64>() / n;
                    grad[i + strides[a]][r] += folding * g / 2.0;
                    grad[i - strides[a]][r] -= folding * g / 2.0;
                }
            }
        }
    }
    (grad, energy)
}
