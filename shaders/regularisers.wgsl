// Bending energy and the folding penalty of a displacement u on a level grid, added to the
// gradient that field_gradient.wgsl wrote; n the voxel count. bending_terms[v] is v's weighted
// share of E_b; E_f's shares are the cube shares themselves (each term is reported on its own):
// - bending over interior voxels v (all six neighbours inside; Laplacian form, equal to the
//   thin-plate energy for fields vanishing at the boundary): E_b = (1/n) Σ_v |lap(v)|², lap from
//   laplacian.wgsl; ∂E_b/∂u(x) = (2/n) Σ_a (lap(x+e_a) + lap(x−e_a) − 2 lap(x)) / h_a², lap
//   zero off the interior.
// - folding: E_f = (1/n) Σ_c share(c), share(c) the folded share of cube c between voxel centres
//   (cube_folding.wgsl: the NDV's tetrahedra turned inside out, mapped volume over the cube's), so
//   it sees the folds central-difference det J misses. A tetrahedron T with unmapped orientation
//   s and six times its mapped volume V adds max(0, −s V) / (12 |cube|) (common.wgsl's
//   cube_folded6, which gives its derivative too; p = x + u). Each voxel gathers from the eight
//   cubes it is a corner of, recomputing only those whose share is above zero (few).
// CPU reference: gpu::kernels::regularisers::reference.

struct RegularisersParams {
    dims: vec4<u32>,
    inv_spacing_sq: vec4<f32>,
    cube: CubeGeometry,
    bending: f32,
    folding: f32,
    inv_count: f32,
    count: u32,
}

@group(0) @binding(0) var<uniform> params: RegularisersParams;
@group(0) @binding(1) var<storage, read> u: array<f32>;
@group(0) @binding(2) var<storage, read> lap: array<f32>;
@group(0) @binding(3) var<storage, read> share: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;
@group(0) @binding(5) var<storage, read_write> bending_terms: array<f32>;

fn u_at(i: u32) -> vec3<f32> {
    return vec3<f32>(u[3u * i], u[3u * i + 1u], u[3u * i + 2u]);
}

fn lap_at(i: u32) -> vec3<f32> {
    return vec3<f32>(lap[3u * i], lap[3u * i + 1u], lap[3u * i + 2u]);
}

// ∂(folded share of the cube at `base`)/∂u at its corner `corner`.
fn folding_corner_gradient(base: vec3<u32>, corner: u32, dims: vec3<u32>) -> vec3<f32> {
    return cube_folded6(cube_at(base, dims), params.cube.orientation, corner).yzw * params.cube.inv_cube12;
}

// As in cube_folding.wgsl.
fn cube_at(v: vec3<u32>, dims: vec3<u32>) -> array<vec3<f32>, 8> {
    return mapped_cube(array<vec3<f32>, 8>(
        u_at(index_of(v, dims)), u_at(index_of(v + corner_offset(1u), dims)),
        u_at(index_of(v + corner_offset(2u), dims)), u_at(index_of(v + corner_offset(3u), dims)),
        u_at(index_of(v + corner_offset(4u), dims)), u_at(index_of(v + corner_offset(5u), dims)),
        u_at(index_of(v + corner_offset(6u), dims)), u_at(index_of(v + corner_offset(7u), dims)),
    ), params.cube.steps);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if i >= params.count {
        return;
    }
    let dims = params.dims.xyz;
    let v = voxel_of(i, dims);
    let strides = vec3<u32>(1u, dims.x, dims.x * dims.y);
    var g = vec3<f32>(0.0);
    var bending_energy = 0.0;
    if params.bending > 0.0 {
        let here = lap_at(i);
        var acc = vec3<f32>(0.0);
        for (var a = 0u; a < 3u; a++) {
            var around = -2.0 * here;
            if v[a] + 1u < dims[a] {
                around += lap_at(i + strides[a]);
            }
            if v[a] > 0u {
                around += lap_at(i - strides[a]);
            }
            acc += around * params.inv_spacing_sq[a];
        }
        g += params.bending * 2.0 * params.inv_count * acc;
        bending_energy = params.bending * params.inv_count * dot(here, here);
    }
    if params.folding > 0.0 {
        // Which of the eight cubes this voxel is a corner of fold (bit c: this voxel is their
        // corner c), then a loop over those alone: a loop that no invocation enters costs nothing
        // even where branches are run for every invocation of a group (lavapipe: an `if` per
        // cube here took the penalty's two passes from 52 to 157 ms at 80 × 96 × 112 with no
        // cube folded).
        var folded = 0u;
        for (var c = 0u; c < 8u; c++) {
            let o = corner_offset(c);
            // The cube with this voxel at corner c starts at v − o and must end inside the grid.
            if all(v >= o) && all(v - o + vec3<u32>(1u) < dims) && share[index_of(v - o, dims)] > 0.0 {
                folded |= 1u << c;
            }
        }
        let w = params.folding * params.inv_count;
        while folded != 0u {
            let c = firstTrailingBit(folded);
            folded &= folded - 1u;
            g += w * folding_corner_gradient(v - corner_offset(c), c, dims);
        }
    }
    grad[3u * i] += g.x;
    grad[3u * i + 1u] += g.y;
    grad[3u * i + 2u] += g.z;
    bending_terms[i] = bending_energy;
}
