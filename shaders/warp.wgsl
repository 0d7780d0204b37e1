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
    geometry: SampleGeometry,
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
        warped[index] = params.outside;
        write_gradient(index, vec3<f32>(0.0));
        return;
    }
    var c: array<f32, 8>;
    for (var k = 0u; k < 8u; k++) {
        c[k] = moving[t.corners[k]];
    }
    let s = trilinear_value_gradient(c, t.w);
    warped[index] = s.x;
    write_gradient(index, world_gradient(m, s.yzw));
}
