// First pass of the MIND descriptors (mind_descriptor.wgsl): for connection c and voxel v, the
// squared difference (I(v + a_c) − I(v + b_c))², shifted samples clamped to the volume; written
// channel after channel, so box sums of all connections run as one multi-channel box filter.
// CPU reference: volume::mind::descriptor.

struct DifferenceParams {
    dims: vec4<u32>,
    count: u32,
    pairs: u32,
    _pad0: u32,
    _pad1: u32,
    // Offsets a_c, b_c of connection c at 2c and 2c + 1 (xyz; w unused).
    offsets: array<vec4<i32>, 36>,
}

@group(0) @binding(0) var<uniform> params: DifferenceParams;
@group(0) @binding(1) var<storage, read> image: array<f32>;
@group(0) @binding(2) var<storage, read_write> squared: array<f32>;

fn clamped(v: vec3<u32>, o: vec4<i32>) -> u32 {
    let hi = vec3<i32>(params.dims.xyz) - vec3<i32>(1);
    let p = clamp(vec3<i32>(v) + o.xyz, vec3<i32>(0), hi);
    return index_of(vec3<u32>(p), params.dims.xyz);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = flat_index(gid, groups);
    if index >= params.count * params.pairs {
        return;
    }
    let c = index / params.count;
    let i = index - c * params.count;
    let v = voxel_of(i, params.dims.xyz);
    let d = image[clamped(v, params.offsets[2u * c])] - image[clamped(v, params.offsets[2u * c + 1u])];
    squared[index] = d * d;
}
