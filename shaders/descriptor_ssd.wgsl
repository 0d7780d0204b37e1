// Descriptor similarity (MIND-SSC, macMIND): warps every channel of the moving image's descriptor
// ([voxel][channel], on the moving grid) like warp.wgsl warps intensities, and compares it with the
// fixed descriptor: terms = Σ_c (w_c − f_c)² / (channels · count). Since the warped channels are
// not one intensity, it writes the whole chain-rule product dS/du = Σ_c 2 (w_c − f_c) ∂w_c/∂u (world
// mm⁻¹) into `gradient` and sets dsdw to 1 (0 outside), so the stages' dS/dw · ∂w/∂u is unchanged.
// CPU reference: gpu::kernels::mind::ssd_reference.

struct DescriptorSsdParams {
    fixed_dims: vec4<u32>,
    moving_dims: vec4<u32>,
    fixed_world_from_voxel: array<vec4<f32>, 3>,
    moving_voxel_from_world: array<vec4<f32>, 3>,
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
    let v = vec4<f32>(vec3<f32>(voxel_of(index, params.fixed_dims.xyz)), 1.0);
    let f = params.fixed_world_from_voxel;
    var u = vec3<f32>(0.0);
    if params.use_displacement != 0u {
        u = vec3<f32>(displacement[3u * index], displacement[3u * index + 1u], displacement[3u * index + 2u]);
    }
    let y = vec4<f32>(vec3<f32>(dot(f[0], v), dot(f[1], v), dot(f[2], v)) + u, 1.0);
    let m = params.moving_voxel_from_world;
    let p = vec3<f32>(dot(m[0], y), dot(m[1], y), dot(m[2], y));
    let n = vec3<f32>(params.moving_dims.xyz);
    if any(p < vec3<f32>(-0.5)) || any(p > n - vec3<f32>(0.5)) {
        dsdw[index] = 0.0;
        terms[index] = 0.0;
        write_gradient(index, vec3<f32>(0.0));
        return;
    }
    let q = clamp(p, vec3<f32>(0.0), n - vec3<f32>(1.0));
    let lo = vec3<u32>(floor(q));
    let hi = min(lo + vec3<u32>(1u), params.moving_dims.xyz - vec3<u32>(1u));
    let w = q - floor(q);
    let dims = params.moving_dims.xyz;
    let ch = params.channels;
    let i000 = index_of(vec3<u32>(lo.x, lo.y, lo.z), dims) * ch;
    let i100 = index_of(vec3<u32>(hi.x, lo.y, lo.z), dims) * ch;
    let i010 = index_of(vec3<u32>(lo.x, hi.y, lo.z), dims) * ch;
    let i110 = index_of(vec3<u32>(hi.x, hi.y, lo.z), dims) * ch;
    let i001 = index_of(vec3<u32>(lo.x, lo.y, hi.z), dims) * ch;
    let i101 = index_of(vec3<u32>(hi.x, lo.y, hi.z), dims) * ch;
    let i011 = index_of(vec3<u32>(lo.x, hi.y, hi.z), dims) * ch;
    let i111 = index_of(vec3<u32>(hi.x, hi.y, hi.z), dims) * ch;
    var term = 0.0;
    var g_voxel = vec3<f32>(0.0);
    for (var c = 0u; c < ch; c++) {
        let c000 = moving[i000 + c];
        let c100 = moving[i100 + c];
        let c010 = moving[i010 + c];
        let c110 = moving[i110 + c];
        let c001 = moving[i001 + c];
        let c101 = moving[i101 + c];
        let c011 = moving[i011 + c];
        let c111 = moving[i111 + c];
        let c00 = mix(c000, c100, w.x);
        let c10 = mix(c010, c110, w.x);
        let c01 = mix(c001, c101, w.x);
        let c11 = mix(c011, c111, w.x);
        let value = mix(mix(c00, c10, w.y), mix(c01, c11, w.y), w.z);
        let d = value - fixed[index * ch + c];
        term += d * d;
        let gx = mix(mix(c100 - c000, c110 - c010, w.y), mix(c101 - c001, c111 - c011, w.y), w.z);
        let gy = mix(c10 - c00, c11 - c01, w.z);
        let gz = mix(c01, c11, w.y) - mix(c00, c10, w.y);
        g_voxel += 2.0 * d * vec3<f32>(gx, gy, gz);
    }
    dsdw[index] = 1.0;
    terms[index] = term * params.inv_norm;
    // p = M (x + u): ∂/∂u = Mᵀ g_voxel with M the matrix's linear part.
    let g = vec3<f32>(
        m[0].x * g_voxel.x + m[1].x * g_voxel.y + m[2].x * g_voxel.z,
        m[0].y * g_voxel.x + m[1].y * g_voxel.y + m[2].y * g_voxel.z,
        m[0].z * g_voxel.x + m[1].z * g_voxel.y + m[2].z * g_voxel.z,
    ) * params.inv_norm;
    write_gradient(index, g);
}
