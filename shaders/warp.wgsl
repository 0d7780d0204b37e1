// Warps a moving image onto the fixed grid: for fixed voxel v at world x, warped(v) = moving(x + u(v)),
// trilinear, `outside` beyond the moving image's extent (half a voxel past its outer centres).
// `u` is interleaved (x, y, z) per voxel in world mm; with `use_displacement == 0` it is ignored and
// this is plain resampling through world space.
// CPU references: volume::warp::warp_scalar and volume::resample::resample_scalar.

struct WarpParams {
    fixed_dims: vec4<u32>,
    moving_dims: vec4<u32>,
    // Rows of fixed world_from_voxel and of moving voxel_from_world.
    fixed_world_from_voxel: array<vec4<f32>, 3>,
    moving_voxel_from_world: array<vec4<f32>, 3>,
    outside: f32,
    fixed_count: u32,
    use_displacement: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: WarpParams;
@group(0) @binding(1) var<storage, read> moving: array<f32>;
@group(0) @binding(2) var<storage, read> displacement: array<f32>;
@group(0) @binding(3) var<storage, read_write> warped: array<f32>;

fn moving_at(i: u32, j: u32, k: u32) -> f32 {
    return moving[index_of(vec3<u32>(i, j, k), params.moving_dims.xyz)];
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
        return;
    }
    let q = clamp(p, vec3<f32>(0.0), n - vec3<f32>(1.0));
    let lo = vec3<u32>(floor(q));
    let hi = min(lo + vec3<u32>(1u), params.moving_dims.xyz - vec3<u32>(1u));
    let w = q - floor(q);
    let c00 = mix(moving_at(lo.x, lo.y, lo.z), moving_at(hi.x, lo.y, lo.z), w.x);
    let c10 = mix(moving_at(lo.x, hi.y, lo.z), moving_at(hi.x, hi.y, lo.z), w.x);
    let c01 = mix(moving_at(lo.x, lo.y, hi.z), moving_at(hi.x, lo.y, hi.z), w.x);
    let c11 = mix(moving_at(lo.x, hi.y, hi.z), moving_at(hi.x, hi.y, hi.z), w.x);
    warped[index] = mix(mix(c00, c10, w.y), mix(c01, c11, w.y), w.z);
}
