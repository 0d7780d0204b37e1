// Warps a moving image onto the fixed grid: fixed voxel v at world x samples the moving image at
// p = moving_voxel_from_world · (x + u(v)), trilinear, `outside` beyond the moving image's extent
// (half a voxel past its outer centres). The matrix may include an affine transform
// (moving_voxel_from_world · A), so p = A(x + u) in the moving voxel space.
// `u` is interleaved (x, y, z) per voxel in world mm; with `use_displacement == 0` it is ignored and
// this is plain resampling. With `write_gradient != 0` it also writes ∂warped/∂u (world mm⁻¹,
// interleaved), the derivative of the trilinear interpolant: the optimiser's chain-rule factor.
// CPU references: volume::warp::warp_scalar, volume::resample::resample_scalar and
// volume::warp::warp_with_gradient.

struct WarpParams {
    fixed_dims: vec4<u32>,
    moving_dims: vec4<u32>,
    // Rows of fixed world_from_voxel and of (moving voxel_from_world · A).
    fixed_world_from_voxel: array<vec4<f32>, 3>,
    moving_voxel_from_world: array<vec4<f32>, 3>,
    outside: f32,
    fixed_count: u32,
    use_displacement: u32,
    write_gradient: u32,
}

@group(0) @binding(0) var<uniform> params: WarpParams;
@group(0) @binding(1) var<storage, read> moving: array<f32>;
@group(0) @binding(2) var<storage, read> displacement: array<f32>;
@group(0) @binding(3) var<storage, read_write> warped: array<f32>;
@group(0) @binding(4) var<storage, read_write> gradient: array<f32>;

fn moving_at(i: u32, j: u32, k: u32) -> f32 {
    return moving[index_of(vec3<u32>(i, j, k), params.moving_dims.xyz)];
}

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
        warped[index] = params.outside;
        write_gradient(index, vec3<f32>(0.0));
        return;
    }
    let q = clamp(p, vec3<f32>(0.0), n - vec3<f32>(1.0));
    let lo = vec3<u32>(floor(q));
    let hi = min(lo + vec3<u32>(1u), params.moving_dims.xyz - vec3<u32>(1u));
    let w = q - floor(q);
    let c000 = moving_at(lo.x, lo.y, lo.z);
    let c100 = moving_at(hi.x, lo.y, lo.z);
    let c010 = moving_at(lo.x, hi.y, lo.z);
    let c110 = moving_at(hi.x, hi.y, lo.z);
    let c001 = moving_at(lo.x, lo.y, hi.z);
    let c101 = moving_at(hi.x, lo.y, hi.z);
    let c011 = moving_at(lo.x, hi.y, hi.z);
    let c111 = moving_at(hi.x, hi.y, hi.z);
    let c00 = mix(c000, c100, w.x);
    let c10 = mix(c010, c110, w.x);
    let c01 = mix(c001, c101, w.x);
    let c11 = mix(c011, c111, w.x);
    warped[index] = mix(mix(c00, c10, w.y), mix(c01, c11, w.y), w.z);
    if params.write_gradient != 0u {
        // Derivative of the interpolant along each voxel axis (zero where the axis has one sample).
        let gx = mix(mix(c100 - c000, c110 - c010, w.y), mix(c101 - c001, c111 - c011, w.y), w.z);
        let gy = mix(c10 - c00, c11 - c01, w.z);
        let gz = mix(c01, c11, w.y) - mix(c00, c10, w.y);
        let g_voxel = vec3<f32>(gx, gy, gz);
        // p = M (x + u): ∂/∂u = Mᵀ g_voxel with M the matrix's linear part.
        let g = vec3<f32>(
            m[0].x * g_voxel.x + m[1].x * g_voxel.y + m[2].x * g_voxel.z,
            m[0].y * g_voxel.x + m[1].y * g_voxel.y + m[2].y * g_voxel.z,
            m[0].z * g_voxel.x + m[1].z * g_voxel.y + m[2].z * g_voxel.z,
        );
        write_gradient(index, g);
    }
}
