//! Options `register` and `sweep` share: which configuration runs, and how many CPU threads help.

use crate::register::config::RegistrationConfig;
use crate::volume::Grid;
use clap::Args;
use std::path::PathBuf;

/// The configuration of a run and the CPU threads it may use.
#[derive(Args, Debug)]
pub struct RunOptions {
    /// A named configuration (brain-mri, lung-ct, ct-mr, mr-multicontrast, fast); brain-mri
    /// without --config.
    #[arg(long, conflicts_with = "config")]
    pub preset: Option<String>,
    /// A TOML configuration (as written to config.toml by an earlier run).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Start the affine stage from the rigid fit of the landmark pairs (--fixed-landmarks and
    /// --moving-landmarks; three pairs or more), in place of the configuration's start.
    #[arg(long)]
    pub landmark_start: bool,
    /// CPU threads for loading, warping and scoring (GPU work is unaffected); all cores by default.
    #[arg(long)]
    pub threads: Option<usize>,
}

impl RunOptions {
    /// Sets the thread count, then reads the configuration.
    pub fn apply(&self) -> anyhow::Result<RegistrationConfig> {
        if let Some(n) = self.threads {
            anyhow::ensure!(n > 0, "--threads must be at least 1");
            crate::parallel::set_threads(n);
        }
        let mut config = match (&self.config, &self.preset) {
            (Some(path), _) => RegistrationConfig::read(path)?,
            (None, name) => RegistrationConfig::preset(name.as_deref().unwrap_or("brain-mri"))?,
        };
        if self.landmark_start {
            anyhow::ensure!(
                config.affine.is_some(),
                "--landmark-start: the configuration has no affine stage"
            );
            config = config.with_landmark_start();
        }
        Ok(config)
    }

    /// `config` (from [`RunOptions::apply`]) as it runs on images of `fixed`'s grid: a preset
    /// fitted to their voxel size ([`RegistrationConfig::fitted_to`]), a configuration file as
    /// written.
    pub fn fit(&self, config: RegistrationConfig, fixed: &Grid) -> RegistrationConfig {
        match self.config {
            Some(_) => config,
            None => config.fitted_to(fixed),
        }
    }
}
