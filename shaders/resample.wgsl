// Trilinear resampling of a scalar volume onto another grid: each target voxel is mapped by
// `source_from_target` (target voxel index -> continuous source voxel index, through world mm) and
// sampled. Inside means within half a voxel of the outermost centres; neighbours clamp to the
// border; outside gets `outside`. CPU reference: volume::resample::resample_scalar.

struct ResampleParams {
    source_dims: vec4<u32>,
    target_dims: vec4<u32>,
    // Rows of the 3x4 affine source_from_target.
    row0: vec4<f32>,
    row1: vec4<f32>,
    row2: vec4<f32>,
    outside: f32,
    target_count: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: ResampleParams;
@group(0) @binding(1) var<storage, read> source_values: array<f32>;
@group(0) @binding(2) var<storage, read_write> target_values: array<f32>;

fn at(i: u32, j: u32, k: u32) -> f32 {
    return source_values[index_of(vec3<u32>(i, j, k), params.source_dims.xyz)];
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = flat_index(gid, groups);
    if index >= params.target_count {
        return;
    }
    let t = vec4<f32>(vec3<f32>(voxel_of(index, params.target_dims.xyz)), 1.0);
    let p = vec3<f32>(dot(params.row0, t), dot(params.row1, t), dot(params.row2, t));
    let n = vec3<f32>(params.source_dims.xyz);
    if any(p < vec3<f32>(-0.5)) || any(p > n - vec3<f32>(0.5)) {
        target_values[index] = params.outside;
        return;
    }
    let q = clamp(p, vec3<f32>(0.0), n - vec3<f32>(1.0));
    let lo = vec3<u32>(floor(q));
    let hi = min(lo + vec3<u32>(1u), params.source_dims.xyz - vec3<u32>(1u));
    let f = q - floor(q);
    let c00 = mix(at(lo.x, lo.y, lo.z), at(hi.x, lo.y, lo.z), f.x);
    let c10 = mix(at(lo.x, hi.y, lo.z), at(hi.x, hi.y, lo.z), f.x);
    let c01 = mix(at(lo.x, lo.y, hi.z), at(hi.x, lo.y, hi.z), f.x);
    let c11 = mix(at(lo.x, hi.y, hi.z), at(hi.x, hi.y, hi.z), f.x);
    target_values[index] = mix(mix(c00, c10, f.y), mix(c01, c11, f.y), f.z);
}
