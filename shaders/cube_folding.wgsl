// The folded share of each cube between voxel centres under x ↦ x + u(x), u interleaved (x, y, z)
// in world mm: the NDV's tetrahedra (eval::non_diffeomorphic) that turn inside out, their mapped
// volume over the cube's, averaged over the cube's two splits. The cube at voxel v spans v to
// v + (1, 1, 1); zero where that is outside the grid. CPU reference:
// eval::non_diffeomorphic::folded_cubes.

struct CubeFoldingParams {
    dims: vec4<u32>,
    cube: CubeGeometry,
    count: u32,
}

@group(0) @binding(0) var<uniform> params: CubeFoldingParams;
@group(0) @binding(1) var<storage, read> u: array<f32>;
@group(0) @binding(2) var<storage, read_write> share: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if i >= params.count {
        return;
    }
    let dims = params.dims.xyz;
    let v = voxel_of(i, dims);
    if any(v + vec3<u32>(1u) >= dims) {
        share[i] = 0.0;
        return;
    }
    share[i] = cube_folded6(cube_at(v, dims), params.cube.orientation, 8u).x * params.cube.inv_cube12;
}

// The mapped cube at voxel v (common.wgsl's mapped_cube; corner by corner, see there).
fn cube_at(v: vec3<u32>, dims: vec3<u32>) -> array<vec3<f32>, 8> {
    return mapped_cube(array<vec3<f32>, 8>(
        u_at(index_of(v, dims)), u_at(index_of(v + corner_offset(1u), dims)),
        u_at(index_of(v + corner_offset(2u), dims)), u_at(index_of(v + corner_offset(3u), dims)),
        u_at(index_of(v + corner_offset(4u), dims)), u_at(index_of(v + corner_offset(5u), dims)),
        u_at(index_of(v + corner_offset(6u), dims)), u_at(index_of(v + corner_offset(7u), dims)),
    ), params.cube.steps);
}

fn u_at(i: u32) -> vec3<f32> {
    return vec3<f32>(u[3u * i], u[3u * i + 1u], u[3u * i + 2u]);
}
