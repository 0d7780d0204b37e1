// Bending energy and the folding penalty of a displacement u on a level grid, added to the
// gradient and the loss terms that field_gradient.wgsl wrote. Both are over interior voxels v
// (all six neighbours inside), n the voxel count:
// - bending (Laplacian form, equal to the thin-plate energy for fields vanishing at the
//   boundary): E_b = (1/n) Σ_v |lap(v)|², lap from laplacian.wgsl; ∂E_b/∂u(x) =
//   (2/n) Σ_a (lap(x+e_a) + lap(x−e_a) − 2 lap(x)) / h_a², lap zero off the interior.
// - folding: E_f = (1/n) Σ_v max(0, −det J(v)), J = I + D V with D[r][a] = (u_r(v+e_a) −
//   u_r(v−e_a)) / 2 (the evaluation's stencil) and V the grid's voxel-from-world matrix; with
//   G(v) = ∂E_f/∂D = −cof(J) Vᵀ / n where det J < 0, ∂E_f/∂u_r(x) = Σ_a (G_ra(x−e_a) −
//   G_ra(x+e_a)) / 2. det J comes from jacobian.wgsl (same stencil inside), so J is recomputed
//   only at the few neighbours where it is negative (no 9-value buffer per voxel).
// CPU reference: gpu::kernels::regularisers::reference.

struct RegularisersParams {
    dims: vec4<u32>,
    inv_spacing_sq: vec4<f32>,
    // Rows of the voxel-from-world linear part.
    v0: vec4<f32>,
    v1: vec4<f32>,
    v2: vec4<f32>,
    bending: f32,
    folding: f32,
    inv_count: f32,
    count: u32,
}

@group(0) @binding(0) var<uniform> params: RegularisersParams;
@group(0) @binding(1) var<storage, read> u: array<f32>;
@group(0) @binding(2) var<storage, read> lap: array<f32>;
@group(0) @binding(3) var<storage, read> det: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;
@group(0) @binding(5) var<storage, read_write> terms: array<f32>;

fn u_at(i: u32) -> vec3<f32> {
    return vec3<f32>(u[3u * i], u[3u * i + 1u], u[3u * i + 2u]);
}

fn lap_at(i: u32) -> vec3<f32> {
    return vec3<f32>(lap[3u * i], lap[3u * i + 1u], lap[3u * i + 2u]);
}

fn interior(v: vec3<u32>, dims: vec3<u32>) -> bool {
    return all(v > vec3<u32>(0u)) && all(v + vec3<u32>(1u) < dims);
}

// Rows of J = I + D V at interior voxel i.
fn jacobian_rows(i: u32, dims: vec3<u32>) -> array<vec3<f32>, 3> {
    let strides = vec3<u32>(1u, dims.x, dims.x * dims.y);
    // Columns of D: ∂u/∂v_a.
    let d0 = (u_at(i + strides.x) - u_at(i - strides.x)) * 0.5;
    let d1 = (u_at(i + strides.y) - u_at(i - strides.y)) * 0.5;
    let d2 = (u_at(i + strides.z) - u_at(i - strides.z)) * 0.5;
    // Row r of D V is Σ_a D[r][a] V[a][·].
    var rows: array<vec3<f32>, 3>;
    for (var r = 0u; r < 3u; r++) {
        var e = vec3<f32>(0.0);
        e[r] = 1.0;
        rows[r] = e + d0[r] * params.v0.xyz + d1[r] * params.v1.xyz + d2[r] * params.v2.xyz;
    }
    return rows;
}

// G = ∂E_f/∂D at interior voxel i (zero where det J ≥ 0), as rows G[r][·].
fn folding_g(i: u32, dims: vec3<u32>) -> array<vec3<f32>, 3> {
    var g: array<vec3<f32>, 3>;
    let j = jacobian_rows(i, dims);
    let det = dot(j[0], cross(j[1], j[2]));
    if det < 0.0 {
        // cof rows: ∂det/∂row r.
        let cof = array<vec3<f32>, 3>(cross(j[1], j[2]), cross(j[2], j[0]), cross(j[0], j[1]));
        for (var r = 0u; r < 3u; r++) {
            // (−cof Vᵀ)[r][a] = −Σ_c cof[r][c] V[a][c].
            g[r] = -params.inv_count * vec3<f32>(
                dot(cof[r], params.v0.xyz),
                dot(cof[r], params.v1.xyz),
                dot(cof[r], params.v2.xyz),
            );
        }
    }
    return g;
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
    var energy = 0.0;
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
        energy += params.bending * params.inv_count * dot(here, here);
    }
    if params.folding > 0.0 {
        if interior(v, dims) {
            energy += params.folding * params.inv_count * max(0.0, -det[i]);
        }
        for (var a = 0u; a < 3u; a++) {
            var lower = v;
            lower[a] = v[a] - 1u;
            if v[a] > 0u && interior(lower, dims) && det[i - strides[a]] < 0.0 {
                let gl = folding_g(i - strides[a], dims);
                g += params.folding * 0.5 * vec3<f32>(gl[0][a], gl[1][a], gl[2][a]);
            }
            var upper = v;
            upper[a] = v[a] + 1u;
            if interior(upper, dims) && det[i + strides[a]] < 0.0 {
                let gu = folding_g(i + strides[a], dims);
                g -= params.folding * 0.5 * vec3<f32>(gu[0][a], gu[1][a], gu[2][a]);
            }
        }
    }
    grad[3u * i] += g.x;
    grad[3u * i + 1u] += g.y;
    grad[3u * i + 2u] += g.z;
    terms[i] += energy;
}
