// Last pass of mutual information (see mi_histogram.wgsl, mi_table.wgsl): per voxel, the loss term
// Σ_j β(j − b) T(i, j) / mass and dS/dw = −Σ_j ∂L/∂p(i, j) β'(j − b) (db/dw) / mass over the four
// bins j the warped value's spline reaches, i the fixed value's bin. Zero where the warped sample
// is outside, and no gradient where the warped value is clamped to the histogram's range.
// CPU reference: gpu::kernels::similarity::mi::reference.

@group(0) @binding(0) var<uniform> params: MiParams;
@group(0) @binding(1) var<storage, read> fixed: array<f32>;
@group(0) @binding(2) var<storage, read> warped: array<f32>;
@group(0) @binding(3) var<storage, read> table: array<f32>;
@group(0) @binding(4) var<storage, read_write> dsdw: array<f32>;
@group(0) @binding(5) var<storage, read_write> terms: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if i >= params.count {
        return;
    }
    let w = warped[i];
    if is_outside(w) {
        dsdw[i] = 0.0;
        terms[i] = 0.0;
        return;
    }
    let bins = params.bins;
    let n_cells = bins * bins;
    let mass = table[3u * n_cells];
    let row = fixed_bin(fixed[i], params.fixed_lo, params.fixed_scale, bins);
    let u = (w - params.warped_lo) * params.warped_scale;
    let b = warped_coordinate(w, params.warped_lo, params.warped_scale, bins);
    var slope = 0.0;
    if u > 0.0 && u < f32(bins - 5u) {
        slope = params.warped_scale;
    }
    let j0 = i32(floor(b)) - 1;
    var term = 0.0;
    var grad = 0.0;
    for (var j = j0; j < j0 + 4; j++) {
        let cell = row * bins + u32(j);
        let t = f32(j) - b;
        term += bspline3(t) * table[2u * n_cells + cell];
        grad -= bspline3_derivative(t) * table[n_cells + cell];
    }
    dsdw[i] = grad * slope / mass;
    terms[i] = term / mass;
}
