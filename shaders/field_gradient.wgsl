// Gradient of the deformable objective with respect to the displacement u (interleaved, world mm):
// g = dS/dw · ∂w/∂u + λ · ∂E/∂u, where E is the diffusion energy
// E = (1/n) Σ_v Σ_a |u(v + e_a) − u(v)|² / h_a² (forward differences inside the grid, h the
// spacing in mm). reg_terms[v] holds v's share of E (its forward differences), weighted by λ.
// CPU reference: gpu::kernels::field_gradient::reference.

struct FieldGradientParams {
    dims: vec4<u32>,
    // 1 / h_a² per voxel axis, in mm⁻².
    inv_spacing_sq: vec4<f32>,
    lambda: f32,
    inv_count: f32,
    count: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: FieldGradientParams;
@group(0) @binding(1) var<storage, read> dsdw: array<f32>;
@group(0) @binding(2) var<storage, read> warp_grad: array<f32>;
@group(0) @binding(3) var<storage, read> u: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;
@group(0) @binding(5) var<storage, read_write> reg_terms: array<f32>;

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
    let here = u_at(i);
    var laplace = vec3<f32>(0.0);
    var energy = 0.0;
    for (var a = 0u; a < 3u; a++) {
        let w = params.inv_spacing_sq[a];
        if v[a] + 1u < dims[a] {
            let d = u_at(i + strides[a]) - here;
            energy += w * dot(d, d);
            laplace -= w * d;
        }
        if v[a] > 0u {
            laplace += w * (here - u_at(i - strides[a]));
        }
    }
    let sim = dsdw[i] * vec3<f32>(warp_grad[3u * i], warp_grad[3u * i + 1u], warp_grad[3u * i + 2u]);
    let g = sim + params.lambda * 2.0 * params.inv_count * laplace;
    grad[3u * i] = g.x;
    grad[3u * i + 1u] = g.y;
    grad[3u * i + 2u] = g.z;
    reg_terms[i] = params.lambda * params.inv_count * energy;
}
