//! The window driven through egui_kittest on the shared wgpu device (lavapipe here): the demo
//! opens, every compare mode switches, the crosshair follows clicks and scrolls, a registration
//! starts, pauses and cancels, and the grid and Jacobian overlays show its deformation. Snapshot
//! images are kept in `tests/snapshots` (`UPDATE_SNAPSHOTS=1` rewrites them).

mod common;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use std::sync::Arc;
use std::time::{Duration, Instant};
use warpbench::app::WarpbenchApp;
use warpbench::app::panels::training::TrainingStatus;
use warpbench::app::state::RunStatus;
use warpbench::app::views::display::{CompareMode, FieldMap};
use warpbench::cli::OpenArgs;

/// The demo in a harness, with recent cases and autosaves kept in a folder of the test's own.
fn harness() -> (Harness<'static, WarpbenchApp>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let args = OpenArgs {
        state_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    (harness_with(args), dir)
}

fn harness_with(args: OpenArgs) -> Harness<'static, WarpbenchApp> {
    harness_on(warpbench::demo::load_builtin().unwrap().into(), args)
}

fn harness_on(case: warpbench::case::Case, args: OpenArgs) -> Harness<'static, WarpbenchApp> {
    harness_sized(case, args, egui::vec2(1200.0, 1000.0))
}

fn harness_sized(
    case: warpbench::case::Case,
    args: OpenArgs,
    size: egui::Vec2,
) -> Harness<'static, WarpbenchApp> {
    let mut setup = egui_kittest::wgpu::default_wgpu_setup();
    if let egui_wgpu::WgpuSetup::CreateNew(create) = &mut setup {
        create.device_descriptor = Arc::new(warpbench::gpu::context::device_descriptor);
    }
    Harness::builder()
        .with_size(size)
        .wgpu_setup(setup)
        .build_eframe(move |cc| WarpbenchApp::create(cc, case, &args))
}

/// Steps the harness until `done` holds, failing after `limit`.
fn step_until(
    harness: &mut Harness<'static, WarpbenchApp>,
    limit: Duration,
    what: &str,
    done: impl Fn(&WarpbenchApp) -> bool,
) {
    let start = Instant::now();
    while !done(harness.state()) {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Ticks "grid" and picks the det J map, as a user would, and checks they took.
fn show_grid_and_jacobian(harness: &mut Harness<'static, WarpbenchApp>) {
    harness
        .get_by_role_and_label(egui::accesskit::Role::CheckBox, "grid")
        .click();
    harness.run_steps(2);
    harness.get_by_label("det J").click();
    harness.run_steps(3);
    let display = &harness.state().viewers.display;
    assert!(display.deformation.grid);
    assert_eq!(display.deformation.map, FieldMap::Jacobian);
}

fn press(pos: egui::Pos2, pressed: bool) -> egui::Event {
    egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: Default::default(),
    }
}

fn click_at(harness: &mut Harness<'static, WarpbenchApp>, pos: egui::Pos2) {
    harness.event(egui::Event::PointerMoved(pos));
    harness.event(press(pos, true));
    harness.step();
    harness.event(press(pos, false));
    harness.step();
}

fn drag(harness: &mut Harness<'static, WarpbenchApp>, from: egui::Pos2, to: egui::Pos2) {
    harness.event(egui::Event::PointerMoved(from));
    harness.event(press(from, true));
    harness.step();
    for t in [0.25, 0.5, 0.75, 1.0] {
        harness.event(egui::Event::PointerMoved(from + (to - from) * t));
        harness.step();
    }
    harness.event(press(to, false));
    harness.step();
}

#[test]
fn demo_opens_and_every_compare_mode_switches() {
    let (mut harness, _dir) = harness();
    harness.run_steps(3);
    harness.snapshot("demo_fusion");
    for mode in CompareMode::ALL {
        harness.get_by_label(mode.name()).click();
        harness.run_steps(2);
        assert_eq!(harness.state().viewers.display.mode, mode);
        if matches!(mode, CompareMode::Checkerboard | CompareMode::Difference) {
            harness.snapshot(format!("demo_{}", mode.name()));
        }
    }
    // Radiological ↔ neurological flips the views, not the data.
    harness
        .get_by_label("radiological (patient right on the left)")
        .click();
    harness.run_steps(2);
    assert!(!harness.state().viewers.display.radiological);
}

/// A software rasteriser pays for every triangle (see `app::style`), so there the window is
/// drawn lean: the demo at 1400 × 900 took 2457 triangles lean and 9051 with egui's rounded,
/// feathered widgets, and its idle frames were measured lean. On a GPU the full look stays.
#[test]
fn on_a_software_rasteriser_the_window_draws_few_triangles() {
    let (mut harness, _dir) = harness();
    harness.run_steps(3);
    let output = harness.output().clone();
    let triangles: usize = harness
        .ctx
        .tessellate(output.shapes, output.pixels_per_point)
        .iter()
        .map(|p| match &p.primitive {
            egui::epaint::Primitive::Mesh(mesh) => mesh.indices.len() / 3,
            egui::epaint::Primitive::Callback(_) => 0,
        })
        .sum();
    let software = harness.state().gpu().is_some_and(|g| g.is_software());
    let feathered = harness.ctx.tessellation_options(|o| o.feathering);
    if software {
        assert!(!feathered);
        assert!(triangles < 4000, "{triangles} triangles");
    } else {
        assert!(feathered, "a GPU keeps egui's anti-aliasing");
    }
}

#[test]
fn crosshair_follows_clicks_and_scrolls_step_slices() {
    let (mut harness, _dir) = harness();
    harness.run_steps(3);
    let before = harness.state().viewers.cursor_mm;
    let axial = harness.get_by_label("axial view").rect();
    click_at(&mut harness, axial.left_top() + egui::vec2(60.0, 80.0));
    let after = harness.state().viewers.cursor_mm;
    assert!(
        (after[0] - before[0]).abs() > 5.0 && (after[1] - before[1]).abs() > 5.0,
        "a click in the axial view moves x and y: {before:?} → {after:?}"
    );
    assert_eq!(after[2], before[2], "and leaves the axial slice");
    let pos = axial.left_top() + egui::vec2(100.0, 120.0);
    harness.event(egui::Event::PointerMoved(pos));
    harness.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Line,
        delta: egui::vec2(0.0, 1.0),
        modifiers: Default::default(),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Wheel,
    });
    harness.run_steps(4);
    let scrolled = harness.state().viewers.cursor_mm;
    assert!(
        scrolled[2] > after[2],
        "scrolling up in the axial view moves superior: {} → {}",
        after[2],
        scrolled[2]
    );
}

#[test]
fn a_run_starts_pauses_shows_its_deformation_and_cancels() {
    let (mut harness, _dir) = harness();
    harness.run_steps(3);
    harness.get_by_label("Run").click();
    harness.step();
    assert!(harness.state().doc.run.is_running());
    step_until(
        &mut harness,
        Duration::from_secs(300),
        "a snapshot",
        |app| app.doc.deformation.is_some(),
    );
    // Each loss term the deformable stage reports gets a plot of its own, under its name.
    step_until(
        &mut harness,
        Duration::from_secs(300),
        "the deformable stage's losses",
        |app| app.doc.losses.iter().any(|l| l.losses.diffusion.is_some()),
    );
    harness.run_steps(2);
    let latest = harness.state().doc.losses.last().unwrap().losses;
    assert!(latest.terms().count() >= 2, "{latest:?}");
    for (term, _) in latest.terms() {
        assert!(
            harness.query_all_by_label(term).next().is_some(),
            "no plot of the {term} loss"
        );
    }
    harness.get_by_label("Pause").click();
    step_until(&mut harness, Duration::from_secs(60), "the pause", |app| {
        matches!(app.doc.run, RunStatus::Running { paused: true, .. })
    });
    let generation = harness.state().doc.generation;
    std::thread::sleep(Duration::from_millis(800));
    harness.run_steps(3);
    assert_eq!(
        harness.state().doc.generation,
        generation,
        "a paused run sends no new snapshots"
    );
    show_grid_and_jacobian(&mut harness);
    harness.get_by_label("Cancel").click();
    step_until(&mut harness, Duration::from_secs(60), "the cancel", |app| {
        app.doc.run == RunStatus::Cancelled
    });
    assert!(
        harness.state().doc.deformation.is_some(),
        "cancelling keeps the last deformation on screen"
    );
}

/// Clicks the registration panel's "as command" and waits for the line it puts on the clipboard.
fn command_from_panel(harness: &mut Harness<'static, WarpbenchApp>) -> String {
    harness.get_by_label("as command").click();
    step_until(harness, Duration::from_secs(60), "the command", |app| {
        app.registration.command.is_some()
    });
    harness.state().registration.command.clone().unwrap()
}

/// Runs `line` as a terminal would, in a new folder `cwd`: the words the shell splits it into,
/// the test's own `warpbench` in place of the first. Returns the words.
fn run_in_terminal(line: &str, cwd: &std::path::Path) -> Vec<String> {
    let words = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("printf '%s\\0' {line}"))
        .output()
        .unwrap()
        .stdout;
    let words: Vec<String> = String::from_utf8(words)
        .unwrap()
        .split_terminator('\0')
        .map(str::to_string)
        .collect();
    std::fs::create_dir(cwd).unwrap();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_warpbench"))
        .args(&words[1..])
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    words
}

/// "as command" gives a `warpbench register` line that repeats the window's run from a terminal:
/// a configuration edited away from its preset, and the landmark pairs the window scores (one
/// left out), are written for it, and the line runs.
#[test]
fn a_run_is_copied_as_a_command_that_runs_from_a_terminal() {
    let (mut harness, dir) = harness();
    harness.run_steps(3);
    let mut config = warpbench::register::config::RegistrationConfig::preset("fast").unwrap();
    config.deformable.as_mut().unwrap().diffusion = 0.2;
    harness.state_mut().registration.set_config(config.clone());
    let doc = &harness.state().doc;
    let pairs = doc.tre.as_ref().unwrap().pairs.len();
    let left_out = doc.tre.as_ref().unwrap().pairs[0].name.clone();
    harness.state_mut().doc.excluded_pairs.insert(left_out);
    harness.run_steps(2);
    let line = command_from_panel(&mut harness);
    assert!(line.contains(" --config "), "{line}");
    let cwd = dir.path().join("terminal");
    let words = run_in_terminal(&line, &cwd);
    assert_eq!(words[..2], ["warpbench", "register"]);
    let out = cwd.join("warpbench-register");
    let ran = warpbench::register::config::RegistrationConfig::read(&out.join("config.toml"));
    assert_eq!(
        ran.unwrap(),
        config,
        "the command runs the panel's configuration"
    );
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(
        metrics["tre"]["pairs"].as_array().unwrap().len(),
        pairs - 1,
        "the pair left out in the window is left out of the command's"
    );
}

/// A smoothness sweep runs from the registration panel: each weight is registered and scored,
/// the λ slider waits while the sweep sets λ itself, the trade-off is plotted and tabled, and
/// clicking a point's λ takes it for the next run.
#[test]
fn a_smoothness_sweep_shows_its_trade_off_and_a_point_is_taken() {
    let (mut harness, _dir) = harness();
    let config = warpbench::register::config::RegistrationConfig::preset("fast").unwrap();
    harness.state_mut().registration.set_config(config);
    harness.run_steps(2);
    harness.get_by_label("smoothness sweep").click();
    harness.run_steps(2);
    // The field offers weights around the preset's λ; select them and type others.
    type_into(&mut harness, "λ", "");
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness
        .get_by_role_and_label(egui::accesskit::Role::TextInput, "λ")
        .type_text("4, 0");
    harness.run_steps(2);
    assert_eq!(harness.state().registration.sweep.text, "4, 0");
    harness.get_by_label("Sweep").click();
    harness.step();
    assert!(harness.state().doc.run.is_running());
    assert_eq!(harness.state().doc.sweep_weights, [4.0, 0.0]);
    harness.run_steps(2);
    assert!(
        harness
            .get_by_role_and_label(egui::accesskit::Role::SpinButton, "diffusion λ")
            .accesskit_node()
            .is_disabled(),
        "the λ slider is free during a sweep"
    );
    step_until(&mut harness, Duration::from_secs(300), "the sweep", |app| {
        !app.doc.run.is_running()
    });
    let doc = &harness.state().doc;
    assert!(
        matches!(doc.run, RunStatus::Finished { .. }),
        "{:?}",
        doc.run
    );
    let weights: Vec<f64> = doc.sweep.iter().map(|p| p.diffusion).collect();
    assert_eq!(weights, [4.0, 0.0], "the points, in the order they ran");
    assert!(doc.sweep.iter().all(|p| p.report.dice_mean.is_some()));
    // The last point, which the views show, is kept among the results as its λ's run.
    let kept = &doc.results.kept;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].name, "custom, λ 0 (a sweep's last point)");
    assert_eq!(kept[0].seconds, None, "a sweep's time is all its points'");
    let d = kept[0]
        .origin
        .config()
        .unwrap()
        .deformable
        .as_ref()
        .unwrap();
    assert_eq!(d.diffusion, 0.0);
    harness.run_steps(3);
    // Each row's λ is a button that takes it.
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "4")
        .click();
    harness.run_steps(2);
    let panel = &harness.state().registration;
    assert_eq!(panel.config.deformable.as_ref().unwrap().diffusion, 4.0);
}

/// The trade-off of known points: Dice against the fold percentage, which the plot picks by
/// itself when some points fold, a table row per point in the order of λ, and the points
/// exported as JSON and CSV in the order they ran.
#[test]
fn known_sweep_points_are_plotted_tabled_and_exported() {
    use warpbench::eval::EvalReport;
    use warpbench::session::SweepPoint;
    let (mut harness, dir) = harness();
    let weights = [0.3, 0.01, 0.03, 0.1, 1.0];
    let point = |index: usize| {
        let lambda: f64 = weights[index];
        // Less smoothing folds more and, up to a point, aligns better.
        let folds = 0.02 / lambda.sqrt();
        SweepPoint {
            index,
            diffusion: lambda,
            similarity: Some(-0.5 + 0.1 * lambda),
            report: EvalReport {
                dice_mean: Some(0.80 - 0.02 * (lambda.log10() + 1.0).powi(2)),
                tre_mean_mm: Some(1.5 + lambda),
                fold_fraction: folds / 100.0,
                folded_voxels: (folds * 1e4) as usize,
                ndv_fraction: Some(folds / 300.0),
                sdlogj: 0.05 + 0.02 / lambda.sqrt(),
                ..Default::default()
            },
            seconds: 30.0,
        }
    };
    let app = harness.state_mut();
    app.doc.sweep_weights = weights.to_vec();
    app.doc.sweep = (0..weights.len()).map(point).collect();
    harness.run_steps(2);
    harness.get_by_label("smoothness sweep").click();
    harness.run_steps(3);
    let x_axis = harness.get_by_role_and_label(egui::accesskit::Role::ComboBox, "against");
    assert_eq!(
        x_axis.accesskit_node().value().as_deref(),
        Some("auto: fold % (det J ≤ 0)"),
        "points that fold are plotted against the fold percentage"
    );
    for lambda in ["0.01", "0.03", "0.1", "0.3", "1"] {
        harness.get_by_role_and_label(egui::accesskit::Role::Button, lambda);
    }
    harness.snapshot("sweep_trade_off");
    for name in ["sweep.json", "sweep.csv"] {
        let file = dir.path().join(name);
        harness.state_mut().registration.sweep.export.file.text = file.display().to_string();
        harness.run_steps(2);
        harness.get_by_label("export sweep").click();
        harness.run_steps(2);
        assert!(file.exists(), "{name} was not written");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("sweep.json")).unwrap()).unwrap();
    let weights: Vec<f64> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["diffusion"].as_f64().unwrap())
        .collect();
    assert_eq!(
        weights,
        [0.3, 0.01, 0.03, 0.1, 1.0],
        "in the order they ran"
    );
    let csv = std::fs::read_to_string(dir.path().join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 6, "{csv}");
    assert!(
        csv.lines().nth(2).unwrap().starts_with("0.01,0.78,"),
        "{csv}"
    );
}

#[test]
fn a_network_trains_in_the_window_pauses_stops_resumes_and_then_registers_the_case() {
    let (mut harness, dir) = harness();
    let config = common::training_case::write_case(dir.path());
    let out = dir.path().join("run");
    harness.run_steps(3);
    harness.get_by_label("Training").click();
    harness.run_steps(2);
    harness.get_by_label("Train").click();
    harness.run_steps(2);
    assert!(
        harness.state().training.log.status == TrainingStatus::Idle,
        "no run starts without an output folder"
    );
    harness.get_by_label("choose an output folder for the run");
    harness.state_mut().training.config.text = config.display().to_string();
    harness.state_mut().training.out.text = out.display().to_string();
    harness.run_steps(2);
    harness.get_by_label("Train").click();
    step_until(
        &mut harness,
        Duration::from_secs(300),
        "iterations",
        |app| app.training.log.iteration() >= 3,
    );
    harness.get_by_label("Pause").click();
    step_until(&mut harness, Duration::from_secs(60), "the pause", |app| {
        app.training.log.status == TrainingStatus::Running { paused: true }
    });
    let paused_at = harness.state().training.log.iteration();
    std::thread::sleep(Duration::from_millis(800));
    harness.run_steps(3);
    assert_eq!(
        harness.state().training.log.iteration(),
        paused_at,
        "a paused run does not train"
    );
    harness.get_by_label("Resume").click();
    step_until(
        &mut harness,
        Duration::from_secs(60),
        "more iterations",
        |app| app.training.log.iteration() > paused_at,
    );
    harness.get_by_label("Stop").click();
    step_until(&mut harness, Duration::from_secs(60), "the stop", |app| {
        matches!(app.training.log.status, TrainingStatus::Stopped { .. })
    });
    let TrainingStatus::Stopped { iteration } = harness.state().training.log.status else {
        unreachable!()
    };
    assert!(
        iteration > paused_at && iteration < 40,
        "stopped at {iteration}"
    );
    assert!(
        out.join("checkpoint.json").exists(),
        "a stop saves a checkpoint"
    );
    assert!(!out.join("metrics.json").exists());

    harness
        .get_by_label("resume the run in the output folder")
        .click();
    harness.run_steps(2);
    harness.get_by_label("Train").click();
    step_until(&mut harness, Duration::from_secs(300), "the end", |app| {
        app.training.log.status == TrainingStatus::Finished
    });
    let log = &harness.state().training.log;
    assert_eq!(log.iteration(), 40);
    assert_eq!(
        log.records.len(),
        40,
        "the resumed run continues the stopped one's record"
    );
    assert!(log.metrics.as_ref().is_some_and(|m| m.val_dice.is_finite()));
    assert!(out.join("metrics.json").exists());
    // The validations are plotted under their names, the network's Dice beside the affine's.
    harness.run_steps(2);
    for name in ["Dice", "Dice, affine alone", "loss"] {
        assert!(
            harness.query_all_by_label(name).next().is_some(),
            "no validation plot of {name}"
        );
    }

    // The trained model registers the open case from the registration tab.
    harness.get_by_label("Registration").click();
    harness.run_steps(2);
    harness.get_by_label("with a trained network").click();
    harness.run_steps(2);
    harness.state_mut().registration.model.text = out.display().to_string();
    harness.state_mut().registration.refinement_steps = 5;
    harness.run_steps(2);
    harness.get_by_label("Register with network").click();
    harness.step();
    assert!(matches!(
        harness.state().doc.run,
        RunStatus::Running {
            pausable: false,
            ..
        }
    ));
    harness.step();
    if harness.state().doc.run.is_running() {
        assert!(
            harness.get_by_label("Pause").accesskit_node().is_disabled(),
            "a network run cannot pause"
        );
    }
    step_until(
        &mut harness,
        Duration::from_secs(300),
        "the network's registration",
        |app| !app.doc.run.is_running(),
    );
    let doc = &harness.state().doc;
    assert!(
        matches!(doc.run, RunStatus::Finished { .. }),
        "the network run ended as {:?}",
        doc.run
    );
    assert_eq!(doc.phase, Some("scoring"));
    assert!(doc.deformation.is_some());
    assert!(
        doc.report.as_ref().is_some_and(|r| r.dice_mean.is_some()),
        "the network's map is scored on the demo's labels"
    );
    // It is kept among the case's results under its model folder's name.
    let model = out.file_name().unwrap().to_string_lossy();
    let kept = &doc.results.kept;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].name, format!("network {model}"));
    assert_eq!(kept[0].dice, doc.current_report().unwrap().dice_mean);
}

/// Focuses the text field labelled `label` and types `text` into it.
fn type_into(harness: &mut Harness<'static, WarpbenchApp>, label: &str, text: &str) {
    let role = egui::accesskit::Role::TextInput;
    harness.get_by_role_and_label(role, label).focus();
    harness.step();
    harness.get_by_role_and_label(role, label).type_text(text);
}

/// Exports the results into `folder` from the open session window, and waits for the files.
fn export_results(harness: &mut Harness<'static, WarpbenchApp>, folder: &std::path::Path) {
    type_into(harness, "results folder", &folder.display().to_string());
    harness.run_steps(2);
    harness.get_by_label("Export results").click();
    harness.step();
    step_until(harness, Duration::from_secs(60), "the export", |app| {
        app.background_jobs == 0
    });
}

/// Shows the landmarks' fit by `model`, as "align by the landmarks" does, without its thread.
/// Opens (or closes) the menu of the results table's row `label`.
fn result_menu(harness: &mut Harness<'static, WarpbenchApp>, label: &str) {
    let top = harness.get_by_label(label).rect().top();
    harness
        .get_all_by_label("…")
        .min_by(|a, b| {
            (a.rect().top() - top)
                .abs()
                .total_cmp(&(b.rect().top() - top).abs())
        })
        .unwrap()
        .click();
    harness.run_steps(2);
}

fn show_landmark_fit(app: &mut WarpbenchApp, model: warpbench::register::landmark_fit::FitModel) {
    let fit = app.doc.landmark_fit(model).unwrap();
    let grid = app.doc.case.fixed.grid().clone();
    let field = warpbench::register::deformable::affine_displacement(&fit.affine, &grid);
    app.doc.show_transform(
        warpbench::app::state::Deformation::new(fit.affine, field),
        warpbench::app::results::Origin::Landmarks(model),
    );
}

/// Puts a Gaussian pull towards the centre, 1.5 × the distance at the middle, on the demo as its
/// deformation: det J < 0 there.
fn set_folding_field(app: &mut WarpbenchApp) {
    use warpbench::app::state::Deformation;
    use warpbench::volume::VectorField;
    let grid = app.doc.case.fixed.grid().clone();
    let centre = grid.centre_mm();
    let field: Vec<[f32; 3]> = (0..grid.voxel_count())
        .map(|n| {
            let p = grid.index_to_world(n);
            let (dx, dy) = (p[0] - centre[0], p[1] - centre[1]);
            let w = 1.5 * (-(dx * dx + dy * dy) / (2.0 * 15.0f64.powi(2))).exp();
            [(-dx * w) as f32, (-dy * w) as f32, 0.0]
        })
        .collect();
    let field = VectorField::new(grid, field).unwrap();
    app.doc
        .set_deformation(Deformation::new(warpbench::volume::Affine::IDENTITY, field));
}

#[test]
fn deformation_overlays_show_a_known_field() {
    let (mut harness, _dir) = harness();
    harness.run_steps(2);
    set_folding_field(harness.state_mut());
    assert!(
        harness
            .state()
            .doc
            .deformation
            .as_ref()
            .unwrap()
            .stats
            .folded_voxels
            > 0,
        "the pull folds"
    );
    harness.run_steps(2);
    show_grid_and_jacobian(&mut harness);
    // The NDV beside the fold count is the field's, and its folds show in the det J map.
    let ndv = {
        let d = harness.state().doc.deformation.as_ref().unwrap();
        warpbench::eval::non_diffeomorphic::non_diffeomorphic_volume(&d.field)
    };
    assert!(ndv.mm3 > 0.0);
    harness.get_by_label(&format!(
        "NDV {:.3} mm³ ({:.4} %)",
        ndv.mm3,
        100.0 * ndv.fraction
    ));
    harness.snapshot("overlays_grid_jacobian");
}

#[test]
fn landmarks_are_placed_moved_paired_deleted_and_autosaved() {
    use warpbench::app::landmarks::Side;
    let (mut harness, dir) = harness();
    harness.run_steps(3);
    harness.get_by_label("Landmarks").click();
    harness.run_steps(2);
    harness.get_by_label("place in fixed").click();
    harness.run_steps(2);
    let (fixed0, moving0) = {
        let doc = &harness.state().doc;
        (
            doc.case.fixed_landmarks.len(),
            doc.case.moving_landmarks.len(),
        )
    };
    let cursor = harness.state().viewers.cursor_mm;
    let axial = harness.get_by_label("axial view").rect();
    let a = axial.center() + egui::vec2(-60.0, -40.0);
    click_at(&mut harness, a);
    harness.run_steps(2);
    let placed = {
        let doc = &harness.state().doc;
        assert_eq!(
            doc.case.fixed_landmarks.len(),
            fixed0 + 1,
            "a click places a point"
        );
        doc.case.fixed_landmarks.points.last().unwrap().clone()
    };
    assert_eq!(placed.world_mm[2], cursor[2], "on the axial slice shown");
    assert_eq!(
        harness.state().viewers.cursor_mm,
        cursor,
        "the crosshair stays"
    );
    let b = a + egui::vec2(50.0, 30.0);
    drag(&mut harness, a, b);
    harness.run_steps(2);
    let moved = {
        let doc = &harness.state().doc;
        assert_eq!(
            doc.case.fixed_landmarks.len(),
            fixed0 + 1,
            "a drag places nothing"
        );
        doc.case.fixed_landmarks.points.last().unwrap().clone()
    };
    assert!(
        (moved.world_mm[0] - placed.world_mm[0]).abs() > 5.0
            && (moved.world_mm[1] - placed.world_mm[1]).abs() > 5.0,
        "the drag moves the point: {:?} → {:?}",
        placed.world_mm,
        moved.world_mm
    );
    assert_eq!(moved.world_mm[2], placed.world_mm[2]);
    let last_fixed = |harness: &Harness<'static, WarpbenchApp>| {
        let points = &harness.state().doc.case.fixed_landmarks.points;
        (points.len(), points.last().unwrap().world_mm)
    };
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    harness.run_steps(2);
    assert_eq!(
        last_fixed(&harness),
        (fixed0 + 1, placed.world_mm),
        "ctrl+Z takes back the whole drag"
    );
    harness.get_by_label("redo").click();
    harness.run_steps(2);
    assert_eq!(last_fixed(&harness), (fixed0 + 1, moved.world_mm));
    harness.get_by_label("place in moving").click();
    harness.run_steps(2);
    click_at(&mut harness, b + egui::vec2(-20.0, 20.0));
    harness.run_steps(2);
    {
        let doc = &harness.state().doc;
        assert_eq!(doc.case.moving_landmarks.len(), moving0 + 1);
        assert_eq!(
            doc.case.moving_landmarks.points.last().unwrap().name,
            moved.name,
            "the moving point pairs with the new fixed one"
        );
        let names: Vec<&str> = doc
            .tre
            .as_ref()
            .unwrap()
            .pairs
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert!(names.contains(&moved.name.as_deref().unwrap()));
        assert_eq!(
            harness.state().viewers.selected,
            Some((Side::Moving, moving0))
        );
    }
    harness.snapshot("landmarks_placed");
    let autosaves = dir.path().join("landmarks");
    let start = Instant::now();
    while std::fs::read_dir(&autosaves).map_or(0, |d| d.count()) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no autosave in {}",
            autosaves.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.key_press(egui::Key::Delete);
    harness.run_steps(2);
    assert_eq!(
        harness.state().doc.case.moving_landmarks.len(),
        moving0,
        "Delete removes the selected point"
    );
}

#[test]
fn a_kept_result_is_compared_with_the_shown_one_in_the_views() {
    use warpbench::register::landmark_fit::FitModel;
    let (mut harness, _dir) = harness();
    harness.run_steps(2);
    let app = harness.state_mut();
    show_landmark_fit(app, FitModel::Rigid);
    show_landmark_fit(app, FitModel::Affine);
    app.viewers.display.mode = CompareMode::Moving;
    harness.run_steps(2);
    // The moving image is compared with the fixed one to start with.
    assert!(harness.query_by_value("the fixed image").is_some());
    harness.get_by_label("Metrics").click();
    harness.run_steps(2);
    result_menu(&mut harness, "1 landmarks, rigid fit");
    harness.get_by_label("compare in the views").click();
    harness.run_steps(2);
    let display = &harness.state().viewers.display;
    assert_eq!(display.against, Some(1));
    // A mode of one image would hide the comparison: the difference shows instead.
    assert_eq!(display.mode, CompareMode::Difference);
    assert!(
        harness
            .query_by_value("result 1: landmarks, rigid fit")
            .is_some()
    );
    harness.get_by_label("result 1").click();
    harness.run_steps(2);
    assert_eq!(harness.state().viewers.display.mode, CompareMode::Fixed);
    harness.get_by_label("result 1 contours").click();
    harness.run_steps(2);
    assert_eq!(harness.state().viewers.display.mode, CompareMode::Contours);
    harness.get_by_label("difference").click();
    harness.run_steps(2);
    // Where the two transforms disagree, in mm.
    harness.get_by_label("|Δu|").click();
    harness.run_steps(2);
    assert_eq!(
        harness.state().viewers.display.deformation.map,
        FieldMap::Disagreement
    );
    harness.event(egui::Event::PointerMoved(egui::pos2(1100.0, 950.0)));
    harness.run_steps(2);
    harness.snapshot("compare_against_result");
    // "swap" shows the result compared against, and compares it against the one shown before.
    harness.get_by_label("swap").click();
    harness.run_steps(2);
    let app = harness.state();
    assert_eq!(app.doc.results.shown, Some(1));
    assert_eq!(app.viewers.display.against, Some(2));
    assert!(harness.query_by_label("result 2").is_some());
    harness.get_by_label("swap").click();
    harness.run_steps(2);
    let app = harness.state();
    assert_eq!(app.doc.results.shown, Some(2));
    assert_eq!(app.viewers.display.against, Some(1));
    // Showing the result compared against ends the comparison: it is not compared with itself.
    harness.get_by_label("1 landmarks, rigid fit").click();
    harness.run_steps(2);
    assert_eq!(harness.state().doc.results.shown, Some(1));
    assert_eq!(harness.state().viewers.display.against, None);
    assert!(harness.query_by_label("fixed contours").is_some());
    assert!(harness.query_by_label("|Δu|").is_none());
    assert_eq!(
        harness.state().viewers.display.deformation.map,
        FieldMap::None
    );
    // The other result is offered in the list now.
    harness.get_by_value("the fixed image").click();
    harness.run_steps(2);
    harness
        .get_by_label("result 2: landmarks, affine fit")
        .click();
    harness.run_steps(2);
    assert_eq!(harness.state().viewers.display.against, Some(2));
}

#[test]
fn a_session_saves_and_reopens_with_its_transform_landmarks_and_view() {
    use warpbench::app::landmarks::{LandmarkEdit, Side};
    use warpbench::register::landmark_fit::FitModel;
    let (mut harness, dir) = harness();
    harness.run_steps(2);
    let app = harness.state_mut();
    // A landmark fit first, kept among the results; the transform saved is a later one.
    show_landmark_fit(app, FitModel::Rigid);
    set_folding_field(app);
    app.viewers.display.mode = CompareMode::Checkerboard;
    app.viewers.cursor_mm[2] += 6.0;
    app.viewers.planes[0].zoom = 2.0;
    let c = app.viewers.cursor_mm;
    let ruler = warpbench::app::views::ruler::Ruler {
        ends_mm: [[c[0] - 20.0, c[1], c[2]], [c[0] + 10.0, c[1] + 40.0, c[2]]],
    };
    app.viewers.rulers[0] = Some(ruler);
    app.doc.edit_landmarks(
        [LandmarkEdit::Place {
            side: Side::Fixed,
            world_mm: [1.0, 2.0, 3.0],
        }],
        None,
    );
    let pair = app.doc.tre.as_ref().unwrap().pairs[0].name.clone();
    app.doc.edit_landmarks(
        [LandmarkEdit::Exclude {
            pair: pair.clone(),
            excluded: true,
        }],
        None,
    );
    let (cursor, fixed_points) = (app.viewers.cursor_mm, app.doc.case.fixed_landmarks.clone());
    // Its TRE as the landmarks are now, edited since the fit.
    let fit_scores = app.doc.results.kept[0].saved.clone();
    let field = app.doc.deformation.as_ref().unwrap().field.data().to_vec();
    harness.run_steps(2);
    harness.get_by_label("Session…").click();
    harness.run_steps(2);
    let path = dir.path().join("demo.warpbench.json");
    type_into(&mut harness, "session file", &path.display().to_string());
    harness.run_steps(2);
    assert_eq!(
        harness.state().session_form.file.text,
        path.display().to_string()
    );
    harness.get_by_label("Save session").click();
    harness.step();
    step_until(&mut harness, Duration::from_secs(60), "the save", |app| {
        app.background_jobs == 0
    });
    assert!(
        path.exists() && dir.path().join("demo.displacement.nii.gz").exists(),
        "saved: {:?}",
        harness.state().notice.as_ref().map(|n| &n.text)
    );
    // Saving again over it asks first, and "keep" keeps it.
    let saved = std::fs::read(&path).unwrap();
    harness.get_by_label("Save session").click();
    harness.run_steps(2);
    harness.get_by_label("keep").click();
    harness.run_steps(2);
    assert_eq!(harness.state().background_jobs, 0);
    assert_eq!(std::fs::read(&path).unwrap(), saved);

    // Lose it all, then reopen.
    let app = harness.state_mut();
    app.viewers.display.mode = CompareMode::Fusion;
    app.viewers.cursor_mm[2] -= 6.0;
    app.viewers.rulers = [None; 3];
    app.doc.deformation = None;
    app.doc.edit_landmarks(
        [LandmarkEdit::Delete {
            side: Side::Fixed,
            index: 0,
        }],
        None,
    );
    harness.get_by_label("Open session").click();
    harness.step();
    step_until(
        &mut harness,
        Duration::from_secs(60),
        "the reopened session",
        |app| app.doc.deformation.is_some(),
    );
    harness.run_steps(3);
    let app = harness.state();
    assert_eq!(app.viewers.display.mode, CompareMode::Checkerboard);
    assert_eq!(app.viewers.cursor_mm, cursor);
    assert_eq!(app.viewers.planes[0].zoom, 2.0);
    assert_eq!(app.viewers.rulers, [Some(ruler), None, None]);
    assert_eq!(app.doc.case.fixed_landmarks, fixed_points);
    assert!(app.doc.excluded_pairs.contains(&pair));
    assert_eq!(
        app.doc.deformation.as_ref().unwrap().field.data(),
        &field[..]
    );
    assert!(app.doc.deformation.as_ref().unwrap().stats.folded_voxels > 0);
    // The fit comes back with its scores and without its transform; the transform saved,
    // which was no kept result, comes back as one, to return to after other runs.
    let kept = &app.doc.results.kept;
    let names: Vec<&str> = kept.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["landmarks, rigid fit", "reopened session"]);
    assert_eq!(kept[0].saved, fit_scores);
    assert!(kept[0].deformation.is_none());
    assert_eq!(app.doc.results.shown, Some(2));

    // The results of the reopened transform export into a folder.
    let out = dir.path().join("results");
    export_results(&mut harness, &out);
    for name in [
        "warped.nii.gz",
        "warped_labels.nii.gz",
        "displacement.nii.gz",
        "affine.txt",
        "config.toml",
    ] {
        assert!(out.join(name).exists(), "{name} exported");
    }
    let exported =
        warpbench::volume::nifti_io::read_displacement(&out.join("displacement.nii.gz")).unwrap();
    assert_eq!(exported.data(), &field[..]);
    // The temporary paths would make the snapshot differ from run to run.
    let app = harness.state_mut();
    app.session_form.open = false;
    app.notice = None;
    harness.run_steps(2);
    harness.snapshot("session_reopened");
}

#[test]
fn metrics_score_in_full_and_export() {
    let (mut harness, dir) = harness();
    harness.run_steps(2);
    set_folding_field(harness.state_mut());
    harness.run_steps(2);
    harness.get_by_label("Metrics").click();
    harness.run_steps(2);
    harness.get_by_label("score in full").click();
    harness.step();
    step_until(
        &mut harness,
        Duration::from_secs(120),
        "the full scores",
        |app| app.doc.full_report.is_some(),
    );
    harness.run_steps(2);
    let report = harness.state().doc.current_report().unwrap().clone();
    assert!(
        report.hd95_mean.is_some_and(|h| h > 0.0),
        "HD95 of the demo's labels"
    );
    assert_eq!(report.hd95.len(), 4);
    assert!(report.ncc.is_some());
    assert!(
        report.ndv_fraction.is_some_and(|f| f > 0.0),
        "the pull turns volume inside out"
    );
    // The pull reaches 1.5 × 15 mm × e^(−1/2) ≈ 13.6 mm at most, towards the centre.
    assert_eq!(report.motion.len(), 4, "every structure's motion");
    for m in report.motion.values() {
        assert!(m.max_mm > 0.5 && m.max_mm < 13.7, "{m:?}");
    }
    // The affine stage alone (the identity here) is scored beside the whole transform.
    let affine = harness.state().doc.affine_stage_report().unwrap().clone();
    assert_eq!(affine.dice.len(), 4);
    assert_ne!(affine.dice_mean, report.dice_mean);
    assert!(
        affine.motion.values().all(|m| m.max_mm < 1e-6),
        "the identity moves nothing"
    );
    let mean = format!("(affine stage {:.4})", affine.dice_mean.unwrap());
    assert!(
        harness.query_by_label_contains(&mean).is_some(),
        "the mean Dice line names the affine stage's: {mean}"
    );
    let path = dir.path().join("metrics.csv");
    type_into(&mut harness, "metrics file", &path.display().to_string());
    harness.run_steps(2);
    harness.get_by_label("export metrics").click();
    harness.run_steps(2);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("hd95,1,left grey matter,")
            && text.contains("dice_affine,1,left grey matter,")
            && text.contains("moved_p95_mm,4,right white matter,")
            && text.contains("fold_fraction,,,"),
        "{text}"
    );
    // A label's name in the table (the right panel's, not the label list's) takes the
    // crosshair into it.
    harness
        .get_all_by_role_and_label(egui::accesskit::Role::Label, "3 left white matter")
        .max_by(|a, b| a.rect().left().total_cmp(&b.rect().left()))
        .unwrap()
        .click();
    harness.run_steps(2);
    let app = harness.state();
    let labels = app.doc.case.fixed_labels.as_ref().unwrap();
    assert_eq!(
        warpbench::volume::resample::label_at_world(labels, app.viewers.cursor_mm),
        3
    );
    // The temporary path would make the snapshot differ from run to run.
    let app = harness.state_mut();
    app.notice = None;
    app.metrics.export.file.text.clear();
    harness.run_steps(2);
    harness.snapshot("metrics_full");
}

#[test]
fn a_coarse_level_transform_saves_onto_the_fixed_grid_and_reopens() {
    use warpbench::app::panels::session::SessionRequest;
    use warpbench::app::state::Deformation;
    use warpbench::volume::VectorField;
    let (mut harness, dir) = harness();
    harness.run_steps(2);
    // A snapshot of a coarse level holds its field on that level's grid.
    let fixed = harness.state().doc.case.fixed.grid().clone();
    let coarse = warpbench::register::pyramid::level_grid(&fixed, 2.0).unwrap();
    let field =
        VectorField::new(coarse.clone(), vec![[1.5, 0.0, 0.0]; coarse.voxel_count()]).unwrap();
    harness
        .state_mut()
        .doc
        .set_deformation(Deformation::new(warpbench::volume::Affine::IDENTITY, field));
    let path = dir.path().join("coarse.warpbench.json");
    let ctx = harness.ctx.clone();
    harness
        .state_mut()
        .handle_session(SessionRequest::Save(path.clone()), &ctx);
    step_until(&mut harness, Duration::from_secs(60), "the save", |app| {
        app.background_jobs == 0
    });
    harness.state_mut().doc.deformation = None;
    harness
        .state_mut()
        .handle_session(SessionRequest::Open(path), &ctx);
    step_until(
        &mut harness,
        Duration::from_secs(60),
        "the reopened session",
        |app| app.doc.deformation.is_some() || app.notice.as_ref().is_some_and(|n| n.error),
    );
    let app = harness.state();
    assert!(
        app.notice.as_ref().is_none_or(|n| !n.error),
        "{:?}",
        app.notice.as_ref().map(|n| &n.text)
    );
    let reopened = &app.doc.deformation.as_ref().unwrap().field;
    assert!(reopened.grid().same_as(&fixed, 1e-6));
    let centre = fixed.centre_mm();
    let u = warpbench::volume::warp::displacement_at(reopened, centre);
    assert!((u[0] - 1.5).abs() < 1e-4, "{u:?}");
}

#[test]
fn an_itk_snap_label_file_names_colours_and_hides_labels() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    warpbench::demo::load_builtin().unwrap().write(d).unwrap();
    std::fs::write(
        d.join("labels.label"),
        "# ITK-SnAP Label Description File\n\
         \x20 0   0   0   0  0 0 0 \"Clear Label\"\n\
         \x20 1 255   0   0  1 1 1 \"cortex, left\"\n\
         \x20 3   0   0 255  1 0 1 \"white matter, left\"\n",
    )
    .unwrap();
    let files = warpbench::case::CaseFiles {
        fixed: Some(d.join("fixed_t1.nii.gz")),
        moving: Some(d.join("moving_t2like.nii.gz")),
        fixed_labels: Some(d.join("fixed_labels.nii.gz")),
        moving_labels: Some(d.join("moving_labels.nii.gz")),
        label_names: Some(d.join("labels.label")),
        ..Default::default()
    };
    let case = files
        .load(&std::sync::atomic::AtomicBool::new(false), |_, _| {})
        .unwrap();
    let mut harness = harness_on(
        case,
        OpenArgs {
            state_dir: Some(d.join("state")),
            ..Default::default()
        },
    );
    harness.run_steps(2);
    assert!(harness.state().viewers.display.labels.visible);
    // Label 3 starts hidden (VIS 0); 1 is named and shown; 2 has no entry and keeps its id.
    assert!(harness.state().viewers.display.labels.hidden.contains(&3));
    assert!(!harness.state().viewers.display.labels.hidden.contains(&1));
    assert!(harness.query_by_label("1 cortex, left").is_some());
    assert!(harness.query_by_label("3 white matter, left").is_some());
    assert!(harness.query_by_label("2").is_some());
    assert!(harness.query_by_label("names: labels.label").is_some());
    // A label's box and its name both hide and show it; its name tells its size on hover.
    let site = harness.state().doc.facts.fixed_label_sites[&1].clone();
    let volume = warpbench::app::panels::display::volume_text(site.volume_mm3);
    harness
        .get_by_role_and_label(egui::accesskit::Role::Label, "1 cortex, left")
        .hover();
    harness.run_steps(60); // a tooltip waits half a second
    let size = format!("1 cortex, left: {} voxels, {volume}", site.voxels);
    assert!(harness.query_by_label(&size).is_some(), "{size}");
    harness
        .get_by_role_and_label(egui::accesskit::Role::CheckBox, "1 cortex, left")
        .click();
    harness.run_steps(2);
    assert!(harness.state().viewers.display.labels.hidden.contains(&1));
    harness
        .get_by_role_and_label(egui::accesskit::Role::Label, "1 cortex, left")
        .click();
    harness.run_steps(2);
    assert!(!harness.state().viewers.display.labels.hidden.contains(&1));
    harness.get_by_label("show all").click();
    harness.run_steps(2);
    assert!(harness.state().viewers.display.labels.hidden.is_empty());
    harness.get_by_label("hide all").click();
    harness.run_steps(2);
    let hidden = &harness.state().viewers.display.labels.hidden;
    assert!((1..=4).all(|id| hidden.contains(&id)), "{hidden:?}");
    // A filter lists the matching labels, and show all / hide all act on those alone.
    type_into(&mut harness, "find", "CORTEX");
    harness.run_steps(2);
    assert!(harness.query_by_label("2").is_none());
    harness.get_by_label("show all").click();
    harness.run_steps(2);
    let hidden = &harness.state().viewers.display.labels.hidden;
    assert_eq!(hidden.iter().copied().collect::<Vec<_>>(), vec![2, 3, 4]);
    // "go to" brings the crosshair into the one label listed.
    let before = harness.state().viewers.cursor_mm;
    harness.get_by_label("go to").click();
    harness.run_steps(2);
    let app = harness.state();
    let cursor = app.viewers.cursor_mm;
    let labels = app.doc.case.fixed_labels.as_ref().unwrap();
    assert_ne!(cursor, before);
    assert_eq!(
        warpbench::volume::resample::label_at_world(labels, cursor),
        1
    );
    // Warped moving labels: the crosshair goes where the transform shows the label.
    let grid = app.doc.case.fixed.grid().clone();
    let shift = [6.0, 0.0, 0.0];
    let field =
        warpbench::volume::VectorField::new(grid.clone(), vec![shift; grid.voxel_count()]).unwrap();
    harness
        .state_mut()
        .doc
        .set_deformation(warpbench::app::state::Deformation::new(
            warpbench::volume::Affine::IDENTITY,
            field,
        ));
    harness.state_mut().viewers.display.warped = true;
    harness
        .get_by_role_and_label(egui::accesskit::Role::CheckBox, "moving (warped)")
        .click();
    harness.run_steps(2);
    harness.get_by_label("go to").click();
    harness.run_steps(2);
    let app = harness.state();
    let cursor = app.viewers.cursor_mm;
    let moving_point = app.doc.facts.moving_label_sites[&1].inner_point_mm;
    for a in 0..3 {
        let expected = moving_point[a] - shift[a] as f64;
        assert!(
            (cursor[a] - expected).abs() < 1e-3,
            "{cursor:?} {moving_point:?}"
        );
    }
}

#[test]
fn the_moving_image_flips_between_the_affine_stage_and_the_whole_transform() {
    use warpbench::app::landmarks::Side;
    use warpbench::volume::{Affine, VectorField};
    let (mut harness, _dir) = harness();
    harness.run_steps(2);
    // An affine stage that shifts 10 mm along x, and a deformable stage that adds 4 mm along y.
    let grid = harness.state().doc.case.fixed.grid().clone();
    let mut affine = Affine::IDENTITY;
    affine.0[0][3] = 10.0;
    let u = VectorField::new(grid.clone(), vec![[0.0, 4.0, 0.0]; grid.voxel_count()]).unwrap();
    let field = warpbench::register::deformable::compose(&affine, &u);
    harness
        .state_mut()
        .doc
        .set_deformation(warpbench::app::state::Deformation::new(affine, field));
    harness.run_steps(3);
    let axial = harness.get_by_label("axial view").rect();
    let view_pixels = |harness: &mut Harness<'static, WarpbenchApp>| rendered(harness, axial);
    let p = [1.0, 2.0, 3.0];
    let shown = |harness: &Harness<'static, WarpbenchApp>| {
        let app = harness.state();
        app.viewers.shown_position(Side::Moving, p, &app.doc)
    };
    let close = |a: [f64; 3], b: [f64; 3]| (0..3).all(|k| (a[k] - b[k]).abs() < 1e-3);
    assert!(
        close(shown(&harness), [-9.0, -2.0, 3.0]),
        "{:?}",
        shown(&harness)
    );
    let whole = view_pixels(&mut harness);
    harness.get_by_label("affine stage only").click();
    harness.run_steps(3);
    assert!(harness.state().viewers.display.affine_only);
    assert!(
        close(shown(&harness), [-9.0, 2.0, 3.0]),
        "{:?}",
        shown(&harness)
    );
    let affine_only = view_pixels(&mut harness);
    assert_ne!(
        whole, affine_only,
        "the axial view shows the moving image moved back 4 mm"
    );
    harness.get_by_label("whole").click();
    harness.run_steps(3);
    assert!(!harness.state().viewers.display.affine_only);
    assert_eq!(view_pixels(&mut harness), whole);
}

#[test]
fn the_images_tab_shows_each_grid_moves_the_window_with_its_histogram_and_goes_to_a_voxel() {
    let (mut harness, _dir) = harness();
    harness.run_steps(2);
    harness.get_by_label("Images").click();
    harness.run_steps(3);
    let grid = harness.state().doc.case.fixed.grid().clone();
    let [ni, nj, nk] = grid.dims();
    assert!(
        harness
            .query_by_label_contains(&format!("{ni} × {nj} × {nk} voxels of"))
            .is_some()
    );
    // Two images and two label maps, none from a file.
    assert_eq!(harness.query_all_by_label("built-in demo").count(), 4);

    // The histogram spans the data and the window; an edge follows the pointer, and a drag inside
    // moves the whole window.
    let rect = harness.get_by_label("fixed histogram").rect();
    let x_of = |harness: &Harness<'static, WarpbenchApp>, v: f32| {
        let app = harness.state();
        let h = &app.doc.facts.fixed_histogram;
        let w = app.viewers.display.fixed.window;
        let (lo, hi) = ((h.start as f32).min(w.lo), (h.end() as f32).max(w.hi));
        rect.left() + (v - lo) / (hi - lo) * rect.width()
    };
    let window =
        |harness: &Harness<'static, WarpbenchApp>| harness.state().viewers.display.fixed.window;
    let before = window(&harness);
    let y = rect.center().y;
    let hi_x = x_of(&harness, before.hi);
    drag(
        &mut harness,
        egui::pos2(hi_x, y),
        egui::pos2(hi_x - 40.0, y),
    );
    let narrowed = window(&harness);
    assert_eq!(narrowed.lo, before.lo);
    assert!(
        narrowed.hi < before.hi - 0.1 * (before.hi - before.lo),
        "{before:?} -> {narrowed:?}"
    );
    let middle = x_of(&harness, narrowed.level());
    drag(
        &mut harness,
        egui::pos2(middle, y),
        egui::pos2(middle + 30.0, y),
    );
    let moved = window(&harness);
    assert!(moved.lo > narrowed.lo, "{narrowed:?} -> {moved:?}");
    assert!(((moved.hi - moved.lo) - (narrowed.hi - narrowed.lo)).abs() < 1e-3 * narrowed.width());
    joint_nmi(&mut harness);
    harness.snapshot("images_tab");

    // Typing a fixed voxel index takes the crosshair to that voxel's centre.
    let i_field = harness
        .get_all_by_label("fixed voxel")
        .next()
        .expect("the fixed voxel's i field");
    i_field.click();
    harness.run_steps(2);
    harness.event(egui::Event::Key {
        key: egui::Key::A,
        physical_key: None,
        pressed: true,
        repeat: false,
        modifiers: egui::Modifiers::COMMAND,
    });
    harness.event(egui::Event::Text("12".into()));
    harness.key_press(egui::Key::Enter);
    harness.run_steps(3);
    let cursor = harness.state().viewers.cursor_mm;
    let voxel = grid.world_to_voxel(cursor);
    assert!((voxel[0] - 12.0).abs() < 1e-6, "{voxel:?}");
    assert!(
        (0..3).all(|a| (voxel[a] - voxel[a].round()).abs() < 1e-6),
        "{voxel:?}"
    );
}

/// The window as drawn, cropped to `rect` (points).
fn rendered(harness: &mut Harness<'static, WarpbenchApp>, rect: egui::Rect) -> image::RgbaImage {
    let image = harness.render().unwrap();
    let scale = image.width() as f32 / 1200.0;
    let (x0, y0) = ((rect.left() * scale) as u32, (rect.top() * scale) as u32);
    let (w, h) = (
        (rect.width() * scale) as u32,
        (rect.height() * scale) as u32,
    );
    image::imageops::crop_imm(&image, x0, y0, w, h).to_image()
}

/// Waits for the Images tab's joint histogram of what the views show now; its NMI.
fn joint_nmi(harness: &mut Harness<'static, WarpbenchApp>) -> f64 {
    step_until(
        harness,
        Duration::from_secs(60),
        "the joint histogram",
        |app| app.joint_histogram.histogram(app.joint_key()).is_some(),
    );
    // The spinner goes with the frame after.
    harness.run_steps(2);
    let app = harness.state();
    let histogram = app.joint_histogram.histogram(app.joint_key()).unwrap();
    histogram.information().expect("overlapping images").1
}

#[test]
fn the_joint_histogram_follows_the_transform_the_views_show() {
    use warpbench::register::landmark_fit::FitModel;
    let (mut harness, _dir) = harness();
    harness.run_steps(2);
    harness.get_by_label("Images").click();
    harness.run_steps(2);
    let as_loaded = joint_nmi(&mut harness);
    assert_eq!(harness.state().joint_key().pull, "as loaded");
    assert!(
        harness
            .query_by_role_and_label(egui::accesskit::Role::Image, "joint histogram")
            .is_some()
    );

    // The demo's landmarks bring its images into line: the joint histogram tightens.
    let app = harness.state_mut();
    show_landmark_fit(app, FitModel::Affine);
    app.viewers.display.warped = true;
    let aligned = joint_nmi(&mut harness);
    assert_eq!(harness.state().joint_key().pull, "whole");
    assert!(aligned > as_loaded + 0.1, "NMI {as_loaded} -> {aligned}");
    let text = format!("NMI {aligned:.3}");
    assert!(harness.query_by_label_contains(&text).is_some(), "{text}");

    // The affine stage alone is this transform too, sampled without the field.
    harness.get_by_label("affine stage only").click();
    harness.run_steps(2);
    let affine = joint_nmi(&mut harness);
    assert_eq!(harness.state().joint_key().pull, "affine");
    assert!((affine - aligned).abs() < 0.01, "{affine} vs {aligned}");
    harness.snapshot("joint_histogram_aligned");

    // Counting the left white matter alone: its voxels, sampled more densely than the image.
    let everywhere = harness
        .state()
        .joint_histogram
        .histogram(harness.state().joint_key())
        .unwrap()
        .total();
    harness.get_by_label("voxels counted").click();
    harness.run_steps(2);
    harness.get_by_label("inside 3 left white matter").click();
    harness.run_steps(2);
    use warpbench::eval::joint_histogram::Region;
    assert_eq!(harness.state().joint_key().region, Region::Label(3));
    joint_nmi(&mut harness);
    let app = harness.state();
    let white = app
        .joint_histogram
        .histogram(app.joint_key())
        .unwrap()
        .total();
    let voxels = app.doc.facts.fixed_label_sites[&3].voxels as u64;
    // Fewer voxels than the samples asked for: every one (that the moving image covers) counts.
    assert!(
        white < everywhere && white * 10 > voxels * 9,
        "{white} of {voxels}"
    );
    assert!(
        harness
            .query_by_label_contains("through the affine stage alone, inside 3 left white matter")
            .is_some()
    );
}

#[test]
fn bins_picked_in_the_joint_histogram_highlight_their_places_in_the_views() {
    use warpbench::app::views::compose::JOINT_BOX_COLOUR;
    use warpbench::eval::joint_histogram::BinBox;
    // Tall enough for the whole Images tab, so the plot needs no scrolling to.
    let dir = tempfile::tempdir().unwrap();
    let args = OpenArgs {
        state_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let case = warpbench::demo::load_builtin().unwrap().into();
    let mut harness = harness_sized(case, args, egui::vec2(1200.0, 1400.0));
    harness.run_steps(2);
    harness.get_by_label("Images").click();
    harness.run_steps(2);
    joint_nmi(&mut harness);
    let plot = harness
        .get_by_role_and_label(egui::accesskit::Role::Image, "joint histogram")
        .rect();
    let (h, fullest) = {
        let app = harness.state();
        let h = app
            .joint_histogram
            .histogram(app.joint_key())
            .unwrap()
            .clone();
        let fullest = (1..h.bins)
            .flat_map(|m| (1..h.bins).map(move |f| [f, m]))
            .max_by_key(|&[f, m]| h.counts[m * h.bins + f])
            .unwrap();
        (h, fullest)
    };
    let centre = |[f, m]: [usize; 2]| {
        egui::pos2(
            plot.left() + plot.width() * (f as f32 + 0.5) / h.bins as f32,
            plot.bottom() - plot.height() * (m as f32 + 0.5) / h.bins as f32,
        )
    };
    let (a, b) = (
        [fullest[0] - 1, fullest[1] - 1],
        [
            (fullest[0] + 1).min(h.bins - 1),
            (fullest[1] + 1).min(h.bins - 1),
        ],
    );
    // Highlighted pixels: mostly the highlight's red-orange, whatever the fusion shows beneath.
    let axial = harness.get_by_label("axial view").rect();
    let highlighted = |harness: &mut Harness<'static, WarpbenchApp>| {
        let [r, g, b] = JOINT_BOX_COLOUR;
        rendered(harness, axial)
            .pixels()
            .filter(|p| {
                let [pr, pg, pb, _] = p.0;
                pr.abs_diff(r) < 70 && pg.abs_diff(g) < 70 && pb.abs_diff(b) < 70
            })
            .count()
    };
    let before = highlighted(&mut harness);

    drag(&mut harness, centre(b), centre(a));
    harness.run_steps(2);
    let picked = BinBox::between(&h, a, b);
    assert_eq!(
        harness.state().viewers.display.joint_box,
        Some(picked.clone())
    );
    let count = picked.count(&h);
    assert!(count >= h.counts[fullest[1] * h.bins + fullest[0]] && count > 0);
    assert!(
        harness
            .query_by_label_contains(&format!("{count} voxels sampled ("))
            .is_some()
    );
    let after = highlighted(&mut harness);
    assert!(
        after > before + 200,
        "{before} -> {after} highlighted pixels"
    );
    assert!(
        harness
            .query_by_label_contains("highlighted: the values picked")
            .is_some()
    );
    harness.snapshot("joint_histogram_picked");

    // "go to the nearest" takes the crosshair from a corner to a voxel whose pair is in the box.
    let corner = harness
        .state()
        .doc
        .case
        .fixed
        .grid()
        .voxel_to_world([0.0; 3]);
    harness.state_mut().viewers.cursor_mm = corner;
    harness.run_steps(2);
    harness.get_by_label("go to the nearest").click();
    harness.run_steps(2);
    let to = harness.state().viewers.cursor_mm;
    assert_ne!(to, corner);
    let case = &harness.state().doc.case;
    let value = |image: &warpbench::volume::ScalarVolume| {
        warpbench::volume::resample::sample_world(image, to).unwrap() as f64
    };
    assert!(
        picked.contains(value(&case.fixed), value(&case.moving)),
        "{to:?}"
    );

    // Counting one label keeps the pick, and the highlight to that label's places.
    let everywhere = highlighted(&mut harness);
    harness.get_by_label("voxels counted").click();
    harness.run_steps(2);
    harness.get_by_label("inside 3 left white matter").click();
    harness.run_steps(2);
    joint_nmi(&mut harness);
    assert_eq!(
        harness.state().viewers.display.joint_box,
        Some(picked.clone())
    );
    let in_label = highlighted(&mut harness);
    assert!(in_label < everywhere, "{everywhere} -> {in_label}");
    assert!(
        harness
            .query_by_label_contains("joint histogram (Images tab), inside 3 left white matter")
            .is_some()
    );

    // A click picks one bin; a click on it again clears it, as does a right click or the button.
    click_at(&mut harness, centre(fullest));
    assert_eq!(
        harness.state().viewers.display.joint_box,
        Some(BinBox::between(&h, fullest, fullest))
    );
    click_at(&mut harness, centre(fullest));
    assert_eq!(harness.state().viewers.display.joint_box, None);
    click_at(&mut harness, centre(fullest));
    harness
        .get_by_role_and_label(egui::accesskit::Role::Image, "joint histogram")
        .click_secondary();
    harness.run_steps(2);
    assert_eq!(harness.state().viewers.display.joint_box, None);
    drag(&mut harness, centre(a), centre(b));
    harness.get_by_label("clear picked bins").click();
    harness.run_steps(2);
    assert_eq!(harness.state().viewers.display.joint_box, None);
    assert_eq!(highlighted(&mut harness), before);
}

#[test]
fn the_measuring_tool_draws_a_ruler_moves_an_end_and_clears_without_moving_the_crosshair() {
    use warpbench::app::views::slice::Plane;
    use warpbench::app::views::viewer::Tool;
    let (mut harness, _dir) = harness();
    harness.run_steps(2);
    harness.get_by_label("measure").click();
    harness.run_steps(2);
    assert_eq!(harness.state().viewers.tool, Tool::Measure);
    let cursor = harness.state().viewers.cursor_mm;
    let axial = harness.get_by_label("axial view").rect();
    let (from, to) = (
        axial.center() - egui::vec2(60.0, 0.0),
        axial.center() + egui::vec2(40.0, 0.0),
    );
    drag(&mut harness, from, to);
    let ruler = |harness: &Harness<'static, WarpbenchApp>| {
        harness.state().viewers.rulers[Plane::Axial.index()]
    };
    let drawn = ruler(&harness).expect("a ruler in the axial view");
    let [a, b] = drawn.ends_mm;
    // A level drag in the axial view spans R–L only, on the crosshair's slice, and ends under
    // the pointer.
    assert!((a[1] - b[1]).abs() < 1e-9 && a[2] == cursor[2] && b[2] == cursor[2]);
    assert!((drawn.length_mm() - (a[0] - b[0]).abs()).abs() < 1e-9);
    assert!(drawn.length_mm() > 10.0, "{drawn:?}");
    let (_, under_pointer) = harness.state().viewers.hover.unwrap();
    assert!((0..3).all(|k| (under_pointer[k] - b[k]).abs() < 1e-6));
    assert_eq!(harness.state().viewers.cursor_mm, cursor);
    harness.snapshot("ruler");

    // Dragging an end moves that end alone.
    drag(&mut harness, to, to + egui::vec2(0.0, 30.0));
    let moved = ruler(&harness).unwrap();
    assert_eq!(moved.ends_mm[0], a);
    assert!(
        moved.ends_mm[1][1] < b[1] - 5.0,
        "down the screen is posterior"
    );
    assert!(moved.length_mm() > drawn.length_mm());

    // A click clears the view's ruler; Esc leaves the tool.
    click_at(&mut harness, axial.center() + egui::vec2(0.0, -50.0));
    assert!(ruler(&harness).is_none());
    assert_eq!(harness.state().viewers.cursor_mm, cursor);
    harness.key_press(egui::Key::Escape);
    harness.run_steps(2);
    assert_eq!(harness.state().viewers.tool, Tool::Navigate);
}

#[test]
fn a_landmark_start_is_ticked_keeps_its_preset_and_runs_as_a_command() {
    use warpbench::register::affine::Initialisation;
    use warpbench::register::config::RegistrationConfig;
    let (mut harness, dir) = harness();
    harness.run_steps(3);
    let grid = harness.state().doc.case.fixed.grid().clone();
    let fast = RegistrationConfig::preset("fast").unwrap().fitted_to(&grid);
    harness.state_mut().registration.set_config(fast.clone());
    harness.run_steps(2);
    let start = |harness: &Harness<'static, WarpbenchApp>| {
        harness
            .state()
            .registration
            .config
            .affine
            .as_ref()
            .unwrap()
            .initialisation
    };
    let own = start(&harness);
    let pairs = harness.state().doc.counted_pairs();
    assert!(pairs >= 3);
    harness
        .get_by_label(&format!("start from the landmarks ({pairs} pairs)"))
        .click();
    harness.run_steps(2);
    assert_eq!(start(&harness), Initialisation::Landmarks);
    assert_eq!(harness.state().registration.preset, "fast");

    let line = command_from_panel(&mut harness);
    assert!(
        line.contains(" --preset fast ") && line.ends_with(" --landmark-start"),
        "{line}"
    );
    let cwd = dir.path().join("terminal");
    run_in_terminal(&line, &cwd);
    let ran = RegistrationConfig::read(&cwd.join("warpbench-register/config.toml")).unwrap();
    assert_eq!(ran, fast.clone().with_landmark_start());

    // Unticked, the preset's own start comes back.
    harness
        .get_by_label(&format!("start from the landmarks ({pairs} pairs)"))
        .click();
    harness.run_steps(2);
    assert_eq!(start(&harness), own);
    assert_eq!(harness.state().registration.config, fast);
}

#[test]
fn aligning_by_the_landmarks_shows_their_rigid_or_affine_fit_with_its_errors() {
    use warpbench::register::landmark_fit::{FitModel, fit_landmarks, landmark_pairs};
    let (mut harness, dir) = harness();
    harness.run_steps(2);
    harness.get_by_label("Landmarks").click();
    harness.run_steps(2);
    let sets = harness.state().doc.included_landmarks().unwrap();
    let expected = fit_landmarks(
        &landmark_pairs(Some((&sets.0, &sets.1))).unwrap(),
        FitModel::Rigid,
    )
    .unwrap();
    harness.get_by_label("align by the landmarks").click();
    step_until(&mut harness, Duration::from_secs(60), "the fit", |app| {
        app.doc.deformation.is_some()
    });
    harness.run_steps(2);
    let app = harness.state();
    let shown = app.doc.deformation.as_ref().unwrap();
    assert!(shown.affine.max_abs_diff(&expected.affine) < 1e-9);
    assert!(app.viewers.display.warped);
    // "now" reads each pair's fit error.
    let tre = app.doc.tre.as_ref().unwrap();
    let mean = expected.residuals_mm.iter().sum::<f64>() / expected.residuals_mm.len() as f64;
    assert!(
        (tre.after.mean - mean).abs() < 1e-3,
        "{} vs {mean}",
        tre.after.mean
    );
    assert!(tre.after.mean < tre.before.mean);
    // A rigid map neither folds nor changes volume.
    assert_eq!(shown.stats.folded_voxels, 0);
    assert!((shown.stats.min - 1.0).abs() < 1e-3 && (shown.stats.max - 1.0).abs() < 1e-3);
    let rms = |e: &[f64]| (e.iter().map(|v| v * v).sum::<f64>() / e.len() as f64).sqrt();
    let rigid_rms = rms(&expected.residuals_mm);
    let (rigid_affine, rigid_mean) = (expected.affine, mean);

    // An affine fit has more freedom: it fits the pairs at least as well.
    harness.get_by_label("affine").click();
    harness.run_steps(1);
    let generation = harness.state().doc.generation;
    harness.get_by_label("align by the landmarks").click();
    step_until(
        &mut harness,
        Duration::from_secs(60),
        "the affine fit",
        |app| app.doc.generation > generation,
    );
    let expected = fit_landmarks(
        &landmark_pairs(Some((&sets.0, &sets.1))).unwrap(),
        FitModel::Affine,
    )
    .unwrap();
    let app = harness.state();
    let shown = app.doc.deformation.as_ref().unwrap();
    assert!(shown.affine.max_abs_diff(&expected.affine) < 1e-9);
    let affine_mean =
        expected.residuals_mm.iter().sum::<f64>() / expected.residuals_mm.len() as f64;
    assert!((app.doc.tre.as_ref().unwrap().after.mean - affine_mean).abs() < 1e-3);
    let affine_rms = rms(&expected.residuals_mm);
    assert!(affine_rms <= rigid_rms + 1e-9, "{affine_rms} > {rigid_rms}");

    // Both fits are kept: the Metrics tab lists them, and a click shows the rigid one again.
    harness.get_by_label("Metrics").click();
    harness.run_steps(2);
    assert!(harness.query_by_label("2 landmarks, affine fit").is_some());
    harness.get_by_label("1 landmarks, rigid fit").click();
    harness.run_steps(2);
    let app = harness.state();
    assert_eq!(app.doc.results.shown, Some(1));
    let shown = app.doc.deformation.as_ref().unwrap();
    assert!(shown.affine.max_abs_diff(&rigid_affine) < 1e-9);
    let tre = app.doc.tre.as_ref().unwrap().after.mean;
    assert!((tre - rigid_mean).abs() < 1e-3, "{tre} vs {rigid_mean}");
    // A fit has no settings to take; a run kept with its weights gives them to the panel.
    result_menu(&mut harness, "1 landmarks, rigid fit");
    assert!(harness.query_by_label("remove from the table").is_some());
    assert!(harness.query_by_label("use its settings").is_none());
    result_menu(&mut harness, "1 landmarks, rigid fit");
    assert!(harness.query_by_label("remove from the table").is_none());
    let app = harness.state_mut();
    let mut config = app.registration.config.clone();
    let diffusion = warpbench::register::deformable::Regulariser::Diffusion;
    *diffusion.weight_mut(config.deformable.as_mut().unwrap()) = 0.77;
    app.doc
        .start_run(&warpbench::session::Method::Iterative(Box::new(
            config.clone(),
        )));
    let grid = app.doc.case.fixed.grid().clone();
    let field = warpbench::register::deformable::affine_displacement(&rigid_affine, &grid);
    app.doc
        .set_deformation(warpbench::app::state::Deformation::new(rigid_affine, field));
    app.doc.apply(
        warpbench::session::Event::Finished {
            seconds: 1.0,
            stage_seconds: Default::default(),
        },
        || None,
    );
    harness.run_steps(2);
    assert!(harness.query_by_label("3 custom, λ 0.77").is_some());
    // Its hover says what it changed from the nearest preset.
    harness.get_by_label("3 custom, λ 0.77").hover();
    harness.run_steps(60); // a tooltip waits half a second
    assert!(
        harness
            .query_by_label_contains("changed: deformable.diffusion = 0.77 (")
            .is_some()
    );
    harness.event(egui::Event::PointerMoved(egui::pos2(1100.0, 950.0)));
    harness.run_steps(2);
    // Exporting writes the configuration that made the result shown, not the panel's now.
    let app = harness.state_mut();
    *diffusion.weight_mut(app.registration.config.deformable.as_mut().unwrap()) = 0.33;
    app.session_form.open = true;
    harness.run_steps(2);
    let out = dir.path().join("results");
    export_results(&mut harness, &out);
    let exported = warpbench::register::config::RegistrationConfig::read(&out.join("config.toml"));
    assert_eq!(exported.unwrap(), config);
    let app = harness.state_mut();
    app.session_form.open = false;
    app.notice = None;
    harness.run_steps(2);
    result_menu(&mut harness, "3 custom, λ 0.77");
    harness.get_by_label("use its settings").click();
    harness.run_steps(2);
    assert_eq!(harness.state().registration.config, config);
    assert_eq!(harness.state().registration.preset, "custom");
    // The fits' full scores (started when each was shown) give their Dice.
    step_until(
        &mut harness,
        Duration::from_secs(120),
        "the fits' scores",
        |app| app.background_jobs == 0,
    );
    let kept = &harness.state().doc.results.kept;
    assert!(kept[..2].iter().all(|r| r.dice.is_some()));
    // The per-label table compares the shown result's Dice with the affine stage's, or with
    // another result's.
    harness.get_by_label("2 landmarks, affine fit").click();
    harness.run_steps(2);
    assert!(harness.query_by_label("affine").is_some());
    assert!(harness.query_by_label("compare with").is_some());
    let rigid_dice = harness.state().doc.results.get(1).unwrap().dice.unwrap();
    harness.state_mut().metrics.beside = Some(1);
    harness.run_steps(2);
    assert!(harness.query_by_label("#1").is_some());
    let mean_line = format!("(result 1: {rigid_dice:.4})");
    assert!(harness.query_by_label_contains(&mean_line).is_some());
    harness.get_by_label("3 custom, λ 0.77").click();
    harness.run_steps(2);
    assert_eq!(harness.state().doc.results.shown, Some(3));
    // The table sorts by a column's header, and turns around on a second click.
    let rows_top_down = |harness: &Harness<'static, WarpbenchApp>| {
        let mut rows: Vec<(f32, usize)> = (harness.state().doc.results.kept.iter())
            .map(|r| {
                let label = format!("{} {}", r.number, r.name);
                (harness.get_by_label(&label).rect().top(), r.number)
            })
            .collect();
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        rows.into_iter().map(|r| r.1).collect::<Vec<_>>()
    };
    harness.run_steps(2);
    assert_eq!(rows_top_down(&harness), [1, 2, 3]);
    harness.get_by_label("result").click();
    harness.run_steps(2);
    assert_eq!(rows_top_down(&harness), [3, 2, 1]);
    harness.get_by_label("TRE mm").click();
    harness.run_steps(2);
    let mut by_tre: Vec<(f64, usize)> = (harness.state().doc.results.kept.iter())
        .map(|r| (r.tre_mm.unwrap(), r.number))
        .collect();
    by_tre.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(
        rows_top_down(&harness),
        by_tre.iter().map(|r| r.1).collect::<Vec<_>>()
    );
    // The table exports in the order the results were made, whatever its order on screen.
    let table = dir.path().join("results.csv");
    type_into(&mut harness, "table file", &table.display().to_string());
    harness.run_steps(2);
    harness.get_by_label("export table").click();
    harness.run_steps(2);
    let text = std::fs::read_to_string(&table).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert!(
        rows.len() == 3
            && rows[0].starts_with("1,\"landmarks, rigid fit\",landmarks,,")
            && rows[1].starts_with("2,")
            && rows[2].starts_with("3,\"custom, λ 0.77\",run,0.77,"),
        "{text}"
    );
    // Exporting again asks before replacing the file: "keep" keeps it.
    std::fs::write(&table, "the user's own").unwrap();
    for answer in ["keep", "replace"] {
        harness.state_mut().notice = None;
        harness.get_by_label("export table").click();
        harness.run_steps(2);
        harness.get_by_label(answer).click();
        harness.run_steps(2);
    }
    let replaced = std::fs::read_to_string(&table).unwrap();
    assert_eq!(replaced, text, "kept once, then replaced");
    let notice = harness.state_mut().notice.take().unwrap();
    assert!(!notice.error && notice.text.starts_with("results table written to"));
    // The snapshot shows a name that stays the same from run to run, not the temporary folder.
    harness.state_mut().metrics.results.export.file.text = "results.csv".into();
    // Nor a tooltip, whose delay runs on the clock: the pointer rests on empty panel.
    harness.event(egui::Event::PointerMoved(egui::pos2(1100.0, 950.0)));
    harness.run_steps(2);
    harness.snapshot("results_table");
    // A result leaves the table from its row's menu; the shown one stays.
    result_menu(&mut harness, "3 custom, λ 0.77");
    harness.get_by_label("remove from the table").click();
    harness.run_steps(2);
    assert_eq!(harness.state().doc.results.kept.len(), 3);
    result_menu(&mut harness, "3 custom, λ 0.77");
    result_menu(&mut harness, "1 landmarks, rigid fit");
    harness.get_by_label("remove from the table").click();
    harness.run_steps(2);
    let numbers: Vec<usize> = (harness.state().doc.results.kept.iter())
        .map(|r| r.number)
        .collect();
    assert_eq!(numbers, [2, 3]);
    assert!(harness.query_by_label("1 landmarks, rigid fit").is_none());
}

#[test]
fn the_images_choose_the_preset_and_say_why_until_the_user_picks_one() {
    use warpbench::app::loader::Source;
    use warpbench::case::CaseFiles;
    use warpbench::volume::nifti_io::write_scalar;
    use warpbench::volume::{Grid, ScalarVolume};
    let (mut harness, dir) = harness();
    harness.run_steps(3);
    assert_eq!(harness.state().registration.preset, "ct-mr");
    assert!(
        harness
            .query_by_label_contains("Chosen because the built-in demo pairs a T1")
            .is_some()
    );
    // A CT in Hounsfield units (air around a water cylinder) and an MR named for its contrast.
    let grid = Grid::axis_aligned([24, 24, 24], [1.5; 3], [-18.0; 3]).unwrap();
    let values = |inside: f32, outside: f32| {
        let data = (0..grid.voxel_count())
            .map(|n| {
                let (i, j) = ((n % 24) as f32 - 11.5, ((n / 24) % 24) as f32 - 11.5);
                if i * i + j * j < 64.0 {
                    inside
                } else {
                    outside
                }
            })
            .collect();
        ScalarVolume::new(grid.clone(), data).unwrap()
    };
    let (ct, mr) = (
        dir.path().join("scan.nii.gz"),
        dir.path().join("head_t2.nii.gz"),
    );
    write_scalar(&ct, &values(20.0, -1000.0)).unwrap();
    write_scalar(&mr, &values(800.0, 0.0)).unwrap();
    let files = CaseFiles {
        fixed: Some(mr.clone()),
        moving: Some(ct.clone()),
        ..Default::default()
    };
    let open = |harness: &mut Harness<'static, WarpbenchApp>, files: &CaseFiles| {
        let ctx = harness.ctx.clone();
        harness.state_mut().open(Source::Case(files.clone()), &ctx);
        let fixed = files.fixed.clone();
        step_until(harness, Duration::from_secs(60), "the case", move |app| {
            app.doc.case.files.fixed == fixed
        });
        harness.run_steps(2);
    };
    open(&mut harness, &files);
    assert_eq!(harness.state().registration.preset, "ct-mr");
    let reason = "Chosen because the fixed image is MR T2 (by its file name), the moving CT (its \
                  values are Hounsfield units).";
    assert!(harness.query_by_label(reason).is_some(), "{reason}");

    // Picked by the user, a preset stays with the next case, and no reason is given.
    harness
        .get_by_role_and_label(egui::accesskit::Role::ComboBox, "preset")
        .click();
    harness.run_steps(2);
    harness.get_by_label("fast").click();
    harness.run_steps(2);
    assert_eq!(harness.state().registration.preset, "fast");
    assert!(harness.query_by_label_contains("Chosen because").is_none());
    let swapped = CaseFiles {
        fixed: Some(ct),
        moving: Some(mr),
        ..Default::default()
    };
    open(&mut harness, &swapped);
    assert_eq!(harness.state().registration.preset, "fast");
    assert!(harness.query_by_label_contains("Chosen because").is_none());
}
