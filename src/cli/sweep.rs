//! `warpbench sweep`: the window's smoothness sweep from the terminal. The affine stage once, then
//! the deformable stage once per diffusion weight λ, each point scored; writes the points as
//! `sweep.csv` and `sweep.json` with the configuration that ran. It drives the same worker as the
//! window, listening to its events.

use super::eval::ScoringFiles;
use super::run_options::RunOptions;
use crate::gpu::GpuContext;
use crate::session::{Event, Method, SessionOptions, Sweep, SweepPoint, sweep_files};
use crate::volume::nifti_io::read_scalar;
use anyhow::Context;
use clap::Args;
use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct SweepArgs {
    /// Fixed image.
    #[arg(long)]
    pub fixed: PathBuf,
    /// Moving image.
    #[arg(long)]
    pub moving: PathBuf,
    #[command(flatten)]
    pub scoring: ScoringFiles,
    #[command(flatten)]
    pub run: RunOptions,
    /// The diffusion weights λ, in the order they run, apart by commas (e.g. 0.01,0.1,1); a
    /// tenth to ten times the configuration's λ by default.
    #[arg(long, value_delimiter = ',')]
    pub diffusion: Vec<f64>,
    /// Output folder (created; existing outputs in it are replaced, each atomically).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: &SweepArgs) -> anyhow::Result<()> {
    let fixed = read_scalar(&args.fixed)?;
    let moving = read_scalar(&args.moving)?;
    let config = args
        .run
        .apply((&fixed, &args.fixed), (&moving, &args.moving))?;
    let diffusion = match (&args.diffusion[..], &config.deformable) {
        ([], Some(d)) => Sweep::weights_around(d.diffusion),
        (weights, _) => weights.to_vec(),
    };
    let mut sweep = Sweep { config, diffusion };
    sweep
        .validate()
        .context("--diffusion or the configuration")?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create the output folder", args.out.display()))?;
    sweep.config = args.run.fit(sweep.config, fixed.grid());
    let scoring = args.scoring.load(fixed.grid(), Some(moving.grid()))?;
    let ctx = GpuContext::new()?;
    eprintln!("{}", ctx.describe());
    let options = SessionOptions {
        progress_interval: Duration::from_millis(500),
        // Nobody looks at live views here.
        snapshot_interval: Duration::MAX,
        ..Default::default()
    };
    let handle = crate::session::start_method(
        &ctx,
        (fixed.into(), moving.into()),
        Method::Sweep(Box::new(sweep.clone())),
        scoring,
        options,
        || {},
    )?;
    let bar = indicatif::ProgressBar::new_spinner();
    let mut points: Vec<SweepPoint> = Vec::new();
    let seconds = loop {
        let event = handle
            .events()
            .recv()
            .context("the sweep's worker stopped without a word")?;
        match event {
            Event::Progress { report, .. } => bar.set_message(format!(
                "λ {} ({}/{}) · {} level {}/{} · iteration {}/{}",
                sweep.diffusion[points.len().min(sweep.diffusion.len() - 1)],
                points.len() + 1,
                sweep.diffusion.len(),
                report.stage.name(),
                report.level + 1,
                report.levels,
                report.iteration,
                report.iterations
            )),
            Event::SweepPoint(point) => {
                bar.suspend(|| println!("{}", point_line(&point)));
                points.push(*point);
            }
            Event::Finished { seconds, .. } => break seconds,
            Event::Failed(e) => {
                bar.finish_and_clear();
                anyhow::bail!("the sweep failed: {e}");
            }
            Event::Cancelled => anyhow::bail!("the sweep was cancelled"),
            _ => {}
        }
        bar.tick();
    };
    bar.finish_and_clear();
    handle.join()?;
    write_points(&args.out, &sweep, &points)?;
    println!(
        "swept {} weights in {seconds:.1} s; wrote {}",
        points.len(),
        args.out.display()
    );
    Ok(())
}

/// One point's summary for the terminal.
fn point_line(p: &SweepPoint) -> String {
    let r = &p.report;
    let mut line = format!("λ {}:", p.diffusion);
    if let Some(d) = r.dice_mean {
        let _ = write!(line, " Dice {d:.4}");
    }
    if let Some(t) = r.tre_mean_mm {
        let _ = write!(line, " · TRE {t:.2} mm");
    }
    let _ = write!(
        line,
        " · folds {:.4} % · NDV {:.4} % · SDlogJ {:.4} · {:.1} s",
        100.0 * r.fold_fraction,
        100.0 * r.ndv_fraction.unwrap_or(f64::NAN),
        r.sdlogj,
        p.seconds
    );
    line
}

/// `sweep.csv`, `sweep.json` and `config.toml`, each written atomically.
fn write_points(out: &std::path::Path, sweep: &Sweep, points: &[SweepPoint]) -> anyhow::Result<()> {
    sweep_files::write(points, &out.join("sweep.csv"))?;
    sweep_files::write(points, &out.join("sweep.json"))?;
    crate::atomic::write_bytes(&out.join("config.toml"), sweep.config.to_toml().as_bytes())?;
    Ok(())
}
