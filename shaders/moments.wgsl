// Per-voxel products for the correlation metrics (global and local NCC): f, w, f², w², f·w and an
// inside flag, each in a buffer of its own (planar, so a full-resolution volume stays within one
// storage binding), all zero where the warped sample fell outside the moving image (w below
// −1e38, the warp's OUTSIDE marker). CPU reference:
// gpu::kernels::similarity::moments::moments_reference.

struct MomentsParams {
    count: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: MomentsParams;
@group(0) @binding(1) var<storage, read> fixed: array<f32>;
@group(0) @binding(2) var<storage, read> warped: array<f32>;
@group(0) @binding(3) var<storage, read_write> f1: array<f32>;
@group(0) @binding(4) var<storage, read_write> w1: array<f32>;
@group(0) @binding(5) var<storage, read_write> ff: array<f32>;
@group(0) @binding(6) var<storage, read_write> ww: array<f32>;
@group(0) @binding(7) var<storage, read_write> fw: array<f32>;
@group(0) @binding(8) var<storage, read_write> inside: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if i >= params.count {
        return;
    }
    var f = 0.0;
    var w = 0.0;
    var m = 0.0;
    if !is_outside(warped[i]) {
        f = fixed[i];
        w = warped[i];
        m = 1.0;
    }
    f1[i] = f;
    w1[i] = w;
    ff[i] = f * f;
    ww[i] = w * w;
    fw[i] = f * w;
    inside[i] = m;
}
