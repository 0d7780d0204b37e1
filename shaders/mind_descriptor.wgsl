// Second pass of the MIND descriptors: from the box-summed patch distances D_c of one scale
// (channel after channel), exp(−(D_c − m) / V) with m = min_c D_c (MIND-SSC) or 0 (macMIND) and
// V = max(mean_c (D_c − m), ε), weighted by `alpha` and added into the interleaved output
// `[voxel][channel]` (the first scale writes, later ones add). CPU reference:
// volume::mind::descriptor.

struct DescriptorParams {
    count: u32,
    pairs: u32,
    subtract_min: u32,
    accumulate: u32,
    alpha: f32,
    min_variance: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: DescriptorParams;
@group(0) @binding(1) var<storage, read> distances: array<f32>;
@group(0) @binding(2) var<storage, read_write> descriptor: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if i >= params.count {
        return;
    }
    let p = params.pairs;
    var floor_value = 0.0;
    if params.subtract_min != 0u {
        floor_value = 3.0e38;
        for (var c = 0u; c < p; c++) {
            floor_value = min(floor_value, distances[c * params.count + i]);
        }
    }
    var mean = 0.0;
    for (var c = 0u; c < p; c++) {
        mean += distances[c * params.count + i] - floor_value;
    }
    let variance = max(mean / f32(p), params.min_variance);
    for (var c = 0u; c < p; c++) {
        let value = params.alpha * exp(-(distances[c * params.count + i] - floor_value) / variance);
        if params.accumulate != 0u {
            descriptor[i * p + c] += value;
        } else {
            descriptor[i * p + c] = value;
        }
    }
}
