//! The registration worker: events, snapshots and live scores; pause, resume, cancel and a weight
//! change mid-run; a smoothness sweep; driven as the app drives it.

use std::sync::Arc;
use std::time::Duration;
use warpbench::gpu::GpuContext;
use warpbench::gpu::kernels::similarity::Similarity;
use warpbench::register::affine::{AffineModel, AffineSettings, Initialisation};
use warpbench::register::config::RegistrationConfig;
use warpbench::register::deformable::{DeformableSettings, Regulariser};
use warpbench::register::{LevelSettings, Losses, Stage};
use warpbench::session::{
    self, Command, Event, Method, Scoring, SessionHandle, SessionOptions, Sweep, SweepPoint,
};

fn config(deformable_iterations: u32) -> RegistrationConfig {
    RegistrationConfig {
        affine: Some(AffineSettings {
            model: AffineModel::Rigid,
            similarity: Similarity::Lncc { radius: 1 },
            initialisation: Initialisation::CentresOfMass,
            search_angles_deg: vec![0.0],
            search_keep: 1,
            rigid_iterations: 10,
            levels: vec![LevelSettings {
                shrink: 2.0,
                iterations: 20,
                learning_rate: 1.0,
                similarity: None,
            }],
            report_every: 5,
        }),
        deformable: Some(DeformableSettings {
            transform: Default::default(),
            similarity: Similarity::Lncc { radius: 1 },
            optimiser: warpbench::register::deformable::Optimiser::Adam,
            levels: vec![LevelSettings {
                shrink: 2.0,
                iterations: deformable_iterations,
                learning_rate: 1.0,
                similarity: None,
            }],
            diffusion: 0.1,
            bending: 0.0,
            folding: 0.0,
            gradient_sigma_voxels: 1.0,
            field_sigma_voxels: 0.5,
            report_every: 1,
            label_weight: 0.0,
        }),
    }
}

fn start(iterations: u32, options: SessionOptions) -> SessionHandle {
    start_method(Method::Iterative(Box::new(config(iterations))), options).unwrap()
}

/// Starts `method` on the demo case, scored against its labels and landmarks.
fn start_method(method: Method, options: SessionOptions) -> warpbench::Result<SessionHandle> {
    let ctx = GpuContext::new().unwrap();
    let case = warpbench::demo::load_builtin().unwrap();
    let scoring = Scoring {
        fixed_labels: Some(Arc::new(case.fixed_labels.clone())),
        moving_labels: Some(Arc::new(case.moving_labels.clone())),
        landmarks: Some((case.fixed_landmarks.clone(), case.moving_landmarks.clone())),
        label_table: Default::default(),
    };
    session::start_method(
        &ctx,
        (case.fixed.into(), case.moving.into()),
        method,
        scoring,
        options,
        || {},
    )
}

/// Waits for the first event that `pick` accepts, failing after a minute.
fn wait_for<T>(handle: &SessionHandle, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
    loop {
        let event = handle
            .events()
            .recv_timeout(Duration::from_secs(60))
            .expect("an event within a minute");
        if let Event::Failed(e) = &event {
            panic!("the run failed: {e}");
        }
        if let Some(t) = pick(&event) {
            return t;
        }
    }
}

fn deformable_losses(event: &Event) -> Option<(u32, Losses)> {
    match event {
        Event::Progress { report, .. } if report.stage == Stage::Deformable => {
            Some((report.iteration, report.losses?))
        }
        _ => None,
    }
}

#[test]
fn a_run_reports_progress_snapshots_and_scores_then_finishes() {
    let options = SessionOptions {
        snapshot_interval: Duration::ZERO,
        metrics_interval: Duration::from_millis(500),
        ..Default::default()
    };
    let handle = start(30, options);
    let mut stages = Vec::new();
    let mut snapshots = Vec::new();
    let mut dice = Vec::new();
    let mut started = false;
    let stage_seconds = wait_for(&handle, |event| {
        match event {
            Event::Started { method } => {
                assert_eq!(*method, Method::Iterative(Box::new(self::config(30))));
                started = true;
            }
            Event::Progress { report, .. } if stages.last() != Some(&report.stage) => {
                stages.push(report.stage);
            }
            Event::SnapshotReady { generation } => snapshots.push(*generation),
            Event::Metrics { report, .. } => dice.push(report.dice_mean.unwrap()),
            Event::Finished { stage_seconds, .. } => return Some(stage_seconds.clone()),
            _ => {}
        }
        None
    });
    assert!(started);
    assert_eq!(
        stages,
        [Stage::Search, Stage::Rigid, Stage::Deformable],
        "stages in order"
    );
    assert!(snapshots.len() >= 2, "snapshots {snapshots:?}");
    // Live snapshots are built beside the worker: still in order, and none after the final one.
    assert!(
        snapshots.windows(2).all(|w| w[0] < w[1]),
        "snapshots {snapshots:?}"
    );
    assert!(stage_seconds.contains_key("affine") && stage_seconds.contains_key("deformable"));
    let snapshot = handle.take_snapshot().expect("the final snapshot");
    assert_eq!(Some(&snapshot.generation), snapshots.last());
    let outcome = handle.join().unwrap();
    assert_eq!(snapshot.displacement, outcome.displacement);
    assert!(
        snapshot
            .displacement
            .grid()
            .same_as(outcome.displacement.grid(), 1e-9)
    );
    assert!(dice.len() >= 2, "scores {dice:?}");
    let last = *dice.last().unwrap();
    assert!(last > 0.5, "final live Dice {last}");
}

#[test]
fn pause_resume_retune_and_cancel_take_effect_between_iterations() {
    let handle = start(100_000, SessionOptions::default());
    let (first, before) = wait_for(&handle, deformable_losses);

    handle.send(Command::Pause);
    wait_for(&handle, |e| matches!(e, Event::Paused).then_some(()));
    // At most the iteration under way when Pause arrived reports after it.
    std::thread::sleep(Duration::from_millis(700));
    let during: Vec<Event> = handle.drain();
    let progress = during
        .iter()
        .filter(|e| matches!(e, Event::Progress { .. }))
        .count();
    assert!(progress <= 1, "{progress} iterations while paused");

    // Weight changes while paused apply on resuming: the diffusion term scales with its weight,
    // and the folding term, off before, is on.
    assert_eq!(before.folding, None);
    for (term, weight) in [(Regulariser::Diffusion, 10.0), (Regulariser::Folding, 50.0)] {
        handle.send(Command::SetWeight(term, weight));
        wait_for(&handle, |e| {
            matches!(e, Event::Retuned(Command::SetWeight(t, _)) if *t == term).then_some(())
        });
    }
    handle.send(Command::Resume);
    wait_for(&handle, |e| matches!(e, Event::Resumed).then_some(()));
    let (after, retuned) = wait_for(&handle, deformable_losses);
    assert!(after > first);
    let (reg_before, reg_after) = (before.diffusion.unwrap(), retuned.diffusion.unwrap());
    assert!(
        reg_after > 20.0 * reg_before,
        "λ 0.1 → 10 moved the diffusion term only from {reg_before:.3e} to {reg_after:.3e}"
    );
    assert!(retuned.folding.is_some(), "{retuned:?}");

    handle.send(Command::SetLearningRate(0.5));
    wait_for(&handle, |e| {
        matches!(e, Event::Retuned(Command::SetLearningRate(_))).then_some(())
    });
    handle.send(Command::Cancel);
    let mut iterations_after_cancel = 0;
    wait_for(&handle, |e| match e {
        Event::Progress { .. } => {
            iterations_after_cancel += 1;
            None
        }
        Event::Cancelled => Some(()),
        Event::Finished { .. } => panic!("finished instead of cancelling"),
        _ => None,
    });
    assert!(
        iterations_after_cancel <= 1,
        "{iterations_after_cancel} iterations after Cancel"
    );
    assert!(matches!(handle.join(), Err(warpbench::Error::Cancelled)));
}

/// Closing the window cancels a run whose event queue nobody empties any more: the worker's
/// last event must not wait for room that never comes.
#[test]
fn a_run_whose_events_are_not_read_cancels_and_stops() {
    let options = SessionOptions {
        event_capacity: 8,
        ..Default::default()
    };
    let handle = start(100_000, options);
    let start = std::time::Instant::now();
    while !handle.events().is_full() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the queue never filled"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        handle.cancel_and_wait();
        let _ = done_tx.send(());
    });
    done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the worker stopped within a minute of Cancel");
}

#[test]
fn a_bad_parameter_fails_the_run_with_a_message() {
    let handle = start(100_000, SessionOptions::default());
    wait_for(&handle, deformable_losses);
    handle.send(Command::SetWeight(Regulariser::Folding, f64::NAN));
    let message = loop {
        match handle
            .events()
            .recv_timeout(Duration::from_secs(60))
            .unwrap()
        {
            Event::Failed(m) => break m,
            Event::Finished { .. } | Event::Cancelled => panic!("the run did not fail"),
            _ => {}
        }
    };
    assert!(message.contains("folding weight NaN"), "{message}");
    assert!(handle.join().is_err());
}

/// A sweep runs the affine stage once and the deformable stage once per weight, in order, and
/// scores each point; the stronger weight gives the smoother field; a weight change sent during
/// a sweep is not applied; the run's outcome is the last point's.
#[test]
fn a_sweep_registers_and_scores_each_weight_from_one_affine_stage() {
    let weights = vec![0.0, 8.0];
    let sweep = Sweep {
        config: config(25),
        diffusion: weights.clone(),
    };
    let handle = start_method(Method::Sweep(Box::new(sweep)), SessionOptions::default()).unwrap();
    let mut stage_starts = Vec::new();
    let mut last: Option<(Stage, usize, u32)> = None;
    let mut points: Vec<SweepPoint> = Vec::new();
    let mut retuned = false;
    wait_for(&handle, |event| {
        match event {
            Event::Progress { report, .. } => {
                let restarted = last.is_none_or(|(stage, level, iteration)| {
                    (stage, level) != (report.stage, report.level) || report.iteration < iteration
                });
                if restarted {
                    stage_starts.push(report.stage);
                }
                if report.stage == Stage::Deformable && stage_starts.len() == 3 {
                    handle.send(Command::SetWeight(Regulariser::Diffusion, 100.0));
                }
                last = Some((report.stage, report.level, report.iteration));
            }
            Event::Retuned(_) => retuned = true,
            Event::SweepPoint(p) => points.push((**p).clone()),
            Event::Finished { .. } => return Some(()),
            _ => {}
        }
        None
    });
    let count = |stage| stage_starts.iter().filter(|&&s| s == stage).count();
    assert_eq!(
        count(Stage::Search),
        1,
        "one affine stage: {stage_starts:?}"
    );
    assert_eq!(
        stage_starts[stage_starts.len() - 2..],
        [Stage::Deformable, Stage::Deformable],
        "then a deformable stage per weight: {stage_starts:?}"
    );
    assert_eq!(count(Stage::Deformable), 2, "{stage_starts:?}");
    assert!(!retuned, "a sweep applied a weight change");
    assert_eq!(points.iter().map(|p| p.index).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(
        points.iter().map(|p| p.diffusion).collect::<Vec<_>>(),
        weights
    );
    for p in &points {
        assert!(p.report.dice_mean.is_some() && p.report.tre_mean_mm.is_some());
        assert!(p.report.ndv_fraction.is_some() && p.similarity.is_some());
        assert!(p.seconds > 0.0);
    }
    let (free, smooth) = (&points[0].report, &points[1].report);
    eprintln!(
        "λ 0: SDlogJ {:.4}, TRE {:.2}; λ 8: SDlogJ {:.4}, TRE {:.2}",
        free.sdlogj,
        free.tre_mean_mm.unwrap(),
        smooth.sdlogj,
        smooth.tre_mean_mm.unwrap()
    );
    assert!(
        smooth.sdlogj < 0.8 * free.sdlogj,
        "SDlogJ {} with λ 8 vs {} with λ 0",
        smooth.sdlogj,
        free.sdlogj
    );
    let outcome = handle.join().unwrap();
    let scoring_fold = warpbench::eval::jacobian::jacobian_stats(
        &warpbench::eval::jacobian::jacobian_determinant(&outcome.displacement),
    );
    assert_eq!(
        scoring_fold.sdlogj, smooth.sdlogj,
        "the outcome is the last point"
    );
}

#[test]
fn a_sweep_without_weights_or_a_deformable_stage_is_refused() {
    let refused = |sweep: Sweep| match start_method(
        Method::Sweep(Box::new(sweep)),
        SessionOptions::default(),
    ) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("the sweep started"),
    };
    let empty = refused(Sweep {
        config: config(5),
        diffusion: vec![],
    });
    assert!(empty.contains("λ"), "{empty}");
    let negative = refused(Sweep {
        config: config(5),
        diffusion: vec![0.1, -1.0],
    });
    assert!(negative.contains("-1"), "{negative}");
    let mut affine_only = config(5);
    affine_only.deformable = None;
    let no_stage = refused(Sweep {
        config: affine_only,
        diffusion: vec![0.1],
    });
    assert!(no_stage.contains("deformable"), "{no_stage}");
}
