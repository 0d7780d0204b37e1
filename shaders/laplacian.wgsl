// The discrete Laplacian of a displacement (interleaved, mm) at interior voxels, zero elsewhere:
// lap(v) = Σ_a (u(v + e_a) − 2 u(v) + u(v − e_a)) / h_a². First pass of the bending energy
// (regularisers.wgsl). CPU reference: gpu::kernels::regularisers::reference.

struct LaplacianParams {
    dims: vec4<u32>,
    // 1 / h_a² per voxel axis, in mm⁻².
    inv_spacing_sq: vec4<f32>,
    count: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: LaplacianParams;
@group(0) @binding(1) var<storage, read> u: array<f32>;
@group(0) @binding(2) var<storage, read_write> lap: array<f32>;

fn u_at(i: u32) -> vec3<f32> {
    return vec3<f32>(u[3u * i], u[3u * i + 1u], u[3u * i + 2u]);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if i >= params.count {
        return;
    }
    let dims = params.dims.xyz;
    let v = voxel_of(i, dims);
    let strides = vec3<u32>(1u, dims.x, dims.x * dims.y);
    var out = vec3<f32>(0.0);
    if all(v > vec3<u32>(0u)) && all(v + vec3<u32>(1u) < dims) {
        let here = u_at(i);
        for (var a = 0u; a < 3u; a++) {
            out += (u_at(i + strides[a]) - 2.0 * here + u_at(i - strides[a])) * params.inv_spacing_sq[a];
        }
    }
    lap[3u * i] = out.x;
    lap[3u * i + 1u] = out.y;
    lap[3u * i + 2u] = out.z;
}
