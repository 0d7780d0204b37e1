// A gradient step normalised by the gradient's root mean square over voxels, as greedy's step of
// fixed size: u ← u − rate · g / √(Σ|g|² / voxels), so the typical voxel moves `rate` mm per
// iteration whatever the metric's scale, and edges move more than flat regions (unlike Adam's
// per-component normalisation). `sums[0]` holds Σ|g|² (reduce.wgsl with `square`).
// CPU reference: gpu::kernels::normalised_step::reference.

struct StepParams {
    count: u32,
    rate: f32,
    inv_voxels: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: StepParams;
@group(0) @binding(1) var<storage, read> sums: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> u: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if i >= params.count {
        return;
    }
    let rms = sqrt(sums[0] * params.inv_voxels);
    if rms > 0.0 {
        u[i] = u[i] - params.rate * grad[i] / rms;
    }
}
