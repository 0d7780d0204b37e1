//! Command-line interface: argument parsing and the headless commands.

pub mod command_line;
pub mod eval;
pub mod infer;
pub mod info;
pub mod register;
pub mod run_options;
pub mod sweep;
pub mod train;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Warpbench: medical image registration workbench. Without a command it opens the window on the
/// built-in demo case.
#[derive(Parser, Debug)]
#[command(name = "warpbench", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Summarise a NIfTI image (.nii, .nii.gz) or a landmark file (.csv, .fcsv, .mrk.json, .txt).
    Info {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Image whose grid converts voxel-index landmarks (.txt) to world mm.
        #[arg(long)]
        image: Option<PathBuf>,
        /// Voxel-index landmarks count from 1 rather than 0.
        #[arg(long)]
        one_based: bool,
        file: PathBuf,
    },
    /// Register a moving image to a fixed one (affine, then deformable) on the GPU.
    Register(Box<register::RegisterArgs>),
    /// The regularisation trade-off of a pair: the affine stage once, then the deformable stage
    /// once per diffusion weight, each result scored (sweep.csv, sweep.json).
    Sweep(Box<sweep::SweepArgs>),
    /// Score a displacement field: Dice, HD95, TRE, folding, SDlogJ, similarity (JSON).
    Eval(eval::EvalArgs),
    /// Train a registration network from a dataset configuration (TOML).
    Train(train::TrainArgs),
    /// Register a pair with a trained network (the files `register` writes).
    Infer(Box<infer::InferArgs>),
    /// Open the shared GPU device, name it, and check a compute kernel against its CPU reference.
    Gpu,
    /// Open the workbench window on the given files (without a command: on the built-in demo).
    Open(Box<OpenArgs>),
    /// Rebuild the built-in demo case (assets/demo) from the MNI152 2009a templates.
    MakeDemo {
        #[arg(long, default_value = "../shared/data/mni152-2009a")]
        mni: PathBuf,
        #[arg(long, default_value = "assets/demo")]
        out: PathBuf,
        /// Voxel size in mm (the built-in demo's is 2; the contrast-change benchmark uses 1).
        #[arg(long, default_value_t = crate::demo::DEMO_SPACING_MM)]
        spacing: f64,
    },
}

/// The window's right-hand tabs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Tab {
    #[default]
    Registration,
    Training,
    Landmarks,
    Metrics,
    Images,
}

/// `warpbench open`: the files of a case, and what benchmarks need (frame-time log, a run started
/// at once, continuous redraw, a time limit).
#[derive(clap::Args, Debug, Default, Clone)]
pub struct OpenArgs {
    #[arg(long)]
    pub fixed: Option<PathBuf>,
    #[arg(long)]
    pub moving: Option<PathBuf>,
    #[arg(long)]
    pub fixed_labels: Option<PathBuf>,
    #[arg(long)]
    pub moving_labels: Option<PathBuf>,
    #[arg(long)]
    pub fixed_landmarks: Option<PathBuf>,
    #[arg(long)]
    pub moving_landmarks: Option<PathBuf>,
    /// Label names, one `id name` per line (FreeSurfer colour tables work too).
    #[arg(long)]
    pub label_names: Option<PathBuf>,
    /// The registration preset the panel starts with; without it, the one the images call for
    /// (as `register` chooses).
    #[arg(long)]
    pub preset: Option<String>,
    /// Start the registration as soon as the case is loaded.
    #[arg(long)]
    pub run: bool,
    /// The tab the right-hand panel opens on.
    #[arg(long, value_enum, default_value_t = Tab::Registration)]
    pub tab: Tab,
    /// Write every frame's interval and UI time (CSV) here when the window closes.
    #[arg(long)]
    pub frame_log: Option<PathBuf>,
    /// Redraw continuously and without vsync, so frame intervals measure the frame time.
    #[arg(long)]
    pub continuous: bool,
    /// Save a PNG of the window here once it has drawn the case (written atomically).
    #[arg(long)]
    pub screenshot: Option<PathBuf>,
    /// Close the window after this many seconds.
    #[arg(long)]
    pub quit_after: Option<f64>,
    /// Open a saved session (its case, landmarks, transform, view and parameters) instead of
    /// files.
    #[arg(long, conflicts_with_all = ["fixed", "moving"])]
    pub session: Option<PathBuf>,
    /// Where the recent cases and the landmark autosaves are kept (default
    /// `$XDG_CONFIG_HOME/warpbench`, else `~/.config/warpbench`).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
}

impl OpenArgs {
    pub fn case_files(&self) -> crate::case::CaseFiles {
        crate::case::CaseFiles {
            fixed: self.fixed.clone(),
            moving: self.moving.clone(),
            fixed_labels: self.fixed_labels.clone(),
            moving_labels: self.moving_labels.clone(),
            fixed_landmarks: self.fixed_landmarks.clone(),
            moving_landmarks: self.moving_landmarks.clone(),
            label_names: self.label_names.clone(),
        }
    }
}

/// Runs a headless command.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Info {
            json,
            image,
            one_based,
            file,
        } => info::run(&file, json, image.as_deref(), one_based),
        Command::Eval(args) => eval::run(&args),
        Command::Register(args) => register::run(&args),
        Command::Sweep(args) => sweep::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Infer(args) => infer::run(&args),
        Command::Gpu => gpu_check(),
        Command::Open(_) => anyhow::bail!("`open` is the window's command; main starts it"),
        Command::MakeDemo { mni, out, spacing } => {
            let case = crate::demo::generate(&mni, spacing)?;
            case.write(&out)?;
            println!(
                "wrote {} (fixed {:?}, moving {:?}, {} landmark pairs)",
                out.display(),
                case.fixed.grid().dims(),
                case.moving.grid().dims(),
                case.fixed_landmarks.len()
            );
            Ok(())
        }
    }
}

fn gpu_check() -> anyhow::Result<()> {
    use crate::volume::{Grid, ScalarVolume};
    let ctx = crate::gpu::GpuContext::new()?;
    println!("{}", ctx.describe());
    let source_grid = Grid::axis_aligned([17, 13, 11], [1.0, 1.2, 2.0], [-5.0, 3.0, 1.0])?;
    let values = (0..source_grid.voxel_count())
        .map(|i| ((i * 7919) % 101) as f32)
        .collect();
    let source = ScalarVolume::new(source_grid, values)?;
    let target = Grid::axis_aligned([20, 20, 20], [0.9, 0.9, 0.9], [-6.0, 2.0, 0.0])?;
    let gpu =
        crate::gpu::kernels::warp::WarpKernel::new(&ctx)?.resample(&ctx, &source, &target, -1.0)?;
    let cpu = crate::volume::resample::resample_scalar(&source, &target, -1.0);
    let worst = gpu
        .data()
        .iter()
        .zip(cpu.data())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    println!("warp kernel (resampling) vs CPU reference: max difference {worst:.2e}");
    anyhow::ensure!(
        worst < 1e-3,
        "the GPU warp kernel disagrees with its CPU reference"
    );
    Ok(())
}
