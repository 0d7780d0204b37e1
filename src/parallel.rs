//! Slice-parallel loops over volume buffers on the CPU, with scoped std threads.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Thread count chosen by the user (`--threads`); 0 for one per core.
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Limits the CPU threads of every later parallel loop (0: one per core).
pub fn set_threads(n: usize) {
    THREADS.store(n, Ordering::Relaxed);
}

/// The CPU threads a parallel loop may use.
pub fn threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// Lowers the calling thread's CPU priority (and that of the threads it starts later), so that
/// the window's thread and the rasteriser win the cores over background work: runs, scoring,
/// training. Linux gives each thread its own nice value; elsewhere this does nothing.
pub fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its arguments; `who` 0 is the calling thread on Linux.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

/// Calls `f(slice_index, slice)` for each `slice_len`-sized chunk of `out`, spread over the
/// available cores. Slices are handed out in contiguous runs, one run per thread.
pub fn for_each_slice<T: Send>(
    out: &mut [T],
    slice_len: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let slices = out.len().div_ceil(slice_len.max(1));
    let threads = threads().min(slices.max(1));
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
