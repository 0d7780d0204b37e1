//! Slice-parallel loops over volume buffers on the CPU, with scoped std threads.

/// Calls `f(slice_index, slice)` for each `slice_len`-sized chunk of `out`, spread over the
/// available cores. Slices are handed out in contiguous runs, one run per thread.
pub fn for_each_slice<T: Send>(
    out: &mut [T],
    slice_len: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let slices = out.len().div_ceil(slice_len.max(1));
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(slices.max(1));
    if threads <= 1 {
        for (k, s) in out.chunks_mut(slice_len.max(1)).enumerate() {
            f(k, s);
        }
        return;
    }
    let per_thread = slices.div_ceil(threads);
    std::thread::scope(|scope| {
        for (t, run) in out.chunks_mut(per_thread * slice_len).enumerate() {
            let f = &f;
            scope.spawn(move || {
                for (k, s) in run.chunks_mut(slice_len).enumerate() {
                    f(t * per_thread + k, s);
                }
            });
        }
    });
}
