// Descriptor similarity (MIND-SSC, macMIND): warps every channel of the moving image's descriptor
// ([voxel][channel], on the moving grid) like warp.wgsl warps intensities, and compares it with the
// fixed descriptor: terms = Σ_c (w_c − f_c)² / (channels · count). Since the warped channels are
// not one intensity, it writes the whole chain-rule product dS/du = Σ_c 2 (w_c − f_c) ∂w_c/∂u (world
// mm⁻¹) into `gradient` and sets dsdw to 1 (0 outside), so the stages' dS/dw · ∂w/∂u is unchanged.
// CPU reference: gpu::kernels::mind::ssd_reference.

struct DescriptorSsdParams {
    geometry: SampleGeometry,
    fixed_count: u32,
    channels: u32,
    use_displacement: u32,
    write_gradient: u32,
    inv_norm: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: DescriptorSsdParams;
@group(0) @binding(1) var<storage, read> fixed: array<f32>;
@group(0) @binding(2) var<storage, read> moving: array<f32>;
@group(0) @binding(3) var<storage, read> displacement: array<f32>;
@group(0) @binding(4) var<storage, read_write> dsdw: array<f32>;
@group(0) @binding(5) var<storage, read_write> terms: array<f32>;
@group(0) @binding(6) var<storage, read_write> gradient: array<f32>;

fn write_gradient(index: u32, g: vec3<f32>) {
    if params.write_gradient != 0u {
        gradient[3u * index] = g.x;
        gradient[3u * index + 1u] = g.y;
        gradient[3u * index + 2u] = g.z;
    }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = flat_index(gid, groups);
    if index >= params.fixed_count {
        return;
    }
    var u = vec3<f32>(0.0);
    if params.use_displacement != 0u {
        u = vec3<f32>(displacement[3u * index], displacement[3u * index + 1u], displacement[3u * index + 2u]);
    }
    let m = params.geometry.moving_voxel_from_world;
    let t = sample_point(params.geometry, index, u);
    if !t.inside {
        dsdw[index] = 0.0;
        terms[index] = 0.0;
        write_gradient(index, vec3<f32>(0.0));
        return;
    }
    let ch = params.channels;
    var term = 0.0;
    var g_voxel = vec3<f32>(0.0);
    for (var channel = 0u; channel < ch; channel++) {
        var c: array<f32, 8>;
        for (var k = 0u; k < 8u; k++) {
            c[k] = moving[t.corners[k] * ch + channel];
        }
        let s = trilinear_value_gradient(c, t.w);
        let d = s.x - fixed[index * ch + channel];
        term += d * d;
        g_voxel += 2.0 * d * s.yzw;
    }
    dsdw[index] = 1.0;
    terms[index] = term * params.inv_norm;
    write_gradient(index, world_gradient(m, g_voxel) * params.inv_norm);
}
