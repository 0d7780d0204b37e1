// One pass of a separable convolution along `axis` with symmetric taps of radius ≤ 4, clamping at
// the volume's edges: the same result as smooth.wgsl, computed by walking lines. One invocation
// walks one line, keeping the 9 values under the filter in a window that shifts by one voxel per
// output, so each input is read once (smooth.wgsl reads it 2r+1 times, which is what costs on CPU
// rasterisers such as lavapipe). Elements are `channels` (1 or 3) interleaved values per voxel.
// CPU reference: volume::filter::convolve_axis.

const RADIUS: i32 = 4;
const WINDOW: u32 = 9u;

struct LineParams {
    dims: vec4<u32>,
    axis: u32,
    channels: u32,
    lines: u32,
    _pad: u32,
    // Taps for offsets −4..=4, zero beyond the filter's own radius (uniform arrays need 16-byte
    // strides, hence vec4s).
    taps: array<vec4<f32>, 3>,
}

@group(0) @binding(0) var<uniform> params: LineParams;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

fn load(voxel: u32) -> vec3<f32> {
    if params.channels == 3u {
        return vec3<f32>(input[3u * voxel], input[3u * voxel + 1u], input[3u * voxel + 2u]);
    }
    return vec3<f32>(input[voxel], 0.0, 0.0);
}

fn store(voxel: u32, v: vec3<f32>) {
    if params.channels == 3u {
        output[3u * voxel] = v.x;
        output[3u * voxel + 1u] = v.y;
        output[3u * voxel + 2u] = v.z;
    } else {
        output[voxel] = v.x;
    }
}

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
    let last = i32(n) - 1;
    var taps: array<f32, WINDOW>;
    var window: array<vec3<f32>, WINDOW>;
    for (var t = 0u; t < WINDOW; t++) {
        taps[t] = params.taps[t / 4u][t % 4u];
        let p = clamp(i32(t) - RADIUS, 0, last);
        window[t] = load(base + u32(p) * stride);
    }
    for (var p = 0u; p < n; p++) {
        var acc = vec3<f32>(0.0);
        for (var t = 0u; t < WINDOW; t++) {
            acc += taps[t] * window[t];
        }
        store(base + p * stride, acc);
        for (var t = 0u; t + 1u < WINDOW; t++) {
            window[t] = window[t + 1u];
        }
        let next = clamp(i32(p) + 1 + RADIUS, 0, last);
        window[WINDOW - 1u] = load(base + u32(next) * stride);
    }
}
