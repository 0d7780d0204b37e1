//! Options `register` and `sweep` share: which configuration runs, and how many CPU threads help.

use crate::register::config::RegistrationConfig;
use crate::register::preset_choice::PresetChoice;
use crate::volume::{Grid, ScalarVolume};
use clap::Args;
use std::path::{Path, PathBuf};

/// The configuration of a run and the CPU threads it may use.
#[derive(Args, Debug)]
pub struct RunOptions {
    /// A named configuration (brain-mri, lung-ct, ct-mr, mr-multicontrast, fast). Without it or
    /// --config, the images' modalities choose (told by Hounsfield values or file names): ct-mr
    /// for a CT and an MR, lung-ct for two CTs, mr-multicontrast for two MR contrasts, else
    /// brain-mri; the choice and its reason are printed.
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
    /// Sets the thread count, then reads the configuration, choosing the preset by the images
    /// (each with its file) where none is named.
    pub fn apply(
        &self,
        fixed: (&ScalarVolume, &Path),
        moving: (&ScalarVolume, &Path),
    ) -> anyhow::Result<RegistrationConfig> {
        if let Some(n) = self.threads {
            anyhow::ensure!(n > 0, "--threads must be at least 1");
            crate::parallel::set_threads(n);
        }
        let mut config = match (&self.config, &self.preset) {
            (Some(path), _) => RegistrationConfig::read(path)?,
            (None, Some(name)) => RegistrationConfig::preset(name)?,
            (None, None) => {
                let choice =
                    PresetChoice::for_images((fixed.0, Some(fixed.1)), (moving.0, Some(moving.1)));
                eprintln!(
                    "preset {}: {} (--preset chooses another)",
                    choice.name, choice.reason
                );
                RegistrationConfig::preset(choice.name)?
            }
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
    ///
    /// A configuration file's run is told apart from the preset nearest to it, with what it
    /// changed, so a batch log says what ran.
    pub fn fit(&self, config: RegistrationConfig, fixed: &Grid) -> RegistrationConfig {
        let Some(path) = &self.config else {
            return config.fitted_to(fixed);
        };
        match config.changes_from_nearest_preset(fixed) {
            Some((preset, changes)) => eprintln!(
                "{}: {preset}, changed: {}",
                path.display(),
                changes.join(", ")
            ),
            None => {
                if let Some(preset) = config.preset_name(fixed) {
                    eprintln!("{}: the {preset} preset", path.display());
                }
            }
        }
        config
    }
}
