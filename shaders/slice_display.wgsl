// Render only: draws one view's composed slice image (nearest texel) inside the view's rectangle,
// black around it. Its CPU reference is `app::views::compose`, which makes the image; this shader
// only places it.
//
// Everything is drawn as axis-aligned rectangles (two triangles each) with fragment shaders that
// are a constant or a single texture sample of an interpolated coordinate, and no blending: that
// is the shape llvmpipe (lavapipe) rasterises on its "linear" path, which shades 8-bit pixels
// many at a time instead of running the general shader per 4 × 4 block. Vertices 0..24 are four
// black strips around the image (the part of the view the image leaves), 24..30 the image.

struct Params {
    // The image's rectangle in the viewport, as fractions: min x, min y, max x, max y.
    image_rect: vec4<f32>,
}

@group(0) @binding(0) var image: texture_2d<f32>;
@group(0) @binding(1) var<uniform> params: Params;
@group(0) @binding(2) var nearest: sampler;

struct VertexOut {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
}

// A rectangle's corner `corner` (0..6, two triangles sharing the diagonal from corner 1 to 2).
fn corner_of(lo: vec2<f32>, hi: vec2<f32>, corner: u32) -> vec2<f32> {
    switch corner {
        case 0u: { return lo; }
        case 1u, 4u: { return vec2<f32>(hi.x, lo.y); }
        case 2u, 3u: { return vec2<f32>(lo.x, hi.y); }
        default: { return hi; }
    }
}

@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> VertexOut {
    // The image clamped to the view: the strips fill the rest and may be empty.
    let r = clamp(params.image_rect, vec4<f32>(0.0), vec4<f32>(1.0));
    var lo: vec2<f32>;
    var hi: vec2<f32>;
    switch index / 6u {
        case 0u: { lo = vec2<f32>(0.0, 0.0); hi = vec2<f32>(1.0, r.y); }
        case 1u: { lo = vec2<f32>(0.0, r.w); hi = vec2<f32>(1.0, 1.0); }
        case 2u: { lo = vec2<f32>(0.0, r.y); hi = vec2<f32>(r.x, r.w); }
        case 3u: { lo = vec2<f32>(r.z, r.y); hi = vec2<f32>(1.0, r.w); }
        default: { lo = r.xy; hi = r.zw; }
    }
    let p = corner_of(lo, hi, index % 6u);
    var out: VertexOut;
    out.position = vec4<f32>(p.x * 2.0 - 1.0, 1.0 - p.y * 2.0, 0.0, 1.0);
    // Texture coordinates of the unclamped image, so a zoomed image is cut, not squeezed.
    let full = params.image_rect;
    out.uv = (p - full.xy) / max(full.zw - full.xy, vec2<f32>(1e-6));
    return out;
}

@fragment
fn fs_background() -> @location(0) vec4<f32> {
    return vec4<f32>(0.0, 0.0, 0.0, 1.0);
}

@fragment
fn fs_image(in: VertexOut) -> @location(0) vec4<f32> {
    return textureSample(image, nearest, in.uv);
}
