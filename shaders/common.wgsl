// Shared prelude of every Warpbench compute shader: dispatch linearisation and voxel indexing.
// Voxel (i, j, k) is stored at i + nx * (j + ny * k), i fastest, as in NIfTI and the CPU volumes.

const WORKGROUP: u32 = 64u;

// Flat invocation index of a 1D kernel dispatched as a 2D grid of workgroups (x up to 65535),
// so volumes above 65535 * 64 voxels need no second pass.
fn flat_index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.x + gid.y * groups.x * WORKGROUP;
}

// Whether a warped sample fell outside the moving image: the warp writes −3e38 there
// (similarity::OUTSIDE); the same test as similarity::is_outside.
fn is_outside(w: f32) -> bool {
    return w < -1e38;
}

fn voxel_of(index: u32, dims: vec3<u32>) -> vec3<u32> {
    let plane = dims.x * dims.y;
    let k = index / plane;
    let r = index - k * plane;
    let j = r / dims.x;
    return vec3<u32>(r - j * dims.x, j, k);
}

// Line number `line` of the lines along voxel axis `axis` (lines of the other two axes in index
// order): (index of its first voxel, index step along it, its length).
fn line_walk(line: u32, axis: u32, dims: vec3<u32>) -> vec3<u32> {
    if axis == 0u {
        return vec3<u32>(line * dims.x, 1u, dims.x);
    }
    if axis == 1u {
        let k = line / dims.x;
        return vec3<u32>((line - k * dims.x) + dims.x * dims.y * k, dims.x, dims.y);
    }
    return vec3<u32>(line, dims.x * dims.y, dims.z);
}

fn index_of(v: vec3<u32>, dims: vec3<u32>) -> u32 {
    return v.x + dims.x * (v.y + dims.y * v.z);
}

// Parameters of the three mutual-information passes (mi_*.wgsl; similarity::mi::Params).
struct MiParams {
    count: u32,
    bins: u32,
    chunk: u32,
    normalised: u32,
    // Intensity to bin coordinate: fixed (f − lo) · scale ∈ [0, bins); warped (w − lo) · scale + 2
    // ∈ [2, bins − 3], so the spline's four bins stay inside.
    fixed_lo: f32,
    fixed_scale: f32,
    warped_lo: f32,
    warped_scale: f32,
    groups: u32,
    fixed_point: f32,
    _pad0: u32,
    _pad1: u32,
}

// Mutual information's bin coordinates (mi_*.wgsl; the same in similarity::mi): the fixed value's
// hard bin, and the warped value's continuous coordinate in [2, bins − 3].
fn fixed_bin(f: f32, lo: f32, scale: f32, bins: u32) -> u32 {
    return u32(clamp(floor((f - lo) * scale), 0.0, f32(bins - 1u)));
}

fn warped_coordinate(w: f32, lo: f32, scale: f32, bins: u32) -> f32 {
    return clamp((w - lo) * scale, 0.0, f32(bins - 5u)) + 2.0;
}

// Cubic B-spline and its derivative (support |t| < 2).
fn bspline3(t: f32) -> f32 {
    let a = abs(t);
    if a < 1.0 {
        return (4.0 - 6.0 * a * a + 3.0 * a * a * a) / 6.0;
    }
    if a < 2.0 {
        let r = 2.0 - a;
        return r * r * r / 6.0;
    }
    return 0.0;
}

fn bspline3_derivative(t: f32) -> f32 {
    let a = abs(t);
    if a < 1.0 {
        return -2.0 * t + 1.5 * t * a;
    }
    if a < 2.0 {
        let r = 2.0 - a;
        return -sign(t) * r * r / 2.0;
    }
    return 0.0;
}
