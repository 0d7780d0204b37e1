// One Adam step on a parameter array: m ← β1 m + (1−β1) g, v ← β2 v + (1−β2) g²,
// x ← x − step · m / (√v + ε), with the bias corrections folded into `step` on the host.
// CPU reference: gpu::kernels::adam::adam_reference.

struct AdamParams {
    count: u32,
    beta1: f32,
    beta2: f32,
    epsilon: f32,
    step: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: AdamParams;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if i >= params.count {
        return;
    }
    let g = grad[i];
    let mi = params.beta1 * m[i] + (1.0 - params.beta1) * g;
    let vi = params.beta2 * v[i] + (1.0 - params.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    x[i] = x[i] - params.step * mi / (sqrt(vi) + params.epsilon);
}
