//! Submission pacing: the window draws on the same queue as the engine computes, and a queue runs
//! its submissions in order, so one long submission (a registration iteration on a 7 M-voxel
//! level is a second on lavapipe) holds every frame behind it. A context made with
//! `GpuContext::with_submission_budget` has its kernels submit their recorded work whenever the
//! next piece would take the submission past the budget, and wait for it before recording on, so
//! the window's frames get in between pieces. Work is counted in one-voxel invocations, per
//! thread, since the last paced submission.

use super::GpuContext;
use crate::error::{Error, Result};
use std::cell::Cell;

thread_local! {
    /// Work recorded by this thread since its last paced submission.
    static PENDING: Cell<u64> = const { Cell::new(0) };
    /// Paced submissions this thread has made.
    static SUBMITTED: Cell<u64> = const { Cell::new(0) };
}

/// Before recording `work` into `encoder`: when that would take the pending work past the
/// context's budget, submits what `encoder` holds, waits for it, and gives the caller a fresh
/// encoder in its place. Counts `work` as pending either way.
///
/// Waiting for each piece leaves the device idle while the next is recorded (a few percent of a
/// run at the background budget); keeping one queued ahead instead doubled what a frame waits
/// for.
pub fn make_room(ctx: &GpuContext, encoder: &mut wgpu::CommandEncoder, work: u64) -> Result<()> {
    let Some(budget) = ctx.submission_budget() else {
        return Ok(());
    };
    let pending = PENDING.get();
    if pending > 0 && pending + work > budget {
        let full = std::mem::replace(
            encoder,
            ctx.device.create_command_encoder(&Default::default()),
        );
        let submitted = ctx.queue.submit([full.finish()]);
        ctx.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submitted),
                timeout: None,
            })
            .map_err(|e| Error::Gpu(format!("waiting for the GPU: {e}")))?;
        PENDING.set(work);
        SUBMITTED.set(SUBMITTED.get() + 1);
    } else {
        PENDING.set(pending + work);
    }
    Ok(())
}

/// After this thread has waited for the queue itself: nothing it recorded is pending any more.
pub fn finished() {
    PENDING.set(0);
}

/// How many paced submissions this thread has made (tests and benchmarks check that pacing cut
/// the work).
pub fn submissions() -> u64 {
    SUBMITTED.get()
}
