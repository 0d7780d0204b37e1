// Partial sums of `count` values from `offset` (or of their squares with `square`): each workgroup
// of 256 threads adds up to 256 consecutive values (each thread first folds `per_thread` strided
// values) and writes one partial; the host adds the partials in f64. CPU reference: a plain sum.

struct ReduceParams {
    count: u32,
    per_thread: u32,
    square: u32,
    offset: u32,
}

@group(0) @binding(0) var<uniform> params: ReduceParams;
@group(0) @binding(1) var<storage, read> values: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;

var<workgroup> scratch: array<f32, 256>;

@compute @workgroup_size(256)
fn main(
    @builtin(local_invocation_index) local: u32,
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let group_index = group.x + group.y * groups.x;
    let base = group_index * 256u * params.per_thread;
    var acc = 0.0;
    for (var s = 0u; s < params.per_thread; s++) {
        let i = base + s * 256u + local;
        if i < params.count {
            let v = values[params.offset + i];
            acc += select(v, v * v, params.square != 0u);
        }
    }
    scratch[local] = acc;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride = stride / 2u) {
        if local < stride {
            scratch[local] += scratch[local + stride];
        }
        workgroupBarrier();
    }
    if local == 0u {
        partials[group_index] = scratch[0];
    }
}
