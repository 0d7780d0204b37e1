// Local normalised cross-correlation over (2r+1)³ windows of N voxels, with zeros beyond the edges
// and where the warped sample is outside (moments.wgsl). For the window around v, with box sums
// I = Σf, J = Σw, I2 = Σf², J2 = Σw², IJ = Σfw: cross = IJ − I·J/N, var_I = I2 − I²/N, var_J
// likewise, D = var_I·var_J + ε N², cc_v = cross² / D. The loss is −(1/count) Σ_v cc_v.
// Its exact gradient: ∂cc_v/∂w_x = a_v (f_x − I_v/N) − b_v (w_x − J_v/N) for x in v's window,
// a = 2 cross / D, b = 2 cross² var_I / D²; summing over the windows holding x is one more box sum
// of (a, a I/N, b, b J/N), so
// dsdw_x = −(1/count) (f_x Σa − Σ(a I/N) − w_x Σb + Σ(b J/N)).
// This pass turns the box sums into loss terms and those four coefficients, in place;
// lncc_gradient.wgsl finishes the gradient from their box sums. CPU reference:
// gpu::kernels::similarity::lncc::reference.

struct LnccParams {
    count: u32,
    inv_count: f32,
    window: f32,
    epsilon: f32,
}

@group(0) @binding(0) var<uniform> params: LnccParams;

// s0..s4 hold the box sums I, J, I2, J2, IJ and receive a, aI/N, b, bJ/N.
@group(0) @binding(1) var<storage, read_write> s0: array<f32>;
@group(0) @binding(2) var<storage, read_write> s1: array<f32>;
@group(0) @binding(3) var<storage, read_write> s2: array<f32>;
@group(0) @binding(4) var<storage, read_write> s3: array<f32>;
@group(0) @binding(5) var<storage, read> s4: array<f32>;
@group(0) @binding(6) var<storage, read_write> terms: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if i >= params.count {
        return;
    }
    let n = params.window;
    let sum_f = s0[i];
    let sum_w = s1[i];
    let cross = s4[i] - sum_f * sum_w / n;
    let var_f = max(s2[i] - sum_f * sum_f / n, 0.0);
    let var_w = max(s3[i] - sum_w * sum_w / n, 0.0);
    let d = var_f * var_w + params.epsilon * n * n;
    terms[i] = -cross * cross / d * params.inv_count;
    let a = 2.0 * cross / d;
    let b = 2.0 * cross * cross * var_f / (d * d);
    s0[i] = a;
    s1[i] = a * sum_f / n;
    s2[i] = b;
    s3[i] = b * sum_w / n;
}
