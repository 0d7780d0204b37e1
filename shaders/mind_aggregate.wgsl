// Last pass of macMIND: the mean of the multi-scale self-similarity `mixed` ([voxel][connection])
// over each log-polar bin's window offsets, shifted samples clamped to the volume; output
// [voxel][bin][connection]. `bins` holds, per bin, the start and end of its offsets in `offsets`.
// CPU reference: volume::mind::descriptor.

struct AggregateParams {
    dims: vec4<u32>,
    count: u32,
    pairs: u32,
    bins: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: AggregateParams;
@group(0) @binding(1) var<storage, read> mixed: array<f32>;
@group(0) @binding(2) var<storage, read> bins: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read> offsets: array<vec4<i32>>;
@group(0) @binding(4) var<storage, read_write> descriptor: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = flat_index(gid, groups);
    if index >= params.count * params.bins {
        return;
    }
    // One invocation per (voxel, bin): bins of one voxel are neighbours in memory.
    let i = index / params.bins;
    let b = index - i * params.bins;
    let v = vec3<i32>(voxel_of(i, params.dims.xyz));
    let hi = vec3<i32>(params.dims.xyz) - vec3<i32>(1);
    let range = bins[b];
    let p = params.pairs;
    let out = (i * params.bins + b) * p;
    for (var c = 0u; c < p; c++) {
        descriptor[out + c] = 0.0;
    }
    let weight = 1.0 / f32(range.y - range.x);
    for (var k = range.x; k < range.y; k++) {
        let q = clamp(v + offsets[k].xyz, vec3<i32>(0), hi);
        let j = index_of(vec3<u32>(q), params.dims.xyz) * p;
        for (var c = 0u; c < p; c++) {
            descriptor[out + c] += weight * mixed[j + c];
        }
    }
}
