//! CPU resampling through world coordinates: trilinear for images and fields, nearest for labels.
//!
//! This is the reference the GPU warp kernels are tested against. A target voxel maps to world
//! (target grid) and then into the source's voxel space (source grid), so images with different
//! orientations (LIA, LPS, RAS…) and grids line up by anatomy. A point counts as inside the source
//! when its continuous index lies within half a voxel of the outermost centres (the voxel's extent);
//! there the neighbours are clamped to the border.

use super::grid::{Affine, Grid};
use super::image::{LabelVolume, ScalarVolume, VectorField};
use crate::parallel::for_each_slice;

/// Snaps coordinates within this distance (in voxels) of an integer, so resampling onto the same
/// grid is exact despite round-off: NIfTI stores affines in f32, which moves a voxel centre 100 mm
/// from the origin by about 1e-5 mm.
const SNAP: f64 = 1e-4;

/// Continuous source index for each target voxel: `source.voxel_from_world · target.world_from_voxel`.
fn source_from_target(source: &Grid, target: &Grid) -> Affine {
    source
        .voxel_from_world()
        .then_after(target.world_from_voxel())
}

fn snap(p: f64) -> f64 {
    let r = p.round();
    if (p - r).abs() < SNAP { r } else { p }
}

/// Trilinear corner indices and weights of point `p` (continuous voxel index) in `dims`, or `None`
/// outside the volume's extent.
#[inline]
pub fn trilinear_corners(dims: [usize; 3], p: [f64; 3]) -> Option<([[usize; 2]; 3], [f64; 3])> {
    let mut idx = [[0usize; 2]; 3];
    let mut frac = [0.0f64; 3];
    for a in 0..3 {
        let x = snap(p[a]);
        let n = dims[a] as f64;
        if !(x >= -0.5 && x <= n - 0.5) {
            return None;
        }
        let x = x.clamp(0.0, n - 1.0);
        let f = x.floor();
        let i0 = f as usize;
        idx[a] = [i0, (i0 + 1).min(dims[a] - 1)];
        frac[a] = x - f;
    }
    Some((idx, frac))
}

/// Trilinear interpolation of `values` (on `dims`) at continuous voxel index `p`, mixing `N` lanes.
#[inline]
pub(crate) fn trilinear<const N: usize>(
    dims: [usize; 3],
    p: [f64; 3],
    get: impl Fn(usize) -> [f32; N],
) -> Option<[f32; N]> {
    let (idx, f) = trilinear_corners(dims, p)?;
    let mut acc = [0.0f64; N];
    for (ck, wk) in [(idx[2][0], 1.0 - f[2]), (idx[2][1], f[2])] {
        for (cj, wj) in [(idx[1][0], 1.0 - f[1]), (idx[1][1], f[1])] {
            for (ci, wi) in [(idx[0][0], 1.0 - f[0]), (idx[0][1], f[0])] {
                let w = wi * wj * wk;
                if w == 0.0 {
                    continue;
                }
                let v = get(ci + dims[0] * (cj + dims[1] * ck));
                for l in 0..N {
                    acc[l] += w * v[l] as f64;
                }
            }
        }
    }
    Some(acc.map(|v| v as f32))
}

/// Calls `f(out_index, source_point)` for every voxel of `target`, slice by slice in parallel.
fn map_target<T: Send>(
    source: &Grid,
    target: &Grid,
    out: &mut [T],
    f: impl Fn(&mut T, [f64; 3]) + Sync,
) {
    let m = source_from_target(source, target);
    let [nx, ny, _] = target.dims();
    for_each_slice(out, nx * ny, |k, slice| {
        for j in 0..ny {
            for i in 0..nx {
                let p = m.apply([i as f64, j as f64, k as f64]);
                f(&mut slice[i + nx * j], p);
            }
        }
    });
}

/// Trilinear resampling of `source` onto `target`; points outside the source get `outside`.
pub fn resample_scalar(source: &ScalarVolume, target: &Grid, outside: f32) -> ScalarVolume {
    let mut out = vec![outside; target.voxel_count()];
    let (dims, data) = (source.grid().dims(), source.data());
    map_target(source.grid(), target, &mut out, |o, p| {
        if let Some([v]) = trilinear(dims, p, |n| [data[n]]) {
            *o = v;
        }
    });
    ScalarVolume::new(target.clone(), out).expect("output sized from the target grid")
}

/// Linear index of the voxel nearest to continuous index `p`, `None` outside the volume.
#[inline]
pub(crate) fn nearest_index(dims: [usize; 3], p: [f64; 3]) -> Option<usize> {
    let mut n = 0;
    let mut stride = 1;
    for a in 0..3 {
        let r = snap(p[a]).round();
        if !(r >= 0.0 && r < dims[a] as f64) {
            return None;
        }
        n += r as usize * stride;
        stride *= dims[a];
    }
    Some(n)
}

/// Nearest-neighbour resampling of a label map onto `target`; outside is background (0).
pub fn resample_labels(source: &LabelVolume, target: &Grid) -> LabelVolume {
    let mut out = vec![0i32; target.voxel_count()];
    let (dims, data) = (source.grid().dims(), source.data());
    map_target(source.grid(), target, &mut out, |o, p| {
        if let Some(n) = nearest_index(dims, p) {
            *o = data[n];
        }
    });
    LabelVolume::new(target.clone(), out).expect("output sized from the target grid")
}

/// The field's vector at continuous voxel index `p`, trilinear, with `p` clamped to the grid
/// (beyond it, the nearest border value).
pub fn trilinear_clamped(field: &VectorField, p: [f64; 3]) -> [f32; 3] {
    let dims = field.grid().dims();
    let clamped: [f64; 3] = std::array::from_fn(|a| p[a].clamp(0.0, (dims[a] - 1) as f64));
    let data = field.data();
    trilinear(dims, clamped, |n| data[n]).expect("a clamped point lies inside")
}

/// Trilinear resampling of each vector component onto `target`; outside is the zero vector. The
/// vectors are world-space (mm) quantities, so no reorientation is needed between grids. A field
/// already on `target` (within 1 µm) comes back as it is.
pub fn resample_field(source: &VectorField, target: &Grid) -> VectorField {
    if source.grid().same_as(target, 1e-6) {
        return source.clone();
    }
    let mut out = vec![[0.0f32; 3]; target.voxel_count()];
    let (dims, data) = (source.grid().dims(), source.data());
    map_target(source.grid(), target, &mut out, |o, p| {
        if let Some(v) = trilinear(dims, p, |n| data[n]) {
            *o = v;
        }
    });
    VectorField::new(target.clone(), out).expect("output sized from the target grid")
}

/// Trilinear value of `volume` at a world point (mm), `None` outside.
pub fn sample_world(volume: &ScalarVolume, world_mm: [f64; 3]) -> Option<f32> {
    let p = volume.grid().world_to_voxel(world_mm);
    let data = volume.data();
    trilinear(volume.grid().dims(), p, |n| [data[n]]).map(|[v]| v)
}

/// The value of the voxel nearest to a world point (mm), `None` outside: for maps whose single
/// voxels matter (a fold must not be averaged away by interpolation).
pub fn nearest_at_world(volume: &ScalarVolume, world_mm: [f64; 3]) -> Option<f32> {
    let p = volume.grid().world_to_voxel(world_mm);
    nearest_index(volume.grid().dims(), p).map(|n| volume.data()[n])
}

/// Nearest label of `labels` at a world point (mm); background (0) outside.
pub fn label_at_world(labels: &LabelVolume, world_mm: [f64; 3]) -> i32 {
    let p = labels.grid().world_to_voxel(world_mm);
    nearest_index(labels.grid().dims(), p).map_or(0, |n| labels.data()[n])
}
