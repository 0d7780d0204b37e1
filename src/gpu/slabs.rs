//! Volumes larger than one storage binding (a 512×512×141 CT is 148 MB as f32, lavapipe binds
//! 128 MiB): split into slabs of whole z-planes, each processed as a volume of its own.

use super::GpuContext;
use crate::error::{Error, Result};
use std::ops::Range;

/// Whether `floats` f32 values fit in one storage binding.
pub fn fits(ctx: &GpuContext, floats: usize) -> bool {
    (floats as u64) * 4 <= ctx.binding_limit()
}

/// How many z-planes of `plane_floats` f32 values each fit in one binding, or an error naming
/// `what` when not even one does.
pub fn planes_per_binding(ctx: &GpuContext, what: &str, plane_floats: usize) -> Result<usize> {
    let planes = (ctx.binding_limit() / 4) as usize / plane_floats.max(1);
    if planes == 0 {
        return Err(Error::Gpu(format!(
            "{what}: one z-plane ({} MiB) is larger than one storage binding of this GPU ({} MiB)",
            (plane_floats * 4) >> 20,
            ctx.binding_limit() >> 20
        )));
    }
    Ok(planes)
}

/// Consecutive z-ranges of at most `planes` planes covering `0..nz`.
pub fn ranges(nz: usize, planes: usize) -> impl Iterator<Item = Range<usize>> {
    let planes = planes.max(1);
    (0..nz)
        .step_by(planes)
        .map(move |k0| k0..(k0 + planes).min(nz))
}
