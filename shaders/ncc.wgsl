// Global normalised cross-correlation between the fixed image and the warped moving image over the
// voxels where the warped sample is inside: with the sums S = (Σf, Σw, Σf², Σw², Σfw, N) of
// moments.wgsl, cross = Σfw − ΣfΣw/N, var_f = Σf² − (Σf)²/N, var_w likewise, D = var_f·var_w + ε N²,
// cc = cross / √D. The loss is −cc, spread as terms[i] = −cc / count so that the terms sum to it;
// dsdw[i] = −∂cc/∂w_i = −((f_i − f̄)/√D − cross·var_f·(w_i − w̄)/D^{3/2}), zero outside.
// CPU reference: gpu::kernels::similarity::ncc::reference.

struct NccParams {
    count: u32,
    inv_count: f32,
    epsilon: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: NccParams;
@group(0) @binding(1) var<storage, read> sums: array<f32>;
@group(0) @binding(2) var<storage, read> fixed: array<f32>;
@group(0) @binding(3) var<storage, read> warped: array<f32>;
@group(0) @binding(4) var<storage, read_write> dsdw: array<f32>;
@group(0) @binding(5) var<storage, read_write> terms: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if i >= params.count {
        return;
    }
    let n = max(sums[5], 1.0);
    let mean_f = sums[0] / n;
    let mean_w = sums[1] / n;
    let cross = sums[4] - sums[0] * mean_w;
    let var_f = max(sums[2] - sums[0] * mean_f, 0.0);
    let var_w = max(sums[3] - sums[1] * mean_w, 0.0);
    let d = var_f * var_w + params.epsilon * n * n;
    let root = sqrt(d);
    terms[i] = -cross / root * params.inv_count;
    let w = warped[i];
    if is_outside(w) {
        dsdw[i] = 0.0;
        return;
    }
    dsdw[i] = -((fixed[i] - mean_f) / root - cross * var_f * (w - mean_w) / (d * root));
}
