// Mean squared difference between the fixed image and the warped moving image, per voxel:
// terms[i] = (w − f)² / n and dsdw[i] = 2 (w − f) / n, both zero where the warped sample fell
// outside the moving image (w below −1e38, the warp's OUTSIDE marker). `n` is the voxel count, so
// the sum of `terms` is the mean over the grid. CPU reference:
// gpu::kernels::similarity::mse::reference.

struct MseParams {
    count: u32,
    inv_count: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: MseParams;
@group(0) @binding(1) var<storage, read> fixed: array<f32>;
@group(0) @binding(2) var<storage, read> warped: array<f32>;
@group(0) @binding(3) var<storage, read_write> dsdw: array<f32>;
@group(0) @binding(4) var<storage, read_write> terms: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if i >= params.count {
        return;
    }
    let w = warped[i];
    if is_outside(w) {
        dsdw[i] = 0.0;
        terms[i] = 0.0;
        return;
    }
    let d = w - fixed[i];
    dsdw[i] = 2.0 * d * params.inv_count;
    terms[i] = d * d * params.inv_count;
}
