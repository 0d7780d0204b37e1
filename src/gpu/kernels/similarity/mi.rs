//! Mutual information from a Parzen-window joint histogram, plain or normalised, with its exact
//! gradient (`shaders/mi_histogram.wgsl`, `mi_table.wgsl`, `mi_gradient.wgsl`): the multimodal
//! metric for the affine stage and for deformable levels where descriptors would be too costly.

use super::IntensityRanges;
use crate::error::{Error, Result};
use crate::gpu::buffer::storage_f32;
use crate::gpu::context::GpuContext;
use crate::gpu::kernel::ComputeKernel;

/// Voxels per histogram workgroup: small enough that a fixed-point cell cannot overflow u32.
const CHUNK: usize = 16384;
/// Fixed-point scale of the histogram weights (≤ ⅔ each, so a cell stays below 1.5e9).
const FIXED_POINT: f32 = 131_072.0;
/// Most bins per axis: the histogram workgroup holds `bins²` cells in 16 KiB.
pub const MAX_BINS: u32 = 64;
/// Fewest bins per axis: the warped value's spline needs two bins of margin each side.
pub const MIN_BINS: u32 = 8;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    count: u32,
    bins: u32,
    chunk: u32,
    normalised: u32,
    fixed_lo: f32,
    fixed_scale: f32,
    warped_lo: f32,
    warped_scale: f32,
    groups: u32,
    fixed_point: f32,
    _pad: [u32; 2],
}

/// How intensities map to bins: the fixed value's hard bin and the warped value's continuous
/// coordinate, as the shaders' `fixed_bin` and `warped_coordinate` compute them.
#[derive(Clone, Copy, Debug)]
struct Binning {
    bins: u32,
    fixed_lo: f64,
    fixed_scale: f64,
    warped_lo: f64,
    warped_scale: f64,
}

impl Binning {
    fn new(bins: u32, ranges: IntensityRanges) -> Binning {
        let width = |[lo, hi]: [f32; 2]| ((hi - lo) as f64).max(1e-12);
        Binning {
            bins,
            fixed_lo: ranges.fixed[0] as f64,
            fixed_scale: bins as f64 / width(ranges.fixed),
            warped_lo: ranges.moving[0] as f64,
            warped_scale: (bins - 5) as f64 / width(ranges.moving),
        }
    }

    fn fixed_bin(&self, f: f32) -> usize {
        ((f as f64 - self.fixed_lo) * self.fixed_scale)
            .floor()
            .clamp(0.0, (self.bins - 1) as f64) as usize
    }

    /// `(coordinate, d coordinate / dw)`.
    fn warped_coordinate(&self, w: f32) -> (f64, f64) {
        let u = (w as f64 - self.warped_lo) * self.warped_scale;
        let top = (self.bins - 5) as f64;
        let slope = if u > 0.0 && u < top {
            self.warped_scale
        } else {
            0.0
        };
        (u.clamp(0.0, top) + 2.0, slope)
    }
}

pub struct MiKernel {
    histogram: ComputeKernel,
    table: ComputeKernel,
    gradient: ComputeKernel,
}

/// Checks a bin count before any buffer is sized by it.
pub fn check_bins(bins: u32) -> Result<()> {
    if (MIN_BINS..=MAX_BINS).contains(&bins) {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "mutual information needs {MIN_BINS} to {MAX_BINS} bins, not {bins}"
        )))
    }
}

/// The histogram partials and the table, for `count` voxels (`bins` checked by the kernel's maker).
pub fn scratch(ctx: &GpuContext, count: usize, bins: u32) -> Result<Vec<wgpu::Buffer>> {
    let cells = (bins * bins) as usize;
    Ok(vec![
        storage_f32(ctx, "mi partials", count.div_ceil(CHUNK).max(1) * cells)?,
        storage_f32(ctx, "mi table", 3 * cells + 2)?,
    ])
}

impl MiKernel {
    pub fn new(ctx: &GpuContext) -> Result<MiKernel> {
        Ok(MiKernel {
            histogram: ComputeKernel::new(ctx, "mi_histogram.wgsl")?,
            table: ComputeKernel::new(ctx, "mi_table.wgsl")?,
            gradient: ComputeKernel::new(ctx, "mi_gradient.wgsl")?,
        })
    }

    /// Records `dS/dw` and the loss terms of −MI (or −NMI) for `count` voxels; `scratch` from
    /// [`scratch`] with the same `bins`.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        (count, bins, normalised): (usize, u32, bool),
        ranges: IntensityRanges,
        scratch: &[&wgpu::Buffer],
        [fixed, warped, dsdw, terms]: [&wgpu::Buffer; 4],
    ) -> Result<()> {
        let binning = Binning::new(bins, ranges);
        let groups = count.div_ceil(CHUNK).max(1);
        let params = Params {
            count: count as u32,
            bins,
            chunk: CHUNK as u32,
            normalised: normalised as u32,
            fixed_lo: binning.fixed_lo as f32,
            fixed_scale: binning.fixed_scale as f32,
            warped_lo: binning.warped_lo as f32,
            warped_scale: binning.warped_scale as f32,
            groups: groups as u32,
            fixed_point: FIXED_POINT,
            _pad: [0; 2],
        };
        let bytes = bytemuck::bytes_of(&params);
        let [partials, table] = [scratch[0], scratch[1]];
        self.histogram.record_groups(
            ctx,
            encoder,
            bytes,
            &[fixed, warped, partials],
            (groups as u32, 1, 1),
        )?;
        self.table
            .record_groups(ctx, encoder, bytes, &[partials, table], (1, 1, 1))?;
        self.gradient.record(
            ctx,
            encoder,
            bytes,
            &[fixed, warped, table, dsdw, terms],
            count,
        )
    }
}

fn bspline3(t: f64) -> f64 {
    let a = t.abs();
    if a < 1.0 {
        (4.0 - 6.0 * a * a + 3.0 * a * a * a) / 6.0
    } else if a < 2.0 {
        (2.0 - a).powi(3) / 6.0
    } else {
        0.0
    }
}

fn bspline3_derivative(t: f64) -> f64 {
    let a = t.abs();
    if a < 1.0 {
        -2.0 * t + 1.5 * t * a
    } else if a < 2.0 {
        -t.signum() * (2.0 - a).powi(2) / 2.0
    } else {
        0.0
    }
}

fn plogp(p: f64) -> f64 {
    if p > 0.0 { p * p.ln() } else { 0.0 }
}

/// CPU reference in f64: `(dS/dw, terms)` of −MI or −NMI, the same binning as the shaders.
pub fn reference(
    (bins, normalised): (u32, bool),
    ranges: IntensityRanges,
    fixed: &[f32],
    warped: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let binning = Binning::new(bins, ranges);
    let b = bins as usize;
    let spread = |w: f32| {
        let (coordinate, slope) = binning.warped_coordinate(w);
        let j0 = coordinate.floor() as i64 - 1;
        (j0..j0 + 4).map(move |j| (j as usize, j as f64 - coordinate, slope))
    };
    let mut p = vec![0f64; b * b];
    for (&f, &w) in fixed.iter().zip(warped) {
        if !super::is_outside(w) {
            let row = binning.fixed_bin(f);
            for (j, t, _) in spread(w) {
                p[row * b + j] += bspline3(t);
            }
        }
    }
    let mass = p.iter().sum::<f64>().max(1e-20);
    p.iter_mut().for_each(|v| *v /= mass);
    let pf: Vec<f64> = (0..b).map(|i| (0..b).map(|j| p[i * b + j]).sum()).collect();
    let pw: Vec<f64> = (0..b).map(|j| (0..b).map(|i| p[i * b + j]).sum()).collect();
    let entropy = |v: &[f64]| -v.iter().map(|&x| plogp(x)).sum::<f64>();
    let (h_f, h_w, h_fw) = (entropy(&pf), entropy(&pw), entropy(&p).max(1e-12));
    let loss = if normalised {
        -(h_f + h_w) / h_fw
    } else {
        h_fw - h_f - h_w
    };
    let (mut g, mut term) = (vec![0f64; b * b], vec![loss; b * b]);
    for i in 0..b {
        for j in 0..b {
            let c = i * b + j;
            if p[c] > 0.0 {
                g[c] = if normalised {
                    (h_fw * pw[j].ln() - (h_f + h_w) * p[c].ln()) / (h_fw * h_fw)
                } else {
                    -(p[c] / (pf[i] * pw[j])).ln()
                };
            }
            if !normalised {
                term[c] = g[c];
            }
        }
    }
    fixed
        .iter()
        .zip(warped)
        .map(|(&f, &w)| {
            if super::is_outside(w) {
                return (0.0, 0.0);
            }
            let row = binning.fixed_bin(f);
            let (mut d, mut t) = (0.0, 0.0);
            for (j, x, slope) in spread(w) {
                t += bspline3(x) * term[row * b + j];
                d -= bspline3_derivative(x) * g[row * b + j] * slope;
            }
            ((d / mass) as f32, (t / mass) as f32)
        })
        .unzip()
}
