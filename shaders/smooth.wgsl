// One pass of a separable convolution along `axis` with symmetric taps (Gaussian smoothing for the
// pyramid and of displacement fields), clamping at the volume's edges. Elements are `channels` interleaved values per voxel
// (1 for images, 3 for fields), each filtered on its own. One invocation per voxel on a 3D
// dispatch, so no invocation divides to find its voxel (integer division is slow on CPU
// rasterisers such as lavapipe, and modest GPUs). CPU reference: volume::filter::convolve_axis.

struct SmoothParams {
    dims: vec4<u32>,
    axis: u32,
    radius: u32,
    channels: u32,
    // Voxels between neighbours along `axis` (1, nx or nx·ny).
    stride: u32,
    // Taps 0..=2*radius, four per vec4 (uniform arrays need 16-byte strides).
    taps: array<vec4<f32>, 16>,
}

@group(0) @binding(0) var<uniform> params: SmoothParams;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

fn tap(t: u32) -> f32 {
    return params.taps[t / 4u][t % 4u];
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) invocation: vec3<u32>) {
    let gid = sliced_voxel(invocation);
    let dims = params.dims.xyz;
    if gid.x >= dims.x || gid.y >= dims.y || gid.z >= dims.z {
        return;
    }
    let voxel = gid.x + dims.x * (gid.y + dims.y * gid.z);
    var coord = gid.z;
    var n = dims.z;
    if params.axis == 0u {
        coord = gid.x;
        n = dims.x;
    } else if params.axis == 1u {
        coord = gid.y;
        n = dims.y;
    }
    let r = i32(params.radius);
    let centre = i32(coord);
    let channels = params.channels;
    if channels == 3u {
        // Fields: one pass over the taps for all three components (reading each tap weight once
        // and three neighbouring floats) is about twice as fast as three one-channel passes.
        var acc3 = vec3<f32>(0.0);
        for (var t = 0; t <= 2 * r; t++) {
            let p = clamp(centre + t - r, 0, i32(n) - 1);
            let source = 3u * u32(i32(voxel) + (p - centre) * i32(params.stride));
            acc3 += tap(u32(t)) * vec3<f32>(input[source], input[source + 1u], input[source + 2u]);
        }
        output[3u * voxel] = acc3.x;
        output[3u * voxel + 1u] = acc3.y;
        output[3u * voxel + 2u] = acc3.z;
        return;
    }
    for (var ch = 0u; ch < channels; ch++) {
        var acc = 0.0;
        for (var t = 0; t <= 2 * r; t++) {
            let p = clamp(centre + t - r, 0, i32(n) - 1);
            let source = u32(i32(voxel) + (p - centre) * i32(params.stride));
            acc += tap(u32(t)) * input[source * channels + ch];
        }
        output[voxel * channels + ch] = acc;
    }
}
