// Render only: draws one view's composed slice image (nearest texel) inside the view's rectangle,
// black around it. One full-viewport triangle, no blending: on a software rasteriser this costs a
// fraction of egui's textured, blended quads. Its CPU reference is `app::views::compose`, which
// makes the image; this shader only places it.

struct Params {
    // The image's rectangle in the viewport, as fractions: min x, min y, max x, max y.
    image_rect: vec4<f32>,
}

@group(0) @binding(0) var image: texture_2d<f32>;
@group(0) @binding(1) var<uniform> params: Params;

struct VertexOut {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
}

@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> VertexOut {
    let x = f32((index << 1u) & 2u);
    let y = f32(index & 2u);
    var out: VertexOut;
    out.position = vec4<f32>(x * 2.0 - 1.0, 1.0 - y * 2.0, 0.0, 1.0);
    out.uv = vec2<f32>(x, y);
    return out;
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let r = params.image_rect;
    let t = (in.uv - r.xy) / (r.zw - r.xy);
    if any(t < vec2<f32>(0.0)) || any(t >= vec2<f32>(1.0)) {
        return vec4<f32>(0.0, 0.0, 0.0, 1.0);
    }
    let size = vec2<f32>(textureDimensions(image));
    return textureLoad(image, vec2<i32>(t * size), 0);
}
