// Soft Dice of warped label maps, pass 1 of 2: warps every channel of the moving one-hot labels
// through x ↦ A(x + u(x)) (trilinear; 0 beyond the moving image, which holds no label) and writes,
// per fixed voxel v and channel k, the overlap f_k(v)·w_k(v) to parts[k·count + v] and the warped
// occupancy w_k(v) to parts[(channels + k)·count + v]. reduce.wgsl then sums each run into `sums`
// for pass 2 (label_gradient.wgsl). CPU reference: gpu::kernels::label_dice::reference.

@group(0) @binding(0) var<uniform> params: LabelParams;
@group(0) @binding(1) var<storage, read> fixed: array<f32>;
@group(0) @binding(2) var<storage, read> moving: array<f32>;
@group(0) @binding(3) var<storage, read> displacement: array<f32>;
@group(0) @binding(4) var<storage, read_write> parts: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = flat_index(gid, groups);
    let n = params.fixed_count;
    if index >= n {
        return;
    }
    let u = vec3<f32>(displacement[3u * index], displacement[3u * index + 1u], displacement[3u * index + 2u]);
    let t = sample_point(params.geometry, index, u);
    let ch = params.channels;
    for (var channel = 0u; channel < ch; channel++) {
        var w = 0.0;
        if t.inside {
            var c: array<f32, 8>;
            for (var k = 0u; k < 8u; k++) {
                c[k] = moving[t.corners[k] * ch + channel];
            }
            w = trilinear_value_gradient(c, t.w).x;
        }
        parts[channel * n + index] = fixed[index * ch + channel] * w;
        parts[(ch + channel) * n + index] = w;
    }
}
