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
