// One pass of a separable convolution along `axis` with symmetric taps (Gaussian smoothing for the
// pyramid and of displacement fields, box sums for local NCC), clamping at the volume's edges or
// reading zeros beyond them (`zero_edge`). Elements are `channels`
// interleaved values per voxel (1 for images, 3 for fields), each smoothed on its own.
// CPU reference: volume::filter::convolve_axis.

struct SmoothParams {
    dims: vec4<u32>,
    axis: u32,
    radius: u32,
    count: u32,
    channels: u32,
    zero_edge: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    // Taps 0..=2*radius, four per vec4 (uniform arrays need 16-byte strides).
    taps: array<vec4<f32>, 16>,
}

@group(0) @binding(0) var<uniform> params: SmoothParams;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

fn tap(t: u32) -> f32 {
    return params.taps[t / 4u][t % 4u];
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = flat_index(gid, groups);
    if index >= params.count {
        return;
    }
    let channel = index % params.channels;
    let v = voxel_of(index / params.channels, params.dims.xyz);
    let n = i32(params.dims[params.axis]);
    let centre = i32(v[params.axis]);
    var acc = 0.0;
    for (var t = 0u; t <= 2u * params.radius; t++) {
        let c = centre + i32(t) - i32(params.radius);
        if params.zero_edge != 0u && (c < 0 || c >= n) {
            continue;
        }
        var w = v;
        w[params.axis] = u32(clamp(c, 0, n - 1));
        acc += tap(t) * input[index_of(w, params.dims.xyz) * params.channels + channel];
    }
    output[index] = acc;
}
