//! Similarity terms on the GPU. Each gives per-voxel loss terms (summing to the loss) and `dS/dw`,
//! the derivative with respect to the warped intensity, so the optimiser and the affine and
//! deformable stages need nothing metric-specific: a new metric is one more [`Similarity`] variant
//! and kernel here. Descriptor metrics (MIND) warp their own channels and hand the stages the whole
//! `dS/du` (see `shaders/descriptor_ssd.wgsl`).

pub mod lncc;
pub mod mi;
pub mod moments;
pub mod mse;
pub mod ncc;

use crate::error::Result;
use crate::gpu::buffer::storage_f32;
use crate::gpu::context::GpuContext;
use crate::gpu::kernels::mind::{DescriptorImage, MindKernel};
use crate::gpu::kernels::warp::WarpCall;
use crate::volume::mind::Descriptor;
use crate::volume::{Grid, ScalarVolume};
use serde::{Deserialize, Serialize};

/// What the warp writes where a sample falls outside the moving image.
pub const OUTSIDE: f32 = -3.0e38;

/// Whether a warped sample is the [`OUTSIDE`] marker (any value below −1e38; the shaders'
/// `is_outside` in `common.wgsl`).
pub fn is_outside(w: f32) -> bool {
    w < -1e38
}

/// Which similarity a stage optimises (losses are minimised: NCC terms are negated).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Similarity {
    /// Mean squared difference of intensities normalised by their 99th percentile.
    Mse,
    /// Global normalised cross-correlation, −cc.
    Ncc,
    /// Local NCC over `(2 radius + 1)³`-voxel windows, −mean(cc²).
    Lncc { radius: u32 },
    /// Mutual information of a `bins`² joint histogram (Parzen window on the warped image), −MI.
    Mi {
        #[serde(default = "default_bins")]
        bins: u32,
    },
    /// Normalised mutual information (H_f + H_w) / H_fw of the same histogram, negated.
    Nmi {
        #[serde(default = "default_bins")]
        bins: u32,
    },
    /// Mean squared difference of modality-independent descriptors (MIND-SSC or macMIND) of the
    /// fixed image and of the moving image, warped.
    Mind { descriptor: Descriptor },
}

impl Similarity {
    /// Whether the metric compares descriptors made along voxel axes (so both images need the
    /// same axes).
    pub fn is_descriptor(&self) -> bool {
        matches!(self, Similarity::Mind { .. })
    }
}

fn default_bins() -> u32 {
    32
}

/// The intensity ranges a histogram metric bins (values beyond fall in the end bins), in the
/// pyramid's normalised units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IntensityRanges {
    pub fixed: [f32; 2],
    pub moving: [f32; 2],
}

impl IntensityRanges {
    /// From the 0.5th to the 99.5th percentile of each image, so a few extreme voxels (metal in a
    /// CT, a bright vessel in an MR) do not squeeze the rest into a few bins.
    pub fn of(fixed: &ScalarVolume, moving: &ScalarVolume) -> IntensityRanges {
        let range = |v: &ScalarVolume| {
            let [lo, hi] = v.quantiles([0.005, 0.995]);
            if hi > lo { [lo, hi] } else { [lo, lo + 1.0] }
        };
        IntensityRanges {
            fixed: range(fixed),
            moving: range(moving),
        }
    }
}

/// What a metric's working buffers are made from: one pyramid level on the device.
pub struct SimilarityLevel<'a> {
    pub grid: &'a Grid,
    pub moving_grid: &'a Grid,
    pub fixed: &'a wgpu::Buffer,
    pub moving: &'a wgpu::Buffer,
    pub ranges: IntensityRanges,
}

/// One similarity evaluation: the warp that made `warp.warped` (its geometry too, for metrics
/// that warp more than the intensities), the fixed image, and the outputs.
pub struct SimilarityCall<'a> {
    pub warp: &'a WarpCall<'a>,
    pub fixed: &'a wgpu::Buffer,
    pub dsdw: &'a wgpu::Buffer,
    pub terms: &'a wgpu::Buffer,
}

/// The kernels of one metric, compiled once per run.
pub enum SimilarityKernel {
    Mse(mse::MseKernel),
    Ncc(ncc::NccKernel),
    Lncc {
        kernel: lncc::LnccKernel,
        radius: u32,
    },
    Mi {
        kernel: mi::MiKernel,
        bins: u32,
        normalised: bool,
    },
    Mind {
        kernel: MindKernel,
        descriptor: Descriptor,
    },
}

/// A metric's working buffers on one grid.
pub struct SimilarityScratch {
    buffers: Vec<wgpu::Buffer>,
    ranges: IntensityRanges,
    /// The fixed and the moving image's descriptors (descriptor metrics only).
    descriptors: Option<[DescriptorImage; 2]>,
}

impl SimilarityKernel {
    /// The similarity this kernel computes.
    pub fn metric(&self) -> Similarity {
        match self {
            SimilarityKernel::Mse(_) => Similarity::Mse,
            SimilarityKernel::Ncc(_) => Similarity::Ncc,
            SimilarityKernel::Lncc { radius, .. } => Similarity::Lncc { radius: *radius },
            SimilarityKernel::Mi {
                bins, normalised, ..
            } => match normalised {
                false => Similarity::Mi { bins: *bins },
                true => Similarity::Nmi { bins: *bins },
            },
            SimilarityKernel::Mind { descriptor, .. } => Similarity::Mind {
                descriptor: *descriptor,
            },
        }
    }

    pub fn new(ctx: &GpuContext, metric: Similarity) -> Result<SimilarityKernel> {
        Ok(match metric {
            Similarity::Mse => SimilarityKernel::Mse(mse::MseKernel::new(ctx)?),
            Similarity::Ncc => SimilarityKernel::Ncc(ncc::NccKernel::new(ctx)?),
            Similarity::Lncc { radius } => SimilarityKernel::Lncc {
                kernel: lncc::LnccKernel::new(ctx)?,
                radius,
            },
            Similarity::Mi { bins } | Similarity::Nmi { bins } => {
                mi::check_bins(bins)?;
                SimilarityKernel::Mi {
                    kernel: mi::MiKernel::new(ctx)?,
                    bins,
                    normalised: matches!(metric, Similarity::Nmi { .. }),
                }
            }
            Similarity::Mind { descriptor } => SimilarityKernel::Mind {
                kernel: MindKernel::new(ctx)?,
                descriptor,
            },
        })
    }

    /// Working buffers for `level` (a descriptor metric describes both images here, once).
    pub fn scratch(&self, ctx: &GpuContext, level: &SimilarityLevel) -> Result<SimilarityScratch> {
        let n = level.grid.voxel_count();
        let voxel_sized = |count| {
            (0..count)
                .map(|_| storage_f32(ctx, "similarity scratch", n))
                .collect::<Result<Vec<_>>>()
        };
        let (buffers, descriptors) = match self {
            SimilarityKernel::Mse(_) => (Vec::new(), None),
            SimilarityKernel::Ncc(_) => (voxel_sized(ncc::SCRATCH_BUFFERS)?, None),
            SimilarityKernel::Lncc { .. } => (voxel_sized(lncc::SCRATCH_BUFFERS)?, None),
            SimilarityKernel::Mi { bins, .. } => (mi::scratch(ctx, n, *bins)?, None),
            SimilarityKernel::Mind { kernel, descriptor } => {
                let fixed = kernel.describe(ctx, descriptor, level.grid, level.fixed)?;
                let moving = kernel.describe(ctx, descriptor, level.moving_grid, level.moving)?;
                (Vec::new(), Some([fixed, moving]))
            }
        };
        Ok(SimilarityScratch {
            buffers,
            ranges: level.ranges,
            descriptors,
        })
    }

    /// Records `dS/dw` and the loss terms of `call.warp.warped` against `call.fixed`.
    pub fn record(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        scratch: &SimilarityScratch,
        call: &SimilarityCall,
    ) -> Result<()> {
        let grid = call.warp.fixed;
        let n = grid.voxel_count();
        let s: Vec<&wgpu::Buffer> = scratch.buffers.iter().collect();
        let images = [call.fixed, call.warp.warped, call.dsdw, call.terms];
        match self {
            SimilarityKernel::Mse(k) => k.record(ctx, encoder, n, images),
            SimilarityKernel::Ncc(k) => k.record(ctx, encoder, n, &s, images),
            SimilarityKernel::Lncc { kernel, radius } => {
                kernel.record(ctx, encoder, grid, *radius, &s, images)
            }
            SimilarityKernel::Mi {
                kernel,
                bins,
                normalised,
            } => kernel.record(
                ctx,
                encoder,
                (n, *bins, *normalised),
                scratch.ranges,
                &s,
                images,
            ),
            SimilarityKernel::Mind { kernel, .. } => {
                let [fixed, moving] = scratch
                    .descriptors
                    .as_ref()
                    .expect("descriptor scratch holds descriptors");
                kernel.record_ssd(
                    ctx,
                    encoder,
                    call.warp,
                    [fixed, moving],
                    [call.dsdw, call.terms],
                )
            }
        }
    }
}

/// CPU reference of an intensity metric: `(dS/dw, terms)` on `dims`; `None` for a descriptor
/// metric, whose reference is `volume::mind::descriptor` then `mind::ssd_reference`.
pub fn reference(
    metric: Similarity,
    (dims, ranges): ([usize; 3], IntensityRanges),
    fixed: &[f32],
    warped: &[f32],
) -> Option<(Vec<f32>, Vec<f32>)> {
    Some(match metric {
        Similarity::Mse => mse::reference(fixed, warped),
        Similarity::Ncc => ncc::reference(fixed, warped),
        Similarity::Lncc { radius } => lncc::reference(dims, radius as usize, fixed, warped),
        Similarity::Mi { bins } => mi::reference((bins, false), ranges, fixed, warped),
        Similarity::Nmi { bins } => mi::reference((bins, true), ranges, fixed, warped),
        Similarity::Mind { .. } => return None,
    })
}
