// One pass of (2r+1)-voxel box sums along `axis`, zero beyond the edges, by a running sum: one
// invocation walks one line of the volume, so each voxel costs one add and one subtract whatever
// the radius (the tap loop of smooth.wgsl costs 2r+1 reads). Local NCC needs nine of these
// three-pass sums per iteration. CPU reference: volume::filter::box_sum (per pass: convolve_axis
// with unit taps and Edge::Zero).

struct BoxParams {
    dims: vec4<u32>,
    axis: u32,
    radius: u32,
    lines: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: BoxParams;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let line = flat_index(gid, groups);
    if line >= params.lines {
        return;
    }
    let walk = line_walk(line, params.axis, params.dims.xyz);
    let base = walk.x;
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
