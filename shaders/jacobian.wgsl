// Jacobian determinant of x -> x + u(x) per voxel, u interleaved (x, y, z) in world mm. Stencil:
// central differences inside, one-sided at the borders (numpy's gradient), voxel derivatives
// converted to world through voxel_from_world's linear part. CPU reference:
// eval::jacobian::jacobian_determinant.

struct JacobianParams {
    dims: vec4<u32>,
    // Columns of the 3x3 linear part of voxel_from_world, as rows of its transpose.
    voxel_from_world: array<vec4<f32>, 3>,
    count: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: JacobianParams;
@group(0) @binding(1) var<storage, read> displacement: array<f32>;
@group(0) @binding(2) var<storage, read_write> det_out: array<f32>;

fn u_at(index: u32) -> vec3<f32> {
    return vec3<f32>(displacement[3u * index], displacement[3u * index + 1u], displacement[3u * index + 2u]);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = flat_index(gid, groups);
    if index >= params.count {
        return;
    }
    let dims = params.dims.xyz;
    let v = voxel_of(index, dims);
    let strides = vec3<u32>(1u, dims.x, dims.x * dims.y);
    // d[a] = du/dv_a (a column per voxel axis).
    var d = mat3x3<f32>(vec3<f32>(0.0), vec3<f32>(0.0), vec3<f32>(0.0));
    for (var a = 0u; a < 3u; a++) {
        if dims[a] < 2u {
            continue;
        }
        var lo = index;
        var hi = index;
        var h = 2.0;
        if v[a] == 0u {
            hi = index + strides[a];
            h = 1.0;
        } else if v[a] + 1u == dims[a] {
            lo = index - strides[a];
            h = 1.0;
        } else {
            lo = index - strides[a];
            hi = index + strides[a];
        }
        d[a] = (u_at(hi) - u_at(lo)) / h;
    }
    let inv = mat3x3<f32>(params.voxel_from_world[0].xyz, params.voxel_from_world[1].xyz, params.voxel_from_world[2].xyz);
    let j = mat3x3<f32>(vec3<f32>(1.0, 0.0, 0.0), vec3<f32>(0.0, 1.0, 0.0), vec3<f32>(0.0, 0.0, 1.0)) + d * inv;
    det_out[index] = determinant(j);
}
