//! Bending energy and the folding penalty on the NDV's folded cubes (`shaders/laplacian.wgsl`,
//! `shaders/cube_folding.wgsl`, `shaders/regularisers.wgsl`), added to the deformable gradient and
//! loss terms.

use crate::error::Result;
use crate::eval::non_diffeomorphic::{CubeShape, TETRAHEDRA, corner_offset, signed_volume6};
use crate::gpu::context::GpuContext;
use crate::gpu::kernel::{ComputeKernel, dims_u32, inv_spacing_sq};
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
struct CubeFoldingParams {
    dims: [u32; 4],
    cube: CubeGeometry,
    count: u32,
    _pad: [u32; 3],
}

/// What the shaders need of the grid's cubes (`CubeGeometry` in `shaders/common.wgsl`): the world
/// offsets (mm) of one voxel step along i, j and k (world_from_voxel's columns), the unmapped
/// orientation (±1) of each of the ten tetrahedra, and 1 / (12 · the cube's volume in mm³).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct CubeGeometry {
    steps: [[f32; 4]; 3],
    orientation: [[f32; 4]; 3],
    inv_cube12: f32,
    /// A WGSL struct's size is a multiple of its 16-byte alignment.
    _pad: [u32; 3],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    dims: [u32; 4],
    inv_spacing_sq: [f32; 4],
    cube: CubeGeometry,
    bending: f32,
    folding: f32,
    inv_count: f32,
    count: u32,
}

pub struct RegularisersKernel {
    laplacian: ComputeKernel,
    cube_folding: ComputeKernel,
    regularisers: ComputeKernel,
}

impl RegularisersKernel {
    pub fn new(ctx: &GpuContext) -> Result<RegularisersKernel> {
        Ok(RegularisersKernel {
            laplacian: ComputeKernel::new(ctx, "laplacian.wgsl")?,
            cube_folding: ComputeKernel::new(ctx, "cube_folding.wgsl")?,
            regularisers: ComputeKernel::new(ctx, "regularisers.wgsl")?,
        })
    }

    /// Adds `bending · ∂E_b/∂u + folding · ∂E_f/∂u` to `grad`, and writes each voxel's share of
    /// `bending · E_b` to `bending_terms` and, when `folding` is on, each cube's folded share to
    /// `share` (so `folding · E_f` is `folding / n` times its sum); `lap` (three values per voxel)
    /// is scratch.
    pub fn record(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        grid: &Grid,
        (bending, folding): (f64, f64),
        [u, lap, share, grad, bending_terms]: [&wgpu::Buffer; 5],
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
        let cube = cube_geometry(grid);
        if folding > 0.0 {
            let params = CubeFoldingParams {
                dims,
                cube,
                count: n as u32,
                _pad: [0; 3],
            };
            self.cube_folding
                .record(ctx, encoder, bytemuck::bytes_of(&params), &[u, share], n)?;
        }
        let params = Params {
            dims,
            inv_spacing_sq: inv_spacing_sq(grid),
            cube,
            bending: bending as f32,
            folding: folding as f32,
            inv_count: 1.0 / n as f32,
            count: n as u32,
        };
        self.regularisers.record(
            ctx,
            encoder,
            bytemuck::bytes_of(&params),
            &[u, lap, share, grad, bending_terms],
            n,
        )
    }
}

fn cube_geometry(grid: &Grid) -> CubeGeometry {
    let shape = CubeShape::of(grid);
    let a = grid.world_from_voxel().linear();
    CubeGeometry {
        steps: std::array::from_fn(|c| [a[0][c] as f32, a[1][c] as f32, a[2][c] as f32, 0.0]),
        orientation: std::array::from_fn(|q| {
            std::array::from_fn(|k| shape.orientation.get(4 * q + k).copied().unwrap_or(0.0) as f32)
        }),
        inv_cube12: (1.0 / (12.0 * shape.volume_mm3)) as f32,
        _pad: [0; 3],
    }
}

/// CPU reference from the definitions (f64): `(gradient, (bending · E_b, folding · E_f))`, E_f
/// the folded cubes' share (as [`crate::eval::non_diffeomorphic::folded_cubes`] maps it) summed
/// over the voxel count.
pub fn reference(
    grid: &Grid,
    (bending, folding): (f64, f64),
    u: &[[f32; 3]],
) -> (Vec<[f64; 3]>, (f64, f64)) {
    let dims = grid.dims();
    let s = grid.spacing_mm();
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
    let (mut bending_energy, mut folding_energy) = (0.0, 0.0);
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
            bending_energy += bending * lap[c] * lap[c] / n;
            let g = bending * 2.0 * lap[c] / n;
            for a in 0..3 {
                let w = g / (s[a] * s[a]);
                grad[i + strides[a]][c] += w;
                grad[i - strides[a]][c] += w;
                grad[i][c] -= 2.0 * w;
            }
        }
    }
    if folding > 0.0 {
        let shape = CubeShape::of(grid);
        let cube6 = shape.volume_mm3;
        for i in 0..u.len() {
            let v = coord(i);
            if (0..3).any(|a| v[a] + 1 >= dims[a]) {
                continue;
            }
            let index = |c: usize| {
                i + (0..3)
                    .map(|a| corner_offset(c)[a] * strides[a])
                    .sum::<usize>()
            };
            let mapped: [[f64; 3]; 8] = std::array::from_fn(|c| {
                std::array::from_fn(|r| shape.corners[c][r] + at(index(c), r))
            });
            for (t, orientation) in TETRAHEDRA.iter().zip(shape.orientation) {
                let folded = -orientation * signed_volume6(&mapped, t);
                if folded <= 0.0 {
                    continue;
                }
                folding_energy += folding * folded / (12.0 * cube6 * n);
                // ∂V/∂p at each corner by central differences of V, exact for a function linear
                // in each corner.
                for (k, &c) in t.iter().enumerate() {
                    for r in 0..3 {
                        let moved = |d: f64| {
                            let mut p = mapped;
                            p[t[k]][r] += d;
                            signed_volume6(&p, t)
                        };
                        let dv = moved(0.5) - moved(-0.5);
                        grad[index(c)][r] += folding * -orientation * dv / (12.0 * cube6 * n);
                    }
                }
            }
        }
    }
    (grad, (bending_energy, folding_energy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::jacobian::jacobian_determinant;
    use crate::eval::non_diffeomorphic::non_diffeomorphic_volume;
    use crate::volume::VectorField;

    #[test]
    fn the_penalty_unfolds_what_central_differences_miss() {
        // Columns of voxels passing each other along x: central-difference det J is 1 inside, so
        // a det J penalty sees nothing; the folded cubes see it and their gradient undoes it.
        let grid = Grid::axis_aligned([8, 6, 5], [1.0, 1.5, 2.0], [0.0; 3]).unwrap();
        let mut u: Vec<[f32; 3]> = (0..grid.voxel_count())
            .map(|n| {
                [
                    if grid.voxel_of(n)[0].is_multiple_of(2) {
                        0.8
                    } else {
                        -0.8
                    },
                    0.0,
                    0.0,
                ]
            })
            .collect();
        let field = |u: &[[f32; 3]]| VectorField::new(grid.clone(), u.to_vec()).unwrap();
        let before = non_diffeomorphic_volume(&field(&u));
        assert!(before.fraction > 0.05, "{before:?}");
        let det = jacobian_determinant(&field(&u));
        let inside = |n: usize| (1..7).contains(&grid.voxel_of(n)[0]);
        assert!(
            (0..grid.voxel_count()).all(|n| !inside(n) || det.data()[n] > 0.99),
            "det J sees no fold inside"
        );
        for _ in 0..300 {
            let (g, _) = reference(&grid, (0.0, 1.0), &u);
            for (v, g) in u.iter_mut().zip(&g) {
                for c in 0..3 {
                    v[c] -= (200.0 * g[c]) as f32;
                }
            }
        }
        let after = non_diffeomorphic_volume(&field(&u));
        assert!(
            after.fraction < 1e-3 * before.fraction,
            "{before:?} → {after:?}"
        );
    }
}
