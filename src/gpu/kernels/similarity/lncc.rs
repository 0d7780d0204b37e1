//! Local normalised cross-correlation with its exact gradient (`shaders/lncc.wgsl`,
//! `lncc_gradient.wgsl`): moments, box sums, per-window coefficients, box sums again, `dS/dw`.

use super::moments::{MomentsKernel, moments_reference};
use crate::error::Result;
use crate::gpu::context::GpuContext;
use crate::gpu::kernel::{ComputeKernel, dims_u32};
use crate::gpu::kernels::smooth::SmoothKernel;
use crate::volume::Grid;

/// Voxel-sized buffers [`LnccKernel::record`] needs: six moments and five box sums.
pub const SCRATCH_BUFFERS: usize = 11;

/// ε of `D = var_I·var_J + ε N²`: a window whose fixed or warped intensities vary by less than
/// about 3 % of the 99th percentile (noise in the background) counts little, and a flat one zero.
pub const EPSILON: f64 = 1e-6;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    count: u32,
    inv_count: f32,
    window: f32,
    epsilon: f32,
}

pub struct LnccKernel {
    moments: MomentsKernel,
    smooth: SmoothKernel,
    coefficients: ComputeKernel,
    gradient: ComputeKernel,
}

impl LnccKernel {
    pub fn new(ctx: &GpuContext) -> Result<LnccKernel> {
        Ok(LnccKernel {
            moments: MomentsKernel::new(ctx)?,
            smooth: SmoothKernel::new(ctx)?,
            coefficients: ComputeKernel::new(ctx, "lncc.wgsl")?,
            gradient: ComputeKernel::new(ctx, "lncc_gradient.wgsl")?,
        })
    }

    /// Records `dS/dw` and terms; `scratch` holds [`SCRATCH_BUFFERS`] voxel-sized buffers.
    pub fn record(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        grid: &Grid,
        radius: u32,
        scratch: &[&wgpu::Buffer],
        [fixed, warped, dsdw, terms]: [&wgpu::Buffer; 4],
    ) -> Result<()> {
        let count = grid.voxel_count();
        let dims = dims_u32(grid)?;
        let moments: [&wgpu::Buffer; 6] = std::array::from_fn(|c| scratch[c]);
        let sums: [&wgpu::Buffer; 5] = std::array::from_fn(|c| scratch[6 + c]);
        // The inside flag is not used by the local metric: its buffer is the box filters' scratch.
        let box_scratch = moments[5];
        self.moments
            .record(ctx, encoder, count, [fixed, warped], moments)?;
        for c in 0..5 {
            self.smooth.record_box(
                ctx,
                encoder,
                dims,
                radius,
                [moments[c], box_scratch, sums[c]],
            )?;
        }
        let window = (2 * radius + 1).pow(3) as f32;
        let params = Params {
            count: count as u32,
            inv_count: 1.0 / count as f32,
            window,
            epsilon: EPSILON as f32,
        };
        let mut buffers = sums.to_vec();
        buffers.push(terms);
        self.coefficients
            .record(ctx, encoder, bytemuck::bytes_of(&params), &buffers, count)?;
        for c in 0..4 {
            self.smooth.record_box(
                ctx,
                encoder,
                dims,
                radius,
                [sums[c], box_scratch, moments[c]],
            )?;
        }
        let mut buffers = vec![fixed, warped];
        buffers.extend(&moments[..4]);
        buffers.push(dsdw);
        self.gradient
            .record(ctx, encoder, bytemuck::bytes_of(&params), &buffers, count)
    }
}

/// CPU reference, straight from the definition: every window's sums, cc and the gradient
/// contributions to each voxel of the window, in f64. `(dS/dw, terms)`.
pub fn reference(
    dims: [usize; 3],
    radius: usize,
    fixed: &[f32],
    warped: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let [f, w, _, _, _, inside] = moments_reference(fixed, warped);
    let count = fixed.len() as f64;
    let n = ((2 * radius + 1) as f64).powi(3);
    let mut grad = vec![0f64; fixed.len()];
    let mut terms = vec![0f32; fixed.len()];
    let r = radius as i64;
    let window = |v: usize| {
        let c = [
            v % dims[0],
            (v / dims[0]) % dims[1],
            v / (dims[0] * dims[1]),
        ];
        let mut out = Vec::new();
        for dz in -r..=r {
            for dy in -r..=r {
                for dx in -r..=r {
                    let p = [c[0] as i64 + dx, c[1] as i64 + dy, c[2] as i64 + dz];
                    if (0..3).all(|a| p[a] >= 0 && p[a] < dims[a] as i64) {
                        out.push(
                            p[0] as usize + dims[0] * (p[1] as usize + dims[1] * p[2] as usize),
                        );
                    }
                }
            }
        }
        out
    };
    for v in 0..fixed.len() {
        let members = window(v);
        let sum = |x: &dyn Fn(usize) -> f64| members.iter().map(|&i| x(i)).sum::<f64>();
        let (si, sj) = (sum(&|i| f[i]), sum(&|i| w[i]));
        let (sii, sjj, sij) = (
            sum(&|i| f[i] * f[i]),
            sum(&|i| w[i] * w[i]),
            sum(&|i| f[i] * w[i]),
        );
        let cross = sij - si * sj / n;
        let var_i = (sii - si * si / n).max(0.0);
        let var_j = (sjj - sj * sj / n).max(0.0);
        let d = var_i * var_j + EPSILON * n * n;
        terms[v] = (-cross * cross / d / count) as f32;
        let (a, b) = (2.0 * cross / d, 2.0 * cross * cross * var_i / (d * d));
        for &x in &members {
            grad[x] -= (a * (f[x] - si / n) - b * (w[x] - sj / n)) / count;
        }
    }
    let dsdw = grad
        .iter()
        .zip(&inside)
        .map(|(&g, &m)| if m > 0.0 { g as f32 } else { 0.0 })
        .collect();
    (dsdw, terms)
}
