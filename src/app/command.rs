//! The `warpbench` command that repeats a run of the window on its case (`cli::command_line`),
//! with what only the window holds (the built-in demo, landmarks edited or left out, a custom
//! configuration) written into the state folder for the command to read.

use super::state::Document;
use crate::case::CaseFiles;
use crate::cli::command_line::{CaseArgs, Job, Settings, arguments, shell_line};
use crate::error::{Error, Result};
use crate::session::Method;
use crate::volume::{Grid, LandmarkSet};
use std::hash::{Hash, Hasher};
use std::path::Path;

/// Where the command's landmarks come from.
enum Landmarks {
    None,
    /// The case's files, as loaded and all scored.
    Files,
    /// The pairs the window scores, written for the command.
    Written(LandmarkSet, LandmarkSet),
}

/// A run's command and what it needs written, owned for a helper thread.
pub struct RunCommand {
    method: Method,
    /// The case's files; a label map is loaded exactly when its file is named.
    files: CaseFiles,
    landmarks: Landmarks,
    /// The fixed image's grid, which names the preset a configuration is on it.
    fixed_grid: Grid,
}

impl RunCommand {
    /// The command that runs `method` on `doc`'s case as the window would.
    pub fn new(doc: &Document, method: Method) -> RunCommand {
        let case = &doc.case;
        let unchanged = (&case.fixed_landmarks, &case.moving_landmarks)
            == (&doc.landmark_files.0, &doc.landmark_files.1)
            && doc.excluded_pairs.is_empty();
        let landmarks = match doc.included_landmarks() {
            None => Landmarks::None,
            Some(_)
                if unchanged
                    && (case.files.is_demo()
                        || case.files.fixed_landmarks.is_some()
                            && case.files.moving_landmarks.is_some()) =>
            {
                Landmarks::Files
            }
            Some((fixed, moving)) => Landmarks::Written(fixed, moving),
        };
        RunCommand {
            method,
            files: case.files.absolute(),
            landmarks,
            fixed_grid: case.fixed.grid().clone(),
        }
    }

    /// Writes what the command reads and only the window holds into `state_dir/commands/` (a
    /// folder per content, so that the same inputs share one and different ones never replace
    /// each other), then gives the command line.
    pub fn write(self, state_dir: &Path) -> Result<String> {
        let commands = std::path::absolute(state_dir)
            .map_err(|e| Error::io(state_dir, e))?
            .join("commands");
        let mut case = match (&self.files.fixed, &self.files.moving) {
            (Some(fixed), Some(moving)) => CaseArgs {
                fixed: fixed.clone(),
                moving: moving.clone(),
                labels: self
                    .files
                    .fixed_labels
                    .clone()
                    .map(|f| (f, self.files.moving_labels.clone())),
                landmarks: match &self.landmarks {
                    Landmarks::Files => self
                        .files
                        .fixed_landmarks
                        .clone()
                        .zip(self.files.moving_landmarks.clone()),
                    _ => None,
                },
                label_names: self.files.label_names.clone(),
            },
            _ => {
                use crate::demo::files;
                let demo = commands.join("demo");
                crate::demo::write_builtin(&demo)?;
                CaseArgs {
                    fixed: demo.join(files::FIXED),
                    moving: demo.join(files::MOVING),
                    labels: Some((
                        demo.join(files::FIXED_LABELS),
                        Some(demo.join(files::MOVING_LABELS)),
                    )),
                    landmarks: matches!(self.landmarks, Landmarks::Files).then(|| {
                        (
                            demo.join(files::FIXED_LANDMARKS),
                            demo.join(files::MOVING_LANDMARKS),
                        )
                    }),
                    label_names: Some(demo.join(files::LABEL_NAMES)),
                }
            }
        };
        let config = match &self.method {
            Method::Iterative(config) => Some(config.as_ref()),
            Method::Sweep(sweep) => Some(&sweep.config),
            Method::Network(_) => None,
        };
        let preset = config.and_then(|c| c.preset_and_start(&self.fixed_grid));
        let custom = config.filter(|_| preset.is_none()).map(|c| c.to_toml());
        let written = match &self.landmarks {
            Landmarks::Written(fixed, moving) => Some((fixed.to_csv(), moving.to_csv())),
            _ => None,
        };
        let folder = commands.join(content_name(&custom, &written));
        if custom.is_some() || written.is_some() {
            std::fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
        }
        if let Some(toml) = &custom {
            crate::atomic::write_bytes(&folder.join("config.toml"), toml.as_bytes())?;
        }
        if let Some((fixed, moving)) = &written {
            let paths = (
                folder.join("fixed_landmarks.csv"),
                folder.join("moving_landmarks.csv"),
            );
            crate::atomic::write_bytes(&paths.0, fixed.as_bytes())?;
            crate::atomic::write_bytes(&paths.1, moving.as_bytes())?;
            case.landmarks = Some(paths);
        }
        let config_file = folder.join("config.toml");
        let settings = match preset {
            Some((name, landmark_start)) => Settings::Preset {
                name,
                landmark_start,
            },
            None => Settings::Config(&config_file),
        };
        let (job, out) = match &self.method {
            Method::Iterative(_) => (Job::Register(settings), "warpbench-register"),
            Method::Sweep(sweep) => (Job::Sweep(settings, &sweep.diffusion), "warpbench-sweep"),
            Method::Network(job) => (
                Job::Infer {
                    model: &job.model,
                    refine: job.refinement_steps,
                },
                "warpbench-infer",
            ),
        };
        Ok(shell_line(&arguments(job, &case, Path::new(out))))
    }
}

/// A folder name for these contents.
fn content_name(config: &Option<String>, landmarks: &Option<(String, String)>) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    (config, landmarks).hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}
