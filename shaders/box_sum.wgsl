// One pass of (2r+1)-voxel box sums along `axis`, zero beyond the edges, by a running sum: one
// invocation walks one line of the volume, so each voxel costs one add and one subtract whatever
// the radius (the tap loop of smooth.wgsl costs 2r+1 reads). Local NCC needs nine of these
// three-pass sums per iteration. CPU reference: volume::filter::box_sum (per pass: convolve_axis
// with unit taps and Edge::Zero).

struct BoxParams {
    dims: vec4<u32>,
    axis: u32,
    radius: u32,
    // Lines per channel; `channels` volumes of `dims` lie one after another (MIND's distances).
    lines: u32,
    channels: u32,
}

@group(0) @binding(0) var<uniform> params: BoxParams;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = flat_index(gid, groups);
    if index >= params.lines * params.channels {
        return;
    }
    let channel = index / params.lines;
    let walk = line_walk(index - channel * params.lines, params.axis, params.dims.xyz);
    let base = walk.x + channel * params.dims.x * params.dims.y * params.dims.z;
    let stride = walk.y;
    let n = walk.z;
    let r = params.radius;
    var sum = 0.0;
    for (var q = 0u; q <= min(r, n - 1u); q++) {
        sum += input[base + q * stride];
    }
    for (var p = 0u; p < n; p++) {
        output[base + p * stride] = sum;
        if p + r + 1u < n {
            sum += input[base + (p + r + 1u) * stride];
        }
        if p >= r {
            sum -= input[base + (p - r) * stride];
        }
    }
}
