// Second pass of mutual information (see mi_histogram.wgsl), one workgroup: sums the workgroups'
// histograms into p(i, j), its marginals and entropies, and writes two tables the last pass reads.
// With the loss L = −MI = −Σ p log(p / (p_f p_w)), ∂L/∂p(i, j) = −log(p / (p_f p_w)) up to a
// constant that cancels (the B-spline weights of one voxel sum to one, so their derivatives sum
// to zero). With L = −NMI = −(H_f + H_w) / H_fw, ∂L/∂p(i, j) = (H_fw log p_w − (H_f + H_w) log p)
// / H_fw², again up to such constants. `table` receives p, then ∂L/∂p, then the per-voxel loss
// table T (Σ_v Σ_j β T / mass = L), then the mass (voxels counted) and the loss.
// CPU reference: gpu::kernels::similarity::mi::reference.

@group(0) @binding(0) var<uniform> params: MiParams;
@group(0) @binding(1) var<storage, read> partials: array<u32>;
@group(0) @binding(2) var<storage, read_write> table: array<f32>;

const THREADS: u32 = 256u;

var<workgroup> red: array<vec3<f32>, 256>;
var<workgroup> marginal_f: array<f32, 64>;
var<workgroup> marginal_w: array<f32, 64>;

fn reduce(t: u32, value: vec3<f32>) -> vec3<f32> {
    red[t] = value;
    workgroupBarrier();
    for (var step = THREADS / 2u; step > 0u; step /= 2u) {
        if t < step {
            red[t] += red[t + step];
        }
        workgroupBarrier();
    }
    let total = red[0];
    workgroupBarrier();
    return total;
}

fn plogp(p: f32) -> f32 {
    if p > 0.0 {
        return p * log(p);
    }
    return 0.0;
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) t: u32) {
    let bins = params.bins;
    let n_cells = bins * bins;
    var mass = 0.0;
    for (var c = t; c < n_cells; c += THREADS) {
        var s = 0.0;
        for (var g = 0u; g < params.groups; g++) {
            s += f32(partials[g * n_cells + c]);
        }
        s /= params.fixed_point;
        table[c] = s;
        mass += s;
    }
    mass = max(reduce(t, vec3<f32>(mass, 0.0, 0.0)).x, 1e-20);
    for (var c = t; c < n_cells; c += THREADS) {
        table[c] /= mass;
    }
    storageBarrier();
    workgroupBarrier();
    if t < bins {
        var row = 0.0;
        var column = 0.0;
        for (var k = 0u; k < bins; k++) {
            row += table[t * bins + k];
            column += table[k * bins + t];
        }
        marginal_f[t] = row;
        marginal_w[t] = column;
    }
    workgroupBarrier();
    var h = vec3<f32>(0.0);
    for (var c = t; c < n_cells; c += THREADS) {
        h.z -= plogp(table[c]);
    }
    if t < bins {
        h.x -= plogp(marginal_f[t]);
        h.y -= plogp(marginal_w[t]);
    }
    let entropy = reduce(t, h);
    let h_f = entropy.x;
    let h_w = entropy.y;
    let h_fw = max(entropy.z, 1e-12);
    var loss = h_fw - h_f - h_w;
    if params.normalised != 0u {
        loss = -(h_f + h_w) / h_fw;
    }
    for (var c = t; c < n_cells; c += THREADS) {
        let p = table[c];
        let pf = marginal_f[c / bins];
        let pw = marginal_w[c % bins];
        var g = 0.0;
        var term = loss;
        if params.normalised != 0u {
            if p > 0.0 {
                g = (h_fw * log(pw) - (h_f + h_w) * log(p)) / (h_fw * h_fw);
            }
        } else {
            if p > 0.0 {
                g = -log(p / (pf * pw));
            }
            term = g;
        }
        table[n_cells + c] = g;
        table[2u * n_cells + c] = term;
    }
    if t == 0u {
        table[3u * n_cells] = mass;
        table[3u * n_cells + 1u] = loss;
    }
}
