// First pass of Parzen-window mutual information (mi_table.wgsl, mi_gradient.wgsl): each workgroup
// adds its chunk of voxels to a joint histogram of `bins`² cells in workgroup memory and writes it
// to its own slice of `partials`. The fixed intensity takes one hard bin; the warped one spreads
// over four bins by a cubic B-spline (Mattes et al. 2003), so the histogram is differentiable in
// the warped values. Weights are added as fixed-point integers (WGSL has no float atomics); a
// chunk is small enough that a cell cannot overflow. Voxels whose warped sample is outside are
// left out. CPU reference: gpu::kernels::similarity::mi::reference.

@group(0) @binding(0) var<uniform> params: MiParams;
@group(0) @binding(1) var<storage, read> fixed: array<f32>;
@group(0) @binding(2) var<storage, read> warped: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<u32>;

const MAX_CELLS: u32 = 4096u;
const THREADS: u32 = 256u;

var<workgroup> cells: array<atomic<u32>, 4096>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) group: vec3<u32>) {
    let n_cells = params.bins * params.bins;
    for (var c = t; c < n_cells; c += THREADS) {
        atomicStore(&cells[c], 0u);
    }
    workgroupBarrier();
    let start = group.x * params.chunk;
    let end = min(start + params.chunk, params.count);
    for (var i = start + t; i < end; i += THREADS) {
        let w = warped[i];
        if is_outside(w) {
            continue;
        }
        let row = fixed_bin(fixed[i], params.fixed_lo, params.fixed_scale, params.bins);
        let b = warped_coordinate(w, params.warped_lo, params.warped_scale, params.bins);
        let j0 = i32(floor(b)) - 1;
        for (var j = j0; j < j0 + 4; j++) {
            let weight = bspline3(f32(j) - b);
            if weight > 0.0 {
                atomicAdd(&cells[row * params.bins + u32(j)], u32(round(weight * params.fixed_point)));
            }
        }
    }
    workgroupBarrier();
    for (var c = t; c < n_cells; c += THREADS) {
        partials[group.x * n_cells + c] = atomicLoad(&cells[c]);
    }
}
