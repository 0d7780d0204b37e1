//! `warpbench train`: trains a registration network from a dataset config, printing progress,
//! validating and checkpointing as configured, and ending with `metrics.json` in the output folder.

use crate::gpu::GpuContext;
use crate::learn::data::Dataset;
use crate::learn::model::run_config;
use crate::learn::train::{IterationRecord, Trainer};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The training configuration (TOML: data, model, training, augmentation).
    #[arg(long, required_unless_present = "resume")]
    pub config: Option<PathBuf>,
    /// Output folder: checkpoints, config.toml, training.json and metrics.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run saved in --out from its last checkpoint (its own config.toml).
    #[arg(long)]
    pub resume: bool,
    /// Replace the configuration's iteration count.
    #[arg(long)]
    pub iterations: Option<u32>,
}

pub fn run(args: &TrainArgs) -> anyhow::Result<()> {
    let mut config = run_config(&args.out, args.config.as_deref(), args.resume)?;
    if let Some(n) = args.iterations {
        anyhow::ensure!(n > 0, "--iterations must be at least 1");
        config.training.iterations = n;
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create the output folder", args.out.display()))?;
    let ctx = GpuContext::new()?;
    eprintln!("{}", ctx.describe());
    let data = Arc::new(Dataset::prepare(&ctx, &config, &mut |step| {
        eprintln!("{step}")
    })?);
    eprintln!("{}", data.summary(&config));
    let mut trainer = if args.resume {
        Trainer::resume(&ctx, config, &args.out, data)?
    } else {
        Trainer::new(&ctx, config, data)?
    };
    let bar = indicatif::ProgressBar::new(u64::from(trainer.config().training.iterations));
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_position(u64::from(trainer.iteration()));
    if let Some(v) = trainer.baseline()? {
        report_validation(&bar, &v);
    }
    while !trainer.is_done() {
        let advance = trainer.advance(&args.out)?;
        bar.set_position(u64::from(advance.record.iteration));
        bar.set_message(describe(&advance.record));
        if let Some(v) = &advance.validation {
            report_validation(&bar, v);
        }
    }
    bar.finish();
    let (validation, metrics) = trainer.finish(&args.out)?;
    if let Some(v) = &validation {
        report_validation(&bar, v);
    }
    println!(
        "validation Dice {:.4} (affine alone {:.4}) · folds {:.4} % · {:.2} s per iteration · wrote {}",
        metrics.val_dice,
        metrics.val_dice_affine,
        100.0 * metrics.fold_fraction,
        metrics.seconds_per_iter,
        args.out.display()
    );
    Ok(())
}

fn describe(r: &IterationRecord) -> String {
    let l = &r.losses;
    let mut text = format!(
        "loss {:.4} · similarity {:.4} · smoothness {:.4}",
        l.total, l.similarity, l.smoothness
    );
    if let Some(d) = l.dice {
        text.push_str(&format!(" · 1−Dice {d:.3}"));
    }
    text
}

fn report_validation(bar: &indicatif::ProgressBar, v: &crate::learn::train::Validation) {
    // Printed beside the bar, also where it is hidden (output not a terminal).
    bar.suspend(|| {
        eprintln!(
            "iteration {:>5}: validation loss {:.4} · Dice {:.4} (affine alone {:.4})",
            v.iteration, v.loss, v.dice, v.dice_affine
        )
    });
}
