//! The training panel: a network training run (the `warpbench train` configuration and output
//! folder, or a run to resume), Train, Pause, Stop, progress, and live training and validation
//! curves. The run's record ([`TrainingLog`]) takes the worker's events and holds no egui type.

use super::history_plot::stacked_history_ui;
use super::path_field::{Dialog, PathField};
use crate::learn::model::run_config;
use crate::learn::score::TrainMetrics;
use crate::learn::train::{IterationRecord, Validation};
use crate::session::training::{TrainingCommand, TrainingEvent, TrainingJob};

/// What the panel asks the app to do.
#[derive(Clone, Debug)]
pub enum TrainingRequest {
    Start(Box<TrainingJob>),
    Command(TrainingCommand),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub enum TrainingStatus {
    #[default]
    Idle,
    /// Reading and aligning the data; the text is the current step.
    Preparing(String),
    Running {
        paused: bool,
    },
    Finished,
    Stopped {
        iteration: u32,
    },
    Failed(String),
}

impl TrainingStatus {
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            TrainingStatus::Preparing(_) | TrainingStatus::Running { .. }
        )
    }
}

/// What the front end knows of one training run, from its events.
#[derive(Clone, Debug, Default)]
pub struct TrainingLog {
    pub status: TrainingStatus,
    pub iterations: u32,
    pub summary: String,
    pub records: Vec<IterationRecord>,
    pub validations: Vec<Validation>,
    pub checkpoint: Option<u32>,
    pub metrics: Option<TrainMetrics>,
}

impl TrainingLog {
    /// A new run's log, before its first event.
    pub fn starting() -> TrainingLog {
        TrainingLog {
            status: TrainingStatus::Preparing("starting".into()),
            ..Default::default()
        }
    }

    pub fn apply(&mut self, event: TrainingEvent) {
        match event {
            TrainingEvent::Preparing(step) => self.status = TrainingStatus::Preparing(step),
            TrainingEvent::Started {
                iterations,
                summary,
                history,
            } => {
                self.iterations = iterations;
                self.summary = summary;
                self.records = history.iterations;
                self.validations = history.validations;
                self.status = TrainingStatus::Running { paused: false };
            }
            TrainingEvent::Iteration(record) => self.records.push(record),
            TrainingEvent::Validation(v) => self.validations.push(v),
            TrainingEvent::Checkpoint { iteration } => self.checkpoint = Some(iteration),
            TrainingEvent::Paused => self.status = TrainingStatus::Running { paused: true },
            TrainingEvent::Resumed => self.status = TrainingStatus::Running { paused: false },
            TrainingEvent::Finished(metrics) => {
                self.checkpoint = Some(metrics.iterations);
                self.metrics = Some(*metrics);
                self.status = TrainingStatus::Finished;
            }
            TrainingEvent::Stopped { iteration } => {
                self.checkpoint = Some(iteration);
                self.status = TrainingStatus::Stopped { iteration };
            }
            TrainingEvent::Failed(e) => self.status = TrainingStatus::Failed(e),
        }
    }

    /// The last iteration run.
    pub fn iteration(&self) -> u32 {
        self.records.last().map_or(0, |r| r.iteration)
    }

    /// Mean seconds per iteration over the last ten.
    pub fn seconds_per_iteration(&self) -> Option<f64> {
        let recent = &self.records[self.records.len().saturating_sub(10)..];
        (!recent.is_empty())
            .then(|| recent.iter().map(|r| r.seconds).sum::<f64>() / recent.len() as f64)
    }
}

#[derive(Default)]
pub struct TrainingPanel {
    pub config: PathField,
    pub out: PathField,
    pub resume: bool,
    pub log: TrainingLog,
    /// Why the last Train click could not start.
    error: Option<String>,
}

impl TrainingPanel {
    pub fn ui(&mut self, ui: &mut egui::Ui) -> Option<TrainingRequest> {
        let mut request = None;
        let active = self.log.status.is_active();
        ui.label("Train a registration network on a dataset (the TOML `warpbench train` reads).");
        ui.add_enabled_ui(!active, |ui| {
            self.config
                .ui(ui, "config", "examples/train-brain.toml", Dialog::Open);
            self.out
                .ui(ui, "output folder", "runs/brain", Dialog::Folder);
            ui.checkbox(&mut self.resume, "resume the run in the output folder")
                .on_hover_text("continues from its last checkpoint, with its own configuration");
        });
        ui.horizontal(|ui| {
            if ui
                .add_enabled(!active, egui::Button::new("Train"))
                .clicked()
            {
                match self.job() {
                    Ok(job) => {
                        self.error = None;
                        request = Some(TrainingRequest::Start(Box::new(job)));
                    }
                    Err(e) => self.error = Some(e),
                }
            }
            let paused = self.log.status == TrainingStatus::Running { paused: true };
            let running = matches!(self.log.status, TrainingStatus::Running { .. });
            let (label, command) = if paused {
                ("Resume", TrainingCommand::Resume)
            } else {
                ("Pause", TrainingCommand::Pause)
            };
            if ui.add_enabled(running, egui::Button::new(label)).clicked() {
                request = Some(TrainingRequest::Command(command));
            }
            if ui
                .add_enabled(active, egui::Button::new("Stop"))
                .on_hover_text("saves a checkpoint, which a later run can resume")
                .clicked()
            {
                request = Some(TrainingRequest::Command(TrainingCommand::Stop));
            }
        });
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        self.progress_ui(ui);
        self.plots_ui(ui);
        request
    }

    fn job(&self) -> Result<TrainingJob, String> {
        let out = self
            .out
            .path()
            .ok_or("choose an output folder for the run")?;
        let config_path = self.config.path();
        let config = run_config(&out, config_path.as_deref(), self.resume)
            .and_then(|c| c.validate().map(|()| c))
            .map_err(|e| e.to_string())?;
        Ok(TrainingJob {
            config,
            out,
            resume: self.resume,
        })
    }

    fn progress_ui(&self, ui: &mut egui::Ui) {
        let log = &self.log;
        let n = log.iteration();
        let pace = log
            .seconds_per_iteration()
            .map(|s| {
                let left = f64::from(log.iterations.saturating_sub(n)) * s;
                format!(" · {s:.2} s/iteration · {:.0} s left", left)
            })
            .unwrap_or_default();
        let text = match &log.status {
            TrainingStatus::Idle => "not trained yet".to_string(),
            TrainingStatus::Preparing(step) => format!("preparing: {step}"),
            TrainingStatus::Running { paused } => format!(
                "{}: iteration {n}/{}{pace}",
                if *paused { "paused" } else { "training" },
                log.iterations
            ),
            TrainingStatus::Finished => format!("finished {n} iterations"),
            TrainingStatus::Stopped { iteration } => {
                format!("stopped at iteration {iteration} (checkpoint saved)")
            }
            TrainingStatus::Failed(e) => format!("failed: {e}"),
        };
        let fraction = if log.iterations == 0 {
            0.0
        } else {
            n as f32 / log.iterations as f32
        };
        ui.add(crate::app::style::progress_bar(ui, fraction).text(text));
        if !log.summary.is_empty() {
            ui.small(&log.summary);
        }
        if let Some(m) = &log.metrics {
            ui.label(format!(
                "held-out pair at full resolution: Dice {:.4} (affine alone {:.4}) · folds {:.3} % · SDlogJ {:.3}",
                m.val_dice,
                m.val_dice_affine,
                100.0 * m.fold_fraction,
                m.sdlogj
            ));
        } else if let Some(i) = log.checkpoint {
            ui.small(format!("last checkpoint: iteration {i}"));
        }
    }

    fn plots_ui(&self, ui: &mut egui::Ui) {
        stacked_history_ui(
            ui,
            "training losses (per iteration; terms unweighted)",
            &self.log.records,
            |r| f64::from(r.iteration),
            &[
                &[("total", |r| Some(r.losses.total))],
                &[("similarity", |r| Some(r.losses.similarity))],
                &[("smoothness", |r| Some(r.losses.smoothness))],
                &[("folding", |r| r.losses.folding)],
                &[("1 - soft Dice", |r| r.losses.dice)],
            ],
            &[],
        );
        stacked_history_ui(
            ui,
            "validation (held-out pair, training grid)",
            &self.log.validations,
            |v| f64::from(v.iteration),
            &[
                &[
                    ("Dice", |v| v.dice.is_finite().then_some(v.dice)),
                    ("Dice, affine alone", |v| {
                        v.dice_affine.is_finite().then_some(v.dice_affine)
                    }),
                ],
                &[("loss", |v| Some(v.loss))],
            ],
            &[],
        );
    }
}
