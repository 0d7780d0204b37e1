//! `warpbench infer`: registers a pair with a trained network and writes the files `register`
//! writes (warped image and labels, displacement, affine, config, metrics.json).

use super::eval::{Outcome, ScoringFiles, score_outcome, summary_line};
use crate::gpu::GpuContext;
use crate::learn::infer::TrainedModel;
use crate::register::outputs::{Results, write_results};
use crate::volume::nifti_io::read_scalar;
use crate::volume::warp::{warp_labels, warp_scalar};
use anyhow::Context;
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct InferArgs {
    /// A model folder written by `warpbench train`.
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long)]
    pub fixed: PathBuf,
    #[arg(long)]
    pub moving: PathBuf,
    #[command(flatten)]
    pub scoring: ScoringFiles,
    /// Output folder (created; existing outputs in it are replaced, each atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// Instance-optimisation steps after the network (0: none); the model's config otherwise.
    #[arg(long)]
    pub refine: Option<u32>,
}

#[derive(Serialize)]
struct Metrics<'a> {
    #[serde(flatten)]
    result: &'a crate::eval::EvalReport,
    #[serde(flatten)]
    affine: crate::eval::AffineStageScores,
    /// Aligning both volumes to the model's atlas (the engine's affine stage), seconds.
    alignment_seconds: f64,
    /// The network (and its refinement) and carrying its map to the fixed grid, seconds.
    network_seconds: f64,
    refinement_steps: u32,
    device: String,
}

pub fn run(args: &InferArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create the output folder", args.out.display()))?;
    let ctx = GpuContext::new()?;
    let device = ctx.describe();
    eprintln!("{device}");
    let mut model = TrainedModel::load(&ctx, &args.model)?;
    if let Some(steps) = args.refine {
        model.set_refinement_steps(steps);
    }
    let fixed_image = read_scalar(&args.fixed)?;
    let moving_image = read_scalar(&args.moving)?;
    let scoring = args
        .scoring
        .load(fixed_image.grid(), Some(moving_image.grid()))?;
    let aligning = Instant::now();
    let fixed = model.subject(&ctx, "fixed", fixed_image.clone(), None)?;
    let moving = model.subject(&ctx, "moving", moving_image.clone(), None)?;
    let alignment_seconds = aligning.elapsed().as_secs_f64();
    let running = Instant::now();
    let inference = model.infer(&fixed, &moving)?;
    let network_seconds = running.elapsed().as_secs_f64();

    let warped = warp_scalar(&moving_image, &inference.field, f32::NAN);
    let warped_labels = scoring
        .moving_labels
        .as_ref()
        .map(|m| warp_labels(m, &inference.field));
    write_results(
        &args.out,
        &Results {
            warped: &warped,
            warped_labels: warped_labels.as_ref(),
            field: &inference.field,
            affine: &inference.affine,
            config_toml: &model.config().to_toml(),
        },
    )?;
    let (result, affine_only) = score_outcome(
        &scoring,
        (&fixed_image, &moving_image),
        &Outcome {
            field: &inference.field,
            warped: &warped,
            warped_labels: warped_labels.as_ref(),
            affine: &inference.affine,
        },
        false,
    )?;
    let metrics = Metrics {
        result: &result,
        affine: crate::eval::AffineStageScores::of(&affine_only),
        alignment_seconds,
        network_seconds,
        refinement_steps: model.config().refinement.steps,
        device,
    };
    crate::atomic::write_bytes(
        &args.out.join("metrics.json"),
        serde_json::to_string_pretty(&metrics)?.as_bytes(),
    )?;
    println!(
        "aligned in {alignment_seconds:.1} s, network {network_seconds:.2} s · {}",
        summary_line(&result)
    );
    if let Some(d) = affine_only.dice_mean {
        println!("affine alignment alone: Dice {d:.4}");
    }
    println!("wrote {}", args.out.display());
    Ok(())
}
