// One squaring step of scaling and squaring, exp of a stationary velocity field:
// out(x) = s·u(x) + s·u(x + s·u(x)), fields interleaved (x, y, z) per voxel in world mm, the inner
// u trilinear at the continuous voxel index x + L⁻¹·s·u(x) clamped to the grid (border values).
// The first step takes s = 2⁻ᴷ on the velocity, the K−1 others s = 1 on the previous output.
// CPU reference: volume::velocity::square_scaled.

struct ExpParams {
    dims: vec4<u32>,
    // Columns of voxel_from_world's linear part (mm → voxel offsets).
    voxel_from_world: array<vec4<f32>, 3>,
    count: u32,
    scale: f32,
    _pad: vec2<u32>,
}

@group(0) @binding(0) var<uniform> params: ExpParams;
@group(0) @binding(1) var<storage, read> u: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn at(i: u32, j: u32, k: u32) -> vec3<f32> {
    let n = 3u * index_of(vec3<u32>(i, j, k), params.dims.xyz);
    return vec3<f32>(u[n], u[n + 1u], u[n + 2u]);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = flat_index(gid, groups);
    if index >= params.count {
        return;
    }
    let dims = params.dims.xyz;
    let a = params.scale * vec3<f32>(u[3u * index], u[3u * index + 1u], u[3u * index + 2u]);
    let m = params.voxel_from_world;
    let offset = m[0].xyz * a.x + m[1].xyz * a.y + m[2].xyz * a.z;
    let p = clamp(vec3<f32>(voxel_of(index, dims)) + offset, vec3<f32>(0.0), vec3<f32>(dims - vec3<u32>(1u)));
    let lo = vec3<u32>(floor(p));
    let hi = min(lo + vec3<u32>(1u), dims - vec3<u32>(1u));
    let w = p - floor(p);
    let c00 = mix(at(lo.x, lo.y, lo.z), at(hi.x, lo.y, lo.z), w.x);
    let c10 = mix(at(lo.x, hi.y, lo.z), at(hi.x, hi.y, lo.z), w.x);
    let c01 = mix(at(lo.x, lo.y, hi.z), at(hi.x, lo.y, hi.z), w.x);
    let c11 = mix(at(lo.x, hi.y, hi.z), at(hi.x, hi.y, hi.z), w.x);
    let b = mix(mix(c00, c10, w.y), mix(c01, c11, w.y), w.z);
    let r = a + params.scale * b;
    out[3u * index] = r.x;
    out[3u * index + 1u] = r.y;
    out[3u * index + 2u] = r.z;
}
