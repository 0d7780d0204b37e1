// Gradient of a similarity with respect to an affine perturbation applied before the current
// transform: with g(x) = dS/dw(x) · ∂w/∂u(x) (world mm) and x̃ = (x − c, 1) for the fixed voxel
// centre x and a centre c, the 3 × 4 sums G[r][k] = Σ_x g_r(x) x̃_k. Each workgroup of 256 threads
// folds `per_thread` strided voxels per thread and writes its 12 partial sums to partials[12 g + k];
// the host adds the partials in f64. CPU reference: gpu::kernels::affine_gradient::reference.

struct AffineGradientParams {
    dims: vec4<u32>,
    // world (mm) from voxel, rows 0..2.
    rows: array<vec4<f32>, 3>,
    centre: vec4<f32>,
    count: u32,
    per_thread: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: AffineGradientParams;
@group(0) @binding(1) var<storage, read> dsdw: array<f32>;
@group(0) @binding(2) var<storage, read> warp_grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;

var<workgroup> scratch: array<f32, 3072>;

@compute @workgroup_size(256)
fn main(
    @builtin(local_invocation_index) local: u32,
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let group_index = group.x + group.y * groups.x;
    let base = group_index * 256u * params.per_thread;
    var acc: array<f32, 12>;
    for (var s = 0u; s < params.per_thread; s++) {
        let i = base + s * 256u + local;
        if i < params.count {
            let d = dsdw[i];
            if d != 0.0 {
                let v = vec4<f32>(vec3<f32>(voxel_of(i, params.dims.xyz)), 1.0);
                let x = vec4<f32>(
                    dot(params.rows[0], v) - params.centre.x,
                    dot(params.rows[1], v) - params.centre.y,
                    dot(params.rows[2], v) - params.centre.z,
                    1.0,
                );
                for (var r = 0u; r < 3u; r++) {
                    let g = d * warp_grad[3u * i + r];
                    for (var k = 0u; k < 4u; k++) {
                        acc[4u * r + k] += g * x[k];
                    }
                }
            }
        }
    }
    for (var k = 0u; k < 12u; k++) {
        scratch[12u * local + k] = acc[k];
    }
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride = stride / 2u) {
        if local < stride {
            for (var k = 0u; k < 12u; k++) {
                scratch[12u * local + k] += scratch[12u * (local + stride) + k];
            }
        }
        workgroupBarrier();
    }
    if local == 0u {
        for (var k = 0u; k < 12u; k++) {
            partials[12u * group_index + k] = scratch[k];
        }
    }
}
