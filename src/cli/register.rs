//! `warpbench register`: a whole registration on the GPU from the terminal, with a progress bar,
//! writing the warped image and labels, the displacement field, the affine, the configuration that
//! ran and the scores into one folder.

use super::eval::{Outcome, ScoringFiles, score_outcome, summary_line};
use super::run_options::RunOptions;
use crate::eval::{AffineStageScores, EvalReport};
use crate::gpu::GpuContext;
use crate::register::StepReport;
use crate::register::outputs::{Results, write_results};
use crate::register::pipeline::{Guides, Registration};
use crate::volume::nifti_io::read_scalar;
use crate::volume::warp::{warp_labels, warp_scalar};
use anyhow::Context;
use clap::Args;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct RegisterArgs {
    /// Fixed image: the output grid.
    #[arg(long)]
    pub fixed: PathBuf,
    /// Moving image: warped onto the fixed grid.
    #[arg(long)]
    pub moving: PathBuf,
    #[command(flatten)]
    pub scoring: ScoringFiles,
    #[command(flatten)]
    pub run: RunOptions,
    /// Supervise the deformable stage with the label maps: the weight of its term 1 − soft Dice
    /// (replaces the configuration's deformable.label_weight). Dice in metrics.json then scores
    /// labels the registration has seen.
    #[arg(long)]
    pub label_weight: Option<f64>,
    /// Skip HD95 and ASSD in metrics.json (the slowest scores).
    #[arg(long)]
    pub no_surface: bool,
    /// Output folder (created; existing outputs in it are replaced, each atomically).
    #[arg(long)]
    pub out: PathBuf,
}

/// What `metrics.json` holds: the scores of the result, the affine stage's alone, and timings.
#[derive(Serialize)]
struct Metrics<'a> {
    #[serde(flatten)]
    result: &'a EvalReport,
    #[serde(flatten)]
    affine: AffineStageScores,
    /// Wall time of the registration: setting up (normalising the images, compiling the kernels)
    /// and the stages, not loading or writing; seconds.
    seconds: f64,
    /// Wall time of each stage, seconds.
    stage_seconds: BTreeMap<&'a str, f64>,
    /// Loading, opening the GPU device, warping, writing and scoring, seconds.
    io_seconds: f64,
    device: String,
}

pub fn run(args: &RegisterArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let fixed = read_scalar(&args.fixed)?;
    let moving = read_scalar(&args.moving)?;
    let mut config = args
        .run
        .apply((&fixed, &args.fixed), (&moving, &args.moving))?;
    if let Some(weight) = args.label_weight {
        anyhow::ensure!(
            args.scoring.fixed_labels.is_some() && args.scoring.moving_labels.is_some(),
            "--label-weight needs --fixed-labels and --moving-labels"
        );
        match &mut config.deformable {
            Some(d) => d.label_weight = weight,
            None => anyhow::bail!("--label-weight: the configuration has no deformable stage"),
        }
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create the output folder", args.out.display()))?;
    let config = args.run.fit(config, fixed.grid());
    let scoring = args.scoring.load(fixed.grid(), Some(moving.grid()))?;
    let ctx = GpuContext::new()?;
    let device = ctx.describe();
    eprintln!("{device}");
    let io_before = started.elapsed().as_secs_f64();

    let registered = Instant::now();
    let mut registration = Registration::with_guides(
        &ctx,
        (fixed.clone(), moving.clone()),
        Guides {
            labels: scoring
                .fixed_labels
                .as_deref()
                .zip(scoring.moving_labels.as_deref()),
            landmarks: scoring.landmarks.as_ref().map(|(f, m)| (f, m)),
        },
        config,
    )?;
    let bar = indicatif::ProgressBar::new(registration.total_iterations());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    while !registration.is_done() {
        let report = registration.step()?;
        bar.inc(1);
        if report.losses.is_some() {
            bar.set_message(describe(&report));
        }
    }
    bar.finish();
    let seconds = registered.elapsed().as_secs_f64();

    let writing = Instant::now();
    let field = registration.displacement()?;
    // One warp serves the scores (NaN marks samples outside the moving image, which they leave
    // out) and the written image (0 there).
    let warped = warp_scalar(&moving, &field, f32::NAN);
    let warped_labels = scoring
        .moving_labels
        .as_ref()
        .map(|m| warp_labels(m, &field));
    write_results(
        &args.out,
        &Results {
            warped: &warped,
            warped_labels: warped_labels.as_ref(),
            field: &field,
            affine: &registration.affine(),
            config_toml: &registration.config().to_toml(),
        },
    )?;
    let (result, affine_only) = score_outcome(
        &scoring,
        (&fixed, &moving),
        &Outcome {
            field: &field,
            warped: &warped,
            warped_labels: warped_labels.as_ref(),
            affine: &registration.affine(),
        },
        !args.no_surface,
    )?;
    let metrics = Metrics {
        result: &result,
        affine: AffineStageScores::of(&affine_only),
        seconds,
        stage_seconds: registration.stage_seconds().clone(),
        io_seconds: io_before + writing.elapsed().as_secs_f64(),
        device,
    };
    crate::atomic::write_bytes(
        &args.out.join("metrics.json"),
        serde_json::to_string_pretty(&metrics)?.as_bytes(),
    )?;
    println!(
        "registered in {seconds:.1} s ({}) · {}",
        registration
            .stage_seconds()
            .iter()
            .map(|(k, v)| format!("{k} {v:.1} s"))
            .collect::<Vec<_>>()
            .join(", "),
        summary_line(&result)
    );
    if let Some(d) = affine_only.dice_mean {
        println!("affine stage alone: Dice {d:.4}");
    }
    println!("wrote {}", args.out.display());
    Ok(())
}

fn describe(r: &StepReport) -> String {
    let stage = r.stage.name();
    let terms: String = r
        .losses
        .iter()
        .flat_map(|l| l.terms())
        .map(|(name, value)| format!(" · {name} {value:.5}"))
        .collect();
    let labels = r
        .label_dice
        .map(|d| format!(" · label Dice {d:.3}"))
        .unwrap_or_default();
    format!(
        "{stage} level {}/{} it {}/{}{terms}{labels}",
        r.level + 1,
        r.levels,
        r.iteration,
        r.iterations
    )
}
