// Soft Dice of warped label maps, pass 2 of 2: with the sums of pass 1 (label_overlap.wgsl) —
// sums[k] = I_k = Σ f_k w_k, sums[channels + k] = Σ w_k, sums[2·channels + k] = Σ f_k — adds the
// gradient of L = weight · (1 − mean_k 2 I_k / S_k), S_k = Σ f_k + Σ w_k, to `grad` (world mm⁻¹):
// ∂L/∂w_k(v) = −(weight / channels) · 2 (f_k(v) S_k − I_k) / S_k², times ∂w_k/∂u by the chain rule.
// CPU reference: gpu::kernels::label_dice::reference.

@group(0) @binding(0) var<uniform> params: LabelParams;
@group(0) @binding(1) var<storage, read> fixed: array<f32>;
@group(0) @binding(2) var<storage, read> moving: array<f32>;
@group(0) @binding(3) var<storage, read> displacement: array<f32>;
@group(0) @binding(4) var<storage, read> sums: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = flat_index(gid, groups);
    if index >= params.fixed_count {
        return;
    }
    let u = vec3<f32>(displacement[3u * index], displacement[3u * index + 1u], displacement[3u * index + 2u]);
    let m = params.geometry.moving_voxel_from_world;
    let t = sample_point(params.geometry, index, u);
    if !t.inside {
        return;
    }
    let ch = params.channels;
    var g_voxel = vec3<f32>(0.0);
    for (var channel = 0u; channel < ch; channel++) {
        let overlap = sums[channel];
        let total = sums[2u * ch + channel] + sums[ch + channel];
        if total <= 0.0 {
            continue;
        }
        let f = fixed[index * ch + channel];
        let dl_dw = -params.weight_per_channel * 2.0 * (f * total - overlap) / (total * total);
        var c: array<f32, 8>;
        for (var k = 0u; k < 8u; k++) {
            c[k] = moving[t.corners[k] * ch + channel];
        }
        g_voxel += dl_dw * trilinear_value_gradient(c, t.w).yzw;
    }
    let g = world_gradient(m, g_voxel);
    grad[3u * index] += g.x;
    grad[3u * index + 1u] += g.y;
    grad[3u * index + 2u] += g.z;
}
