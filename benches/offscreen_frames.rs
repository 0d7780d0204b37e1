//! Frame times of the window drawn off screen (egui_kittest on the shared wgpu device) with the
//! brain pair loaded: idle, then while a registration runs.
//!
//! `benches/frame_times.py` times the real window, which needs a display; this needs none, so it
//! runs where no X server can present on the GPU (a lent GPU machine) and, here, away from the X
//! server's present bursts (see the README). Each frame is one egui pass, its paint callbacks, a
//! render into a texture and a read-back of the image, the read-back waiting for the queue the
//! registration shares: a frame is timed to the moment its pixels exist.
//!
//! usage: cargo bench --bench offscreen_frames -- [--idle-s 15] [--run-s 60] [--preset brain-mri]
//!        [--csv FILE]   (the data folder: `WARPBENCH_DATA`, else `../shared/data`)

mod common;

use anyhow::{Context, bail};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::sync::Arc;
use std::time::Instant;
use warpbench::app::WarpbenchApp;
use warpbench::cli::OpenArgs;

/// The first frames upload every texture and fill the caches: not what a frame costs.
const WARM_UP_FRAMES: usize = 10;

struct Options {
    idle_s: f64,
    run_s: f64,
    preset: String,
    csv: Option<std::path::PathBuf>,
}

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        idle_s: 15.0,
        run_s: 60.0,
        preset: "brain-mri".into(),
        csv: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        // `cargo bench` passes `--bench` to every bench binary.
        if flag == "--bench" {
            continue;
        }
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--idle-s" => o.idle_s = value.parse().context("--idle-s")?,
            "--run-s" => o.run_s = value.parse().context("--run-s")?,
            "--preset" => o.preset = value,
            "--csv" => o.csv = Some(value.into()),
            _ => bail!("unknown option {flag} (--idle-s, --run-s, --preset, --csv)"),
        }
    }
    Ok(o)
}

/// One frame: its egui pass (what the window's thread does, and kittest's AccessKit update) and
/// its render (tessellation, upload, drawing, the read-back that waits for the queue), in ms;
/// whether a run was on, and the newest snapshot the views showed.
struct Frame {
    pass_ms: f64,
    render_ms: f64,
    registering: bool,
    generation: u64,
}

fn frame(harness: &mut Harness<'static, WarpbenchApp>) -> anyhow::Result<Frame> {
    let t0 = Instant::now();
    harness.step();
    let t1 = Instant::now();
    harness
        .render()
        .map_err(|e| anyhow::anyhow!("render: {e}"))?;
    let app = harness.state();
    Ok(Frame {
        pass_ms: (t1 - t0).as_secs_f64() * 1e3,
        render_ms: t1.elapsed().as_secs_f64() * 1e3,
        registering: app.doc.run.is_running(),
        generation: app.viewers.newest_shown(),
    })
}

fn at(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn print_row(name: &str, frames: &[&Frame]) {
    let frames = &frames[WARM_UP_FRAMES.min(frames.len())..];
    if frames.is_empty() {
        println!("| {name} | 0 | | | | | |");
        return;
    }
    let sorted = |f: fn(&Frame) -> f64| {
        let mut v: Vec<f64> = frames.iter().map(|r| f(r)).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let total = sorted(|f| f.pass_ms + f.render_ms);
    let pass = sorted(|f| f.pass_ms);
    let render = sorted(|f| f.render_ms);
    println!(
        "| {name} | {} | {:.1} | {:.1} | {:.1} | {:.1} / {:.1} | {:.1} / {:.1} |",
        total.len(),
        common::median(total.clone()),
        at(&total, 0.95),
        total[total.len() - 1],
        at(&pass, 0.5),
        at(&pass, 0.95),
        at(&render, 0.5),
        at(&render, 0.95),
    );
}

fn main() -> anyhow::Result<()> {
    let o = options()?;
    let pair = common::data_dir().join("brain-pair");
    let state = tempfile::tempdir()?;
    let args = OpenArgs {
        fixed: Some(pair.join("subjA_t1.nii.gz")),
        moving: Some(pair.join("subjB_t1.nii.gz")),
        fixed_labels: Some(pair.join("subjA_aseg.nii.gz")),
        moving_labels: Some(pair.join("subjB_aseg.nii.gz")),
        preset: Some(o.preset.clone()),
        state_dir: Some(state.path().to_path_buf()),
        ..Default::default()
    };
    let case = args.case_files().load(&Default::default(), |_, _| {})?;
    let mut setup = egui_kittest::wgpu::default_wgpu_setup();
    if let egui_wgpu::WgpuSetup::CreateNew(create) = &mut setup {
        create.device_descriptor = Arc::new(warpbench::gpu::context::device_descriptor);
    }
    // The window's renderer options (see `app::run`), not the predictable ones of snapshot tests,
    // whose texture filtering runs in the fragment shader.
    let renderer = egui_kittest::wgpu::WgpuTestRenderer::from_render_state(
        egui_kittest::wgpu::create_render_state(
            setup,
            egui_wgpu::RendererOptions {
                dithering: false,
                ..Default::default()
            },
        ),
    );
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .renderer(renderer)
        .build_eframe(move |cc| WarpbenchApp::create(cc, case, &args));
    let adapter = harness
        .state()
        .gpu()
        .map(|g| g.adapter.get_info())
        .context("the harness has no wgpu device")?;
    println!(
        "{} ({:?}, {:?}), 1400 x 900, preset {}",
        adapter.name, adapter.backend, adapter.device_type, o.preset
    );

    let mut frames = Vec::new();
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < o.idle_s {
        frames.push(frame(&mut harness)?);
    }
    harness.get_by_label("Run").click();
    frames.push(frame(&mut harness)?);
    let start = Instant::now();
    while harness.state().doc.run.is_running() && start.elapsed().as_secs_f64() < o.run_s {
        frames.push(frame(&mut harness)?);
    }
    let ran_s = start.elapsed().as_secs_f64();
    let reached = harness.state().doc.progress.as_ref().map(|p| {
        format!(
            "{} level {}/{} iteration {}/{}",
            p.stage.name(),
            p.level + 1,
            p.levels,
            p.iteration,
            p.iterations
        )
    });
    let status = format!("{:?}", harness.state().doc.run);
    // Cancels the run and waits for it, as closing the window does.
    eframe::App::on_exit(harness.state_mut());
    drop(harness);

    if let Some(path) = &o.csv {
        let mut text = String::from("pass_ms,render_ms,registering,generation\n");
        for f in &frames {
            text += &format!(
                "{:.3},{:.3},{},{}\n",
                f.pass_ms, f.render_ms, f.registering as u8, f.generation
            );
        }
        std::fs::write(path, text).with_context(|| format!("{}", path.display()))?;
    }
    println!(
        "| state | frames | p50 ms | p95 ms | max ms | pass p50 / p95 ms | render p50 / p95 ms |"
    );
    println!("|---|---|---|---|---|---|---|");
    let idle: Vec<&Frame> = frames.iter().filter(|f| !f.registering).collect();
    let registering: Vec<&Frame> = frames.iter().filter(|f| f.registering).collect();
    print_row("idle", &idle);
    print_row("registering", &registering);
    let snapshots = registering
        .windows(2)
        .filter(|w| w[0].generation != w[1].generation)
        .count();
    println!(
        "registering {ran_s:.0} s: {snapshots} new snapshots shown; reached {}; run {status}",
        reached.as_deref().unwrap_or("no iteration"),
    );
    Ok(())
}
