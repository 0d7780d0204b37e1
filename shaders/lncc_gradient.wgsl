// Last pass of local NCC (see lncc.wgsl): dsdw_x = −(1/count)(f_x A − AI − w_x B + BJ) from the box
// sums A, AI, B, BJ of the per-window coefficients; zero where the warped sample is outside.
// CPU reference: gpu::kernels::similarity::lncc::reference.

struct LnccGradientParams {
    count: u32,
    inv_count: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: LnccGradientParams;
@group(0) @binding(1) var<storage, read> fixed: array<f32>;
@group(0) @binding(2) var<storage, read> warped: array<f32>;
@group(0) @binding(3) var<storage, read> sum_a: array<f32>;
@group(0) @binding(4) var<storage, read> sum_a_i: array<f32>;
@group(0) @binding(5) var<storage, read> sum_b: array<f32>;
@group(0) @binding(6) var<storage, read> sum_b_j: array<f32>;
@group(0) @binding(7) var<storage, read_write> dsdw: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if i >= params.count {
        return;
    }
    let w = warped[i];
    if is_outside(w) {
        dsdw[i] = 0.0;
        return;
    }
    let g = fixed[i] * sum_a[i] - sum_a_i[i] - w * sum_b[i] + sum_b_j[i];
    dsdw[i] = -params.inv_count * g;
}
