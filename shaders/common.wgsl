// Shared prelude of every Warpbench compute shader: dispatch linearisation and voxel indexing.
// Voxel (i, j, k) is stored at i + nx * (j + ny * k), i fastest, as in NIfTI and the CPU volumes.

const WORKGROUP: u32 = 64u;

// Where this dispatch starts when the engine splits one into several submissions, so that the
// window's frames get through between them (`gpu::pacing`): x is the first flat index, z the
// first z-plane of a 3D dispatch; zero when not split.
@group(0) @binding(15) var<uniform> slice_origin: vec4<u32>;

// Flat invocation index of a 1D kernel dispatched as a 2D grid of workgroups (x up to 65535),
// so volumes above 65535 * 64 voxels need no second pass.
fn flat_index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return slice_origin.x + gid.x + gid.y * groups.x * WORKGROUP;
}

// The voxel of an invocation of a 3D dispatch (one invocation per voxel, split by z-planes).
fn sliced_voxel(gid: vec3<u32>) -> vec3<u32> {
    return vec3<u32>(gid.x, gid.y, gid.z + slice_origin.z);
}

// Whether a warped sample fell outside the moving image: the warp writes −3e38 there
// (similarity::OUTSIDE); the same test as similarity::is_outside.
fn is_outside(w: f32) -> bool {
    return w < -1e38;
}

fn voxel_of(index: u32, dims: vec3<u32>) -> vec3<u32> {
    let plane = dims.x * dims.y;
    let k = index / plane;
    let r = index - k * plane;
    let j = r / dims.x;
    return vec3<u32>(r - j * dims.x, j, k);
}

// Line number `line` of the lines along voxel axis `axis` (lines of the other two axes in index
// order): (index of its first voxel, index step along it, its length).
fn line_walk(line: u32, axis: u32, dims: vec3<u32>) -> vec3<u32> {
    if axis == 0u {
        return vec3<u32>(line * dims.x, 1u, dims.x);
    }
    if axis == 1u {
        let k = line / dims.x;
        return vec3<u32>((line - k * dims.x) + dims.x * dims.y * k, dims.x, dims.y);
    }
    return vec3<u32>(line, dims.x * dims.y, dims.z);
}

fn index_of(v: vec3<u32>, dims: vec3<u32>) -> u32 {
    return v.x + dims.x * (v.y + dims.y * v.z);
}

// Parameters of the three mutual-information passes (mi_*.wgsl; similarity::mi::Params).
struct MiParams {
    count: u32,
    bins: u32,
    chunk: u32,
    normalised: u32,
    // Intensity to bin coordinate: fixed (f − lo) · scale ∈ [0, bins); warped (w − lo) · scale + 2
    // ∈ [2, bins − 3], so the spline's four bins stay inside.
    fixed_lo: f32,
    fixed_scale: f32,
    warped_lo: f32,
    warped_scale: f32,
    groups: u32,
    fixed_point: f32,
    _pad0: u32,
    _pad1: u32,
}

// Mutual information's bin coordinates (mi_*.wgsl; the same in similarity::mi): the fixed value's
// hard bin, and the warped value's continuous coordinate in [2, bins − 3].
fn fixed_bin(f: f32, lo: f32, scale: f32, bins: u32) -> u32 {
    return u32(clamp(floor((f - lo) * scale), 0.0, f32(bins - 1u)));
}

fn warped_coordinate(w: f32, lo: f32, scale: f32, bins: u32) -> f32 {
    return clamp((w - lo) * scale, 0.0, f32(bins - 5u)) + 2.0;
}

// Cubic B-spline and its derivative (support |t| < 2).
fn bspline3(t: f32) -> f32 {
    let a = abs(t);
    if a < 1.0 {
        return (4.0 - 6.0 * a * a + 3.0 * a * a * a) / 6.0;
    }
    if a < 2.0 {
        let r = 2.0 - a;
        return r * r * r / 6.0;
    }
    return 0.0;
}

fn bspline3_derivative(t: f32) -> f32 {
    let a = abs(t);
    if a < 1.0 {
        return -2.0 * t + 1.5 * t * a;
    }
    if a < 2.0 {
        let r = 2.0 - a;
        return -sign(t) * r * r / 2.0;
    }
    return 0.0;
}

// Trilinear sampling (warp.wgsl, descriptor_ssd.wgsl; on the CPU resample::trilinear_corners).
// `inside` is false beyond half a voxel past the outer centres; else the voxel indices of the eight
// corners (x fastest: 000, 100, 010, 110, 001, 101, 011, 111) and the weights along each axis.
struct Trilinear {
    inside: bool,
    corners: array<u32, 8>,
    w: vec3<f32>,
}

fn trilinear_at(p: vec3<f32>, dims: vec3<u32>) -> Trilinear {
    var t: Trilinear;
    let n = vec3<f32>(dims);
    t.inside = !(any(p < vec3<f32>(-0.5)) || any(p > n - vec3<f32>(0.5)));
    let q = clamp(p, vec3<f32>(0.0), n - vec3<f32>(1.0));
    let lo = vec3<u32>(floor(q));
    let hi = min(lo + vec3<u32>(1u), dims - vec3<u32>(1u));
    t.w = q - floor(q);
    for (var c = 0u; c < 8u; c++) {
        let v = select(lo, hi, vec3<bool>((c & 1u) != 0u, (c & 2u) != 0u, (c & 4u) != 0u));
        t.corners[c] = index_of(v, dims);
    }
    return t;
}

// The trilinear interpolant of corner values `c` (ordered as Trilinear.corners) at weights `w`,
// and its derivative along each voxel axis (zero where the axis has one sample): (value, ∇).
fn trilinear_value_gradient(c: array<f32, 8>, w: vec3<f32>) -> vec4<f32> {
    let c00 = mix(c[0], c[1], w.x);
    let c10 = mix(c[2], c[3], w.x);
    let c01 = mix(c[4], c[5], w.x);
    let c11 = mix(c[6], c[7], w.x);
    let gx = mix(mix(c[1] - c[0], c[3] - c[2], w.y), mix(c[5] - c[4], c[7] - c[6], w.y), w.z);
    let gy = mix(c10 - c00, c11 - c01, w.z);
    let gz = mix(c01, c11, w.y) - mix(c00, c10, w.y);
    return vec4<f32>(mix(mix(c00, c10, w.y), mix(c01, c11, w.y), w.z), gx, gy, gz);
}

// Fixed voxel `v` displaced by `u` (world mm), in the moving image's voxel space: p = M (x + u),
// `f` the rows of the fixed world_from_voxel, `m` those of moving voxel_from_world (· A).
fn mapped_voxel(v: vec3<u32>, u: vec3<f32>, f: array<vec4<f32>, 3>, m: array<vec4<f32>, 3>) -> vec3<f32> {
    let h = vec4<f32>(vec3<f32>(v), 1.0);
    let y = vec4<f32>(vec3<f32>(dot(f[0], h), dot(f[1], h), dot(f[2], h)) + u, 1.0);
    return vec3<f32>(dot(m[0], y), dot(m[1], y), dot(m[2], y));
}

// ∂/∂u (world mm⁻¹) of a value sampled at p = M (x + u) from its derivative `g` along the moving
// voxel axes: Mᵀ g, M the linear part of `m`'s rows.
fn world_gradient(m: array<vec4<f32>, 3>, g: vec3<f32>) -> vec3<f32> {
    return m[0].xyz * g.x + m[1].xyz * g.y + m[2].xyz * g.z;
}

// Parameters of the two label-overlap passes (label_overlap.wgsl, label_gradient.wgsl;
// gpu::kernels::label_dice::Params). Channel k of the one-hot maps is label k, interleaved per voxel.
struct LabelParams {
    geometry: SampleGeometry,
    fixed_count: u32,
    channels: u32,
    // The loss's weight divided by the channel count: L = weight · (1 − mean_k Dice_k).
    weight_per_channel: f32,
    _pad0: u32,
}

// How fixed voxels sample the moving image: the head of every sampling kernel's parameters
// (warp, descriptor_ssd, label_*; gpu::kernel::SampleGeometry).
struct SampleGeometry {
    fixed_dims: vec4<u32>,
    moving_dims: vec4<u32>,
    fixed_world_from_voxel: array<vec4<f32>, 3>,
    // Rows of (moving voxel_from_world · A).
    moving_voxel_from_world: array<vec4<f32>, 3>,
}

// The trilinear sample of fixed voxel `index` displaced by `u` (world mm): at A(x + u) in the
// moving image's voxel space.
fn sample_point(g: SampleGeometry, index: u32, u: vec3<f32>) -> Trilinear {
    let p = mapped_voxel(voxel_of(index, g.fixed_dims.xyz), u, g.fixed_world_from_voxel, g.moving_voxel_from_world);
    return trilinear_at(p, g.moving_dims.xyz);
}

// A cube between voxel centres under x ↦ x + u(x) (cube_folding.wgsl, regularisers.wgsl): corner c
// (bit 0: +i, bit 1: +j, bit 2: +k) of the cube at voxel v is voxel v + corner_offset(c).

// What those shaders need of the grid's cubes (gpu::kernels::regularisers::CubeGeometry).
struct CubeGeometry {
    // World offsets (mm) of one voxel step along i, j and k: the columns of world_from_voxel.
    steps: array<vec4<f32>, 3>,
    // The unmapped orientation (±1) of each of cube_folded6's ten tetrahedra, four per vec4.
    orientation: array<vec4<f32>, 3>,
    // 1 / (12 · the cube's volume in mm³): six times a volume, counted by two splits.
    inv_cube12: f32,
}
fn corner_offset(c: u32) -> vec3<u32> {
    return vec3<u32>(c & 1u, (c >> 1u) & 1u, c >> 2u);
}

// The cube's corners mapped, relative to the first one's unmapped position (world mm): `d` their
// displacements, `steps` the world offsets of one voxel step along i, j and k. Written out with
// literal indices, like cube_folded6, so that no array of corners is indexed at run time (which
// drivers may place in memory rather than registers).
fn mapped_cube(d: array<vec3<f32>, 8>, steps: array<vec4<f32>, 3>) -> array<vec3<f32>, 8> {
    let i = steps[0].xyz;
    let j = steps[1].xyz;
    let k = steps[2].xyz;
    return array<vec3<f32>, 8>(d[0], d[1] + i, d[2] + j, d[3] + i + j, d[4] + k, d[5] + i + k, d[6] + j + k, d[7] + i + j + k);
}

// The ten tetrahedra of a cube's two five-way splits as eval::non_diffeomorphic::TETRAHEDRA lists
// them (eight corner ones, then the even and the odd central one), each with its unmapped
// orientation `s` (±1), four per vec4: how much of six times each one's mapped volume
// V = (p_b − p_a)·((p_c − p_a) × (p_d − p_a)) is turned inside out, f = max(0, −s V), summed
// (x); and the sum's derivative by the position of corner `corner` (yzw; 8 for none).
fn cube_folded6(p: array<vec3<f32>, 8>, s: array<vec4<f32>, 3>, corner: u32) -> vec4<f32> {
    return tetra_folded6(p[0], p[1], p[2], p[4], s[0].x, slot(corner, 0u, 1u, 2u, 4u))
        + tetra_folded6(p[1], p[0], p[3], p[5], s[0].y, slot(corner, 1u, 0u, 3u, 5u))
        + tetra_folded6(p[2], p[3], p[0], p[6], s[0].z, slot(corner, 2u, 3u, 0u, 6u))
        + tetra_folded6(p[3], p[2], p[1], p[7], s[0].w, slot(corner, 3u, 2u, 1u, 7u))
        + tetra_folded6(p[4], p[5], p[6], p[0], s[1].x, slot(corner, 4u, 5u, 6u, 0u))
        + tetra_folded6(p[5], p[4], p[7], p[1], s[1].y, slot(corner, 5u, 4u, 7u, 1u))
        + tetra_folded6(p[6], p[7], p[4], p[2], s[1].z, slot(corner, 6u, 7u, 4u, 2u))
        + tetra_folded6(p[7], p[6], p[5], p[3], s[1].w, slot(corner, 7u, 6u, 5u, 3u))
        + tetra_folded6(p[0], p[3], p[5], p[6], s[2].x, slot(corner, 0u, 3u, 5u, 6u))
        + tetra_folded6(p[7], p[4], p[2], p[1], s[2].y, slot(corner, 7u, 4u, 2u, 1u));
}

// Which of a tetrahedron's corners a, b, c, d is `corner`: 0 to 3, or 4 for none.
fn slot(corner: u32, a: u32, b: u32, c: u32, d: u32) -> u32 {
    return select(select(select(select(4u, 3u, corner == d), 2u, corner == c), 1u, corner == b), 0u, corner == a);
}

// One tetrahedron's (f, ∂f/∂p) for cube_folded6, p its corner number `which` (0: a … 3: d; 4: none):
// where it folds, ∂V/∂p_b = (p_c − p_a) × (p_d − p_a) and cyclically, ∂V/∂p_a minus the other three.
fn tetra_folded6(pa: vec3<f32>, pb: vec3<f32>, pc: vec3<f32>, pd: vec3<f32>, s: f32, which: u32) -> vec4<f32> {
    let eb = pb - pa;
    let ec = pc - pa;
    let ed = pd - pa;
    let db = cross(ec, ed);
    let f = -s * dot(eb, db);
    if f <= 0.0 || which == 4u {
        return vec4<f32>(max(f, 0.0), vec3<f32>(0.0));
    }
    let dc = cross(ed, eb);
    let dd = cross(eb, ec);
    let dv = select(select(select(dd, dc, which == 2u), db, which == 1u), -(db + dc + dd), which == 0u);
    return vec4<f32>(f, -s * dv);
}
