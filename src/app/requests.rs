//! Applying what the panels ask for: runs, sweeps and training (on the worker threads), and the
//! landmark fits, scoring, saves, exports and joint histograms that run on helper threads, with
//! what those helpers report back.

use super::panels::registration::RunRequest;
use super::pull::Pull;
use super::results::Origin;
use super::views::display::CompareMode;
use super::{Notice, RUN_REPAINT, WarpbenchApp, command, loader, panels, state};
use crate::register::landmark_fit::FitModel;
use crate::session::{Command, Method, SessionOptions};
use crate::volume::resample::resample_field;

/// What a helper thread reports when it ends.
pub(super) enum Background {
    Notice(Notice),
    /// Full scores of the deformation of a generation, and those of its affine stage alone.
    Scores(u64, Box<(crate::eval::EvalReport, crate::eval::EvalReport)>),
    /// The command line that repeats a run, its files written.
    Command(String),
    /// The landmarks' fit by this model, to show.
    Transform(Box<state::Deformation>, FitModel),
    /// The joint histogram of a request of the Images tab.
    JointHistogram(u64, Box<crate::eval::joint_histogram::JointSample>),
}

impl WarpbenchApp {
    /// Applies a request from a panel.
    pub fn handle(&mut self, request: RunRequest, ctx: &egui::Context) {
        let command = match request {
            RunRequest::Start(config) => {
                self.start_run(Method::Iterative(config), ctx);
                return;
            }
            RunRequest::StartSweep(sweep) => {
                self.start_run(Method::Sweep(sweep), ctx);
                return;
            }
            RunRequest::StartNetwork(job) => {
                self.start_run(Method::Network(job), ctx);
                return;
            }
            RunRequest::CopyCommand(method) => {
                self.copy_command(method, ctx);
                return;
            }
            RunRequest::ExportSweep(path) => {
                self.notice = Some(Notice::outcome(
                    crate::session::sweep_files::write(&self.doc.sweep, &path),
                    || format!("sweep written to {}", path.display()),
                    "export the sweep",
                ));
                return;
            }
            RunRequest::Pause => Command::Pause,
            RunRequest::Resume => Command::Resume,
            RunRequest::Cancel => Command::Cancel,
            RunRequest::SetWeight(term, v) => Command::SetWeight(term, v),
            RunRequest::SetLearningRate(v) => Command::SetLearningRate(v),
        };
        if let Some(session) = &self.session {
            session.send(command);
        }
    }

    /// Writes what the command that runs `method` on the case needs, then puts the command on the
    /// clipboard and shows it in the registration panel.
    fn copy_command(&mut self, method: Method, ctx: &egui::Context) {
        let run = command::RunCommand::new(&self.doc, method);
        let dir = self.state_dir.clone().unwrap_or_else(std::env::temp_dir);
        self.in_background(ctx, "command", move || match run.write(&dir) {
            Ok(line) => Background::Command(line),
            Err(e) => Background::Notice(Notice {
                text: format!("cannot write the command's inputs: {e}"),
                error: true,
            }),
        });
    }

    fn start_run(&mut self, method: Method, ctx: &egui::Context) {
        let Some(gpu) = &self.gpu else {
            self.notice = Some(Notice {
                text: "cannot register: no GPU device (the window draws without one)".into(),
                error: true,
            });
            return;
        };
        let case = &self.doc.case;
        let scoring = self.doc.scoring();
        let ctx = ctx.clone();
        match crate::session::start_method(
            gpu,
            (case.fixed.clone(), case.moving.clone()),
            method.clone(),
            scoring,
            SessionOptions::default(),
            // Progress comes up to 30 times a second; every frame drawn costs the run a frame's
            // worth of a shared (on lavapipe, CPU-bound) device, so runs repaint 10 times a second
            // at most unless the user is doing something.
            move || ctx.request_repaint_after(RUN_REPAINT),
        ) {
            Ok(handle) => {
                self.session = Some(handle);
                self.doc.start_run(&method);
            }
            Err(e) => {
                self.notice = Some(Notice {
                    text: format!("cannot start the registration: {e}"),
                    error: true,
                })
            }
        }
    }

    /// Starts a training run on its own thread, or passes a command to the running one.
    pub fn handle_training(
        &mut self,
        request: panels::training::TrainingRequest,
        ctx: &egui::Context,
    ) {
        use panels::training::{TrainingLog, TrainingRequest};
        match request {
            TrainingRequest::Command(command) => {
                if let Some(run) = &self.training_run {
                    run.send(command);
                }
            }
            TrainingRequest::Start(job) => {
                let Some(gpu) = &self.gpu else {
                    self.notice = Some(Notice {
                        text: "cannot train: no GPU device (the window draws without one)".into(),
                        error: true,
                    });
                    return;
                };
                let ctx = ctx.clone();
                let started = crate::session::training::start_training(gpu, *job, move || {
                    ctx.request_repaint()
                });
                match started {
                    Ok(run) => {
                        self.training_run = Some(run);
                        self.training.log = TrainingLog::starting();
                    }
                    Err(e) => {
                        self.notice = Some(Notice {
                            text: format!("cannot start the training: {e}"),
                            error: true,
                        })
                    }
                }
            }
        }
    }

    /// Starts the joint histogram of what the views show, unless it is shown or one is computing.
    pub(super) fn refresh_joint_histogram(&mut self, ctx: &egui::Context) {
        use panels::joint_histogram::{BINS, SAMPLES};
        let Some(number) = self.joint_histogram.request(self.joint_key()) else {
            return;
        };
        let (fixed, moving) = (self.doc.case.fixed.clone(), self.doc.case.moving.clone());
        let labels = self.doc.case.fixed_labels.clone();
        let region = self.viewers.display.joint_region;
        let deformation = self.shared_transform();
        let display = &self.viewers.display;
        let (warped, affine_only) = (display.warped, display.affine_only);
        let empty =
            crate::eval::joint_histogram::JointHistogram::new(BINS, self.doc.facts.joint_ranges);
        let started = self.in_background(ctx, "joint histogram", move || {
            crate::parallel::lower_priority();
            let pull = Pull::through(deformation.as_deref(), warped, affine_only);
            let sample = crate::eval::joint_histogram::joint_histogram_through(
                &fixed,
                &moving,
                |p| pull.moving_point(p),
                (region, labels.as_deref()),
                SAMPLES,
                empty,
            );
            Background::JointHistogram(number, Box::new(sample))
        });
        if !started {
            self.joint_histogram.not_started();
        }
    }

    /// Runs `job` on a helper thread; `logic` takes in what it reports. Whether it started (when
    /// not, a notice says why). The helper asks for a frame no sooner than a run's own repaints
    /// would: an extra frame right after one of theirs would look to the pacing like someone
    /// interacting, and slow the run (the joint histogram is redone for each snapshot).
    fn in_background(
        &mut self,
        ctx: &egui::Context,
        name: &str,
        job: impl FnOnce() -> Background + Send + 'static,
    ) -> bool {
        let tx = self.background.0.clone();
        let wake = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let _ = tx.send(job());
                wake.request_repaint_after(RUN_REPAINT);
            });
        match spawned {
            Ok(_) => {
                self.background_jobs += 1;
                true
            }
            Err(e) => {
                self.scoring = false;
                self.notice = Some(Notice {
                    text: format!("cannot start {name}: {e}"),
                    error: true,
                });
                false
            }
        }
    }

    /// Applies an action of the landmark panel.
    pub(super) fn handle_landmarks(
        &mut self,
        action: panels::landmarks::LandmarkAction,
        ctx: &egui::Context,
    ) {
        use panels::landmarks::LandmarkAction;
        match action {
            LandmarkAction::Notice(notice) => self.notice = Some(notice),
            LandmarkAction::ShowFit(model) => {
                let fit = match self.doc.landmark_fit(model) {
                    Ok(fit) => fit,
                    Err(e) => {
                        self.notice = Some(Notice {
                            text: format!("cannot align by the landmarks: {e}"),
                            error: true,
                        });
                        return;
                    }
                };
                let grid = self.doc.case.fixed.grid().clone();
                self.in_background(ctx, "landmark fit", move || {
                    let field =
                        crate::register::deformable::affine_displacement(&fit.affine, &grid);
                    let deformation = state::Deformation::new(fit.affine, field);
                    Background::Transform(Box::new(deformation), model)
                });
            }
        }
    }

    /// Shows kept result `number`, the one the views compared against, and compares it against
    /// the result shown until now (the display panel's "swap").
    pub(super) fn swap_compared(&mut self, number: usize) {
        let shown = self.doc.results.shown;
        if self.doc.show_result(number) {
            self.viewers.display.against = shown;
        }
    }

    /// Applies a request of the metrics panel.
    pub(super) fn handle_metrics(
        &mut self,
        request: panels::metrics::MetricsRequest,
        ctx: &egui::Context,
    ) {
        use panels::metrics::MetricsRequest;
        match request {
            MetricsRequest::GoTo(id) => {
                if let Some(site) = self.doc.facts.fixed_label_sites.get(&id) {
                    self.viewers.cursor_mm = site.inner_point_mm;
                }
            }
            MetricsRequest::Results(panels::results::ResultsRequest::Show(number)) => {
                self.doc.show_result(number);
            }
            MetricsRequest::Results(panels::results::ResultsRequest::UseSettings(number)) => {
                if let Some(config) = self.doc.results.get(number).and_then(|r| r.origin.config()) {
                    self.registration.set_config(config.clone());
                }
            }
            MetricsRequest::Results(panels::results::ResultsRequest::CompareInViews(number)) => {
                let display = &mut self.viewers.display;
                display.against = Some(number);
                // A mode of one image would show no comparison at all.
                if matches!(display.mode, CompareMode::Fixed | CompareMode::Moving) {
                    display.mode = CompareMode::Difference;
                }
            }
            MetricsRequest::Results(panels::results::ResultsRequest::Remove(number)) => {
                self.doc.results.remove(number);
            }
            MetricsRequest::Results(panels::results::ResultsRequest::Export(path)) => {
                let results: Vec<_> = self.doc.results.kept.iter().map(|r| &r.saved).collect();
                self.notice = Some(Notice::outcome(
                    panels::results::export(&results, &path),
                    || format!("results table written to {}", path.display()),
                    "export the results table",
                ));
            }
            MetricsRequest::ScoreInFull => {
                let Some(transform) = self.shared_transform() else {
                    return;
                };
                let case = &self.doc.case;
                let grid = case.fixed.grid().clone();
                let images = (case.fixed.clone(), case.moving.clone());
                let scoring = self.doc.scoring();
                let generation = self.doc.generation;
                self.scoring = true;
                self.in_background(ctx, "scoring", move || {
                    let field = resample_field(&transform.field, &grid);
                    let inputs = crate::eval::EvalInputs {
                        images: Some((&images.0, &images.1)),
                        ..scoring.inputs(&field)
                    };
                    let affine_field =
                        crate::register::deformable::affine_displacement(&transform.affine, &grid);
                    let affine_inputs = scoring.inputs(&affine_field);
                    let scores = crate::eval::evaluate(&inputs, crate::eval::SlowMeasures::ALL)
                        .and_then(|whole| {
                            let affine = crate::eval::evaluate(
                                &affine_inputs,
                                crate::eval::SlowMeasures::NONE,
                            )?;
                            Ok((whole, affine))
                        });
                    match scores {
                        Ok(scores) => Background::Scores(generation, Box::new(scores)),
                        Err(e) => Background::Notice(Notice {
                            text: format!("cannot score the deformation: {e}"),
                            error: true,
                        }),
                    }
                });
            }
            MetricsRequest::Export(path) => {
                let Some(report) = self.doc.current_report() else {
                    return;
                };
                self.notice = Some(Notice::outcome(
                    panels::metrics::export(
                        report,
                        self.doc
                            .affine_stage_report()
                            .map(crate::eval::AffineStageScores::of)
                            .as_ref(),
                        &path,
                    ),
                    || format!("metrics written to {}", path.display()),
                    "export the metrics",
                ));
            }
        }
    }

    /// Applies a request of the session form.
    pub fn handle_session(
        &mut self,
        request: panels::session::SessionRequest,
        ctx: &egui::Context,
    ) {
        use panels::session::SessionRequest;
        match request {
            SessionRequest::Open(path) => self.open(loader::Source::Session(path), ctx),
            SessionRequest::Save(path) => {
                let session = self.saved_session();
                let transform = self.shared_transform();
                let grid = self.doc.case.fixed.grid().clone();
                self.in_background(ctx, "session save", move || {
                    let transform = transform.map(|t| (t.affine, resample_field(&t.field, &grid)));
                    let written = session.write(&path, transform.as_ref().map(|(a, f)| (a, f)));
                    Background::Notice(Notice::outcome(
                        written,
                        || format!("session saved to {}", path.display()),
                        "save the session",
                    ))
                });
            }
            SessionRequest::Export(folder) => {
                let Some(transform) = self.shared_transform() else {
                    return;
                };
                let grid = self.doc.case.fixed.grid().clone();
                let moving = self.doc.case.moving.clone();
                let labels = self.doc.case.moving_labels.clone();
                // The configuration that made what is shown, else the panel's.
                let config = self
                    .doc
                    .results
                    .shown()
                    .and_then(|r| r.origin.config())
                    .unwrap_or(&self.registration.config)
                    .clone();
                self.in_background(ctx, "export", move || {
                    use crate::volume::warp::{warp_labels, warp_scalar};
                    let field = resample_field(&transform.field, &grid);
                    let warped = warp_scalar(&moving, &field, f32::NAN);
                    let warped_labels = labels.as_ref().map(|l| warp_labels(l, &field));
                    let results = crate::register::outputs::Results {
                        warped: &warped,
                        warped_labels: warped_labels.as_ref(),
                        field: &field,
                        affine: &transform.affine,
                        config_toml: &config.to_toml(),
                    };
                    Background::Notice(Notice::outcome(
                        crate::register::outputs::write_results(&folder, &results),
                        || {
                            format!(
                                "warped image{}, displacement and affine written to {}",
                                if labels.is_some() { ", labels" } else { "" },
                                folder.display()
                            )
                        },
                        "export the results",
                    ))
                });
            }
        }
    }
    /// Takes in what the helper threads reported since the last frame.
    pub(super) fn take_background(&mut self, ctx: &egui::Context) {
        while let Ok(done) = self.background.1.try_recv() {
            self.background_jobs = self.background_jobs.saturating_sub(1);
            match done {
                Background::Notice(notice) => self.notice = Some(notice),
                Background::Scores(generation, scores) => {
                    self.scoring = false;
                    let (whole, affine) = *scores;
                    self.doc.set_full_scores(generation, whole, affine);
                }
                Background::Command(line) => {
                    ctx.copy_text(line.clone());
                    self.registration.command = Some(line);
                }
                Background::Transform(deformation, model) => {
                    self.doc
                        .show_transform(*deformation, Origin::Landmarks(model));
                    self.viewers.display.warped = true;
                    self.viewers.display.affine_only = false;
                    // Its Dice, beside the runs' in the results table.
                    self.handle_metrics(panels::metrics::MetricsRequest::ScoreInFull, ctx);
                }
                Background::JointHistogram(number, sample) => {
                    self.joint_histogram.receive(ctx, number, *sample)
                }
            }
        }
    }
}
