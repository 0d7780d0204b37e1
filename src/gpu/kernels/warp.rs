//! GPU warping and resampling (`shaders/warp.wgsl`), optionally with the derivative of the warped
//! image with respect to the displacement. CPU references: `volume::warp::warp_scalar`,
//! `volume::resample::resample_scalar` and `volume::warp::warp_with_gradient`.

use crate::error::Error;
use crate::error::Result;
use crate::gpu::buffer::{read_f32, storage_f32, upload_f32};
use crate::gpu::context::GpuContext;
use crate::gpu::kernel::{ComputeKernel, SampleGeometry};
use crate::gpu::slabs;
use crate::volume::{Affine, Grid, ScalarVolume, VectorField};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    geometry: SampleGeometry,
    outside: f32,
    fixed_count: u32,
    use_displacement: u32,
    write_gradient: u32,
}

/// One warp: buffers on the device and the geometry that relates them.
pub struct WarpCall<'a> {
    pub fixed: &'a Grid,
    pub moving: &'a Grid,
    /// World-to-world transform `A` applied after the displacement: samples `moving(A(x + u))`.
    pub moving_from_fixed: &'a Affine,
    pub moving_values: &'a wgpu::Buffer,
    /// Interleaved displacement on the fixed grid (world mm), or none.
    pub displacement: Option<&'a wgpu::Buffer>,
    pub warped: &'a wgpu::Buffer,
    /// Receives `∂warped/∂u` interleaved, when given.
    pub gradient: Option<&'a wgpu::Buffer>,
    pub outside: f32,
}

/// A warp of CPU volumes, for tests and one-off use.
pub struct SampleRequest<'a> {
    pub moving: &'a ScalarVolume,
    pub fixed: &'a Grid,
    pub moving_from_fixed: &'a Affine,
    pub displacement: Option<&'a [[f32; 3]]>,
    pub outside: f32,
    pub with_gradient: bool,
}

/// Warped values on the fixed grid and, when asked, `∂warped/∂u`.
pub struct Sampled {
    pub values: Vec<f32>,
    pub gradient: Option<Vec<[f32; 3]>>,
}

/// The compiled warp pipeline; build once, dispatch many times.
pub struct WarpKernel {
    kernel: ComputeKernel,
    /// Bound in place of the optional buffers (every binding must hold a buffer; a read-only and a
    /// writable binding cannot share one).
    unused_input: wgpu::Buffer,
    unused_output: wgpu::Buffer,
}

impl WarpKernel {
    pub fn new(ctx: &GpuContext) -> Result<WarpKernel> {
        Ok(WarpKernel {
            kernel: ComputeKernel::new(ctx, "warp.wgsl")?,
            unused_input: storage_f32(ctx, "warp unused input", 4)?,
            unused_output: storage_f32(ctx, "warp unused output", 4)?,
        })
    }

    pub fn record(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        call: &WarpCall,
    ) -> Result<()> {
        let params = Params {
            geometry: SampleGeometry::new(call.fixed, call.moving, call.moving_from_fixed)?,
            outside: call.outside,
            fixed_count: call.fixed.voxel_count() as u32,
            use_displacement: call.displacement.is_some() as u32,
            write_gradient: call.gradient.is_some() as u32,
        };
        let buffers = [
            call.moving_values,
            call.displacement.unwrap_or(&self.unused_input),
            call.warped,
            call.gradient.unwrap_or(&self.unused_output),
        ];
        self.kernel.record(
            ctx,
            encoder,
            bytemuck::bytes_of(&params),
            &buffers,
            call.fixed.voxel_count(),
        )
    }

    /// Warps with an affine and an optional displacement and reads back the values and, when
    /// asked, the gradient. Where the fixed grid's buffers or the moving image exceed one binding,
    /// it warps z-slabs of the fixed grid, each from the box of the moving image its samples reach:
    /// the same values as in one piece.
    pub fn sample(&self, ctx: &GpuContext, request: &SampleRequest) -> Result<Sampled> {
        let fixed = request.fixed;
        let per_voxel = if request.displacement.is_some() || request.with_gradient {
            3
        } else {
            1
        };
        if slabs::fits(ctx, per_voxel * fixed.voxel_count())
            && slabs::fits(ctx, request.moving.grid().voxel_count())
        {
            return self.sample_whole(ctx, request);
        }
        let [nx, ny, nz] = fixed.dims();
        let plane = nx * ny;
        let mut planes = slabs::planes_per_binding(ctx, "warping", per_voxel * plane)?;
        let mut values = Vec::with_capacity(fixed.voxel_count());
        let mut gradient = request.with_gradient.then(Vec::new);
        let mut k0 = 0;
        while k0 < nz {
            let k1 = (k0 + planes).min(nz);
            let slab_grid = fixed.crop([0, 0, k0], [nx, ny, k1 - k0]);
            let displacement = request.displacement.map(|d| &d[k0 * plane..k1 * plane]);
            let reach = moving_reach(request, &slab_grid, displacement);
            let part = match reach {
                None => Sampled {
                    values: vec![request.outside; slab_grid.voxel_count()],
                    gradient: request
                        .with_gradient
                        .then(|| vec![[0.0; 3]; slab_grid.voxel_count()]),
                },
                Some((lo, dims)) if slabs::fits(ctx, dims.iter().product()) => self.sample_whole(
                    ctx,
                    &SampleRequest {
                        moving: &request.moving.crop(lo, dims),
                        fixed: &slab_grid,
                        displacement,
                        ..*request
                    },
                )?,
                Some((_, dims)) if planes == 1 => {
                    return Err(Error::Gpu(format!(
                        "warping: one plane of the fixed grid samples a {dims:?} box of the \
                         moving image, more than one storage binding holds"
                    )));
                }
                Some(_) => {
                    planes = planes.div_ceil(2);
                    continue;
                }
            };
            values.extend(part.values);
            if let (Some(all), Some(g)) = (gradient.as_mut(), part.gradient) {
                all.extend(g);
            }
            k0 = k1;
        }
        Ok(Sampled { values, gradient })
    }

    fn sample_whole(&self, ctx: &GpuContext, request: &SampleRequest) -> Result<Sampled> {
        let fixed = request.fixed;
        let n = fixed.voxel_count();
        let moving_values = upload_f32(ctx, "warp moving", request.moving.data())?;
        let field = request
            .displacement
            .map(|d| upload_f32(ctx, "warp displacement", bytemuck::cast_slice(d)))
            .transpose()?;
        let warped = storage_f32(ctx, "warp output", n)?;
        let gradient = request
            .with_gradient
            .then(|| storage_f32(ctx, "warp gradient", 3 * n))
            .transpose()?;
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        self.record(
            ctx,
            &mut encoder,
            &WarpCall {
                fixed,
                moving: request.moving.grid(),
                moving_from_fixed: request.moving_from_fixed,
                moving_values: &moving_values,
                displacement: field.as_ref(),
                warped: &warped,
                gradient: gradient.as_ref(),
                outside: request.outside,
            },
        )?;
        ctx.queue.submit([encoder.finish()]);
        let values = read_f32(ctx, &warped, n)?;
        let gradient = gradient
            .map(|g| {
                read_f32(ctx, &g, 3 * n).map(|v| bytemuck::cast_slice::<f32, [f32; 3]>(&v).to_vec())
            })
            .transpose()?;
        Ok(Sampled { values, gradient })
    }

    /// `moving(x + u(x))` on the field's grid.
    pub fn warp(
        &self,
        ctx: &GpuContext,
        moving: &ScalarVolume,
        field: &VectorField,
        outside: f32,
    ) -> Result<ScalarVolume> {
        let sampled = self.sample(
            ctx,
            &SampleRequest {
                moving,
                fixed: field.grid(),
                moving_from_fixed: &Affine::IDENTITY,
                displacement: Some(field.data()),
                outside,
                with_gradient: false,
            },
        )?;
        ScalarVolume::new(field.grid().clone(), sampled.values)
    }

    /// `source` resampled onto `target` through world space.
    pub fn resample(
        &self,
        ctx: &GpuContext,
        source: &ScalarVolume,
        target: &Grid,
        outside: f32,
    ) -> Result<ScalarVolume> {
        let sampled = self.sample(
            ctx,
            &SampleRequest {
                moving: source,
                fixed: target,
                moving_from_fixed: &Affine::IDENTITY,
                displacement: None,
                outside,
                with_gradient: false,
            },
        )?;
        ScalarVolume::new(target.clone(), sampled.values)
    }
}

/// The box (first voxel, size) of the moving image that `fixed`'s samples reach through the
/// affine and `displacement`, one voxel wider than the interpolation needs on each side; `None`
/// when every sample falls outside the moving image. Samples outside stay outside in the box: it
/// reaches the image's edge wherever a sample lies beyond it.
fn moving_reach(
    request: &SampleRequest,
    fixed: &Grid,
    displacement: Option<&[[f32; 3]]>,
) -> Option<([usize; 3], [usize; 3])> {
    let dims = request.moving.grid().dims();
    let matrix = request
        .moving
        .grid()
        .voxel_from_world()
        .then_after(request.moving_from_fixed);
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for n in 0..fixed.voxel_count() {
        let mut x = fixed.index_to_world(n);
        if let Some(d) = displacement {
            for a in 0..3 {
                x[a] += d[n][a] as f64;
            }
        }
        let p = matrix.apply(x);
        if (0..3).all(|a| p[a] >= -0.5 && p[a] <= dims[a] as f64 - 0.5) {
            for a in 0..3 {
                lo[a] = lo[a].min(p[a]);
                hi[a] = hi[a].max(p[a]);
            }
        }
    }
    if lo[0] > hi[0] {
        return None;
    }
    let first: [usize; 3] = std::array::from_fn(|a| (lo[a].floor() - 1.0).max(0.0) as usize);
    let size = std::array::from_fn(|a| {
        let end = ((hi[a].ceil() + 2.0) as usize).min(dims[a]);
        end - first[a]
    });
    Some((first, size))
}
