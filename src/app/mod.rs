//! The workbench window (eframe/egui on the shared wgpu device): a thin layer over the engine.
//!
//! Per frame, `logic` first takes what the workers sent (a loaded case, registration events and
//! snapshots) into the [`state::Document`], then `ui` draws panels and views from it. Panels
//! return requests instead of starting work themselves, and [`WarpbenchApp::handle`] applies
//! them in one place. Loading and registration run on their own threads; the UI thread only
//! samples and colours the three visible slices (see `views::compose` for why on the CPU).

pub mod command;
pub mod frame_log;
pub mod gpu_bridge;
pub mod landmarks;
pub mod loader;
pub mod panels;
pub mod pull;
pub mod saved_session;
pub mod state;
pub mod style;
pub mod views;

use crate::case::Case;
use crate::cli::{OpenArgs, Tab};
use crate::gpu::GpuContext;
use crate::session::{Command, Method, SessionHandle, SessionOptions};
use crate::volume::resample::resample_field;
use panels::registration::{RegistrationPanel, RunRequest};
use pull::Pull;
use state::Document;
use std::sync::Arc;
use views::colour::Window;
use views::display::Display;
use views::slice::Plane;
use views::viewer::{Tool, Viewers};

/// Opens the window on the case `args` names (the built-in demo without files) and blocks until
/// it is closed.
pub fn run(args: OpenArgs) -> anyhow::Result<()> {
    // The first case loads before the window opens: there is nothing to show without it, and a
    // bad file on the command line is better reported on the command line.
    let reading = |_: f32, p: &std::path::Path| log::info!("reading {}", p.display());
    let (case, saved) = match &args.session {
        Some(path) => {
            let r = saved_session::SavedSession::open(path, &Default::default(), reading)?;
            (r.case, Some((r.session, r.deformation)))
        }
        None => (args.case_files().load(&Default::default(), reading)?, None),
    };
    let mut options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Warpbench")
            .with_inner_size([1400.0, 900.0])
            .with_drag_and_drop(true),
        // Without dithering egui's fragment shader is a plain texture sample times a colour,
        // which llvmpipe shades on its fast 8-bit path (the UI has no gradients to band).
        dithering: false,
        ..Default::default()
    };
    if let egui_wgpu::WgpuSetup::CreateNew(create) = &mut options.wgpu_options.wgpu_setup {
        create.device_descriptor = Arc::new(crate::gpu::context::device_descriptor);
    }
    // Continuous redraw is for measuring frame times: with vsync, frames would be paced to the
    // display's refresh (Xvfb's too), so intervals would measure the refresh, not the frame.
    if args.continuous {
        options.wgpu_options.surface.present_mode = wgpu::PresentMode::AutoNoVsync;
    }
    let frame_log = args.frame_log.clone();
    eframe::run_native(
        "Warpbench",
        options,
        Box::new(move |cc| {
            let mut app = WarpbenchApp::create(cc, case, &args);
            if let Some((session, deformation)) = saved {
                app.apply_saved(session, deformation);
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))?;
    if let Some(path) = frame_log {
        log::info!("frame times written to {}", path.display());
    }
    Ok(())
}

/// The shortest interval between frames that a run's progress alone asks for.
const RUN_REPAINT: std::time::Duration = std::time::Duration::from_millis(100);

/// What fills the view area.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Layout {
    /// Axial, coronal, sagittal and the deformation grid of one plane.
    Quad {
        grid_plane: Plane,
    },
    Single(Plane),
}

/// What a helper thread reports when it ends.
enum Background {
    Notice(Notice),
    /// Full scores of the deformation of a generation, and those of its affine stage alone.
    Scores(u64, Box<(crate::eval::EvalReport, crate::eval::EvalReport)>),
    /// The command line that repeats a run, its files written.
    Command(String),
    /// A transform computed off the run (the landmarks' fit), to show.
    Transform(Box<state::Deformation>),
    /// The joint histogram of a request of the Images tab.
    JointHistogram(u64, Box<crate::eval::joint_histogram::JointSample>),
}

/// A message shown over the views until dismissed.
pub struct Notice {
    pub text: String,
    pub error: bool,
}

impl Notice {
    /// What a save or export says: `done()` when it worked, "cannot {what}: {error}" when not.
    pub fn outcome<E: std::fmt::Display>(
        result: Result<(), E>,
        done: impl FnOnce() -> String,
        what: &str,
    ) -> Notice {
        match result {
            Ok(()) => Notice {
                text: done(),
                error: false,
            },
            Err(e) => Notice {
                text: format!("cannot {what}: {e}"),
                error: true,
            },
        }
    }
}

pub struct WarpbenchApp {
    pub doc: Document,
    pub viewers: Viewers,
    pub layout: Layout,
    pub registration: RegistrationPanel,
    pub training: panels::training::TrainingPanel,
    training_run: Option<crate::session::training::TrainingHandle>,
    pub metrics: panels::metrics::MetricsPanel,
    landmark_panel: panels::landmarks::LandmarkPanel,
    pub joint_histogram: panels::joint_histogram::JointPanel,
    autosave: Option<landmarks::Autosave>,
    /// Where the window keeps what outlives it (recent files, autosaves, commands' inputs).
    state_dir: Option<std::path::PathBuf>,
    /// The document's landmark edit count the autosave last wrote.
    autosaved_edits: u64,
    open_form: panels::open::OpenForm,
    pub session_form: panels::session::SessionForm,
    /// Saves, exports and scoring running on helper threads, and what they report.
    background: (
        crossbeam_channel::Sender<Background>,
        crossbeam_channel::Receiver<Background>,
    ),
    /// Whether full scoring is running.
    scoring: bool,
    pub background_jobs: usize,
    tab: Tab,
    gpu: Option<GpuContext>,
    gpu_name: String,
    session: Option<SessionHandle>,
    load: Option<loader::Load>,
    pub notice: Option<Notice>,
    frames: frame_log::FrameLog,
    frame_log_path: Option<std::path::PathBuf>,
    continuous: bool,
    quit_after_s: Option<f64>,
    run_on_start: bool,
    /// Where the next screenshot goes, and the frame count to take the one asked on the
    /// command line at.
    screenshot_to: Option<std::path::PathBuf>,
    screenshot_at_frame: Option<u64>,
    frame_count: u64,
    screenshots: (
        crossbeam_channel::Sender<Arc<egui::ColorImage>>,
        crossbeam_channel::Receiver<Arc<egui::ColorImage>>,
    ),
}

impl WarpbenchApp {
    /// The app on eframe's render state: the slice pipeline goes into egui's renderer and the
    /// engine shares its device.
    pub fn create(cc: &eframe::CreationContext, case: Case, args: &OpenArgs) -> WarpbenchApp {
        if let Some(rs) = &cc.wgpu_render_state {
            gpu_bridge::install(rs);
        }
        let gpu = cc.wgpu_render_state.as_ref().map(|rs| {
            GpuContext::from_parts(
                rs.instance.clone(),
                rs.adapter.clone(),
                rs.device.clone(),
                rs.queue.clone(),
            )
        });
        style::apply(&cc.egui_ctx, gpu.as_ref().is_some_and(|g| g.is_software()));
        WarpbenchApp::new(case, gpu, args)
    }

    /// The device the window and its runs share, if any.
    pub fn gpu(&self) -> Option<&GpuContext> {
        self.gpu.as_ref()
    }

    pub fn new(case: Case, gpu: Option<GpuContext>, args: &OpenArgs) -> WarpbenchApp {
        // The window draws on the engine's queue: its runs submit in short pieces.
        let gpu = gpu.map(|g| g.with_submission_budget(g.background_budget()));
        let default_preset = if case.files.is_demo() {
            "ct-mr"
        } else {
            "brain-mri"
        };
        let preset = args.preset.clone().unwrap_or_else(|| default_preset.into());
        let state_dir = args
            .state_dir
            .clone()
            .or_else(panels::open::default_state_dir);
        let mut open_form = panels::open::OpenForm::new(state_dir.as_deref());
        open_form.remember(&case.files);
        let registration = RegistrationPanel::new(&preset, case.fixed.grid());
        let mut app = WarpbenchApp {
            viewers: Viewers::new(case.fixed.grid().centre_mm(), display_for(&case)),
            doc: Document::new(case),
            layout: Layout::Quad {
                grid_plane: Plane::Axial,
            },
            registration,
            training: Default::default(),
            training_run: None,
            metrics: Default::default(),
            landmark_panel: Default::default(),
            joint_histogram: Default::default(),
            autosave: state_dir.clone().map(landmarks::Autosave::new),
            state_dir,
            autosaved_edits: 0,
            open_form,
            session_form: Default::default(),
            background: crossbeam_channel::unbounded(),
            background_jobs: 0,
            scoring: false,
            tab: args.tab,
            gpu_name: gpu
                .as_ref()
                .map_or_else(|| "no GPU".into(), |g| g.adapter.get_info().name),
            gpu,
            session: None,
            load: None,
            notice: None,
            frames: if args.frame_log.is_some() {
                frame_log::FrameLog::recording()
            } else {
                Default::default()
            },
            frame_log_path: args.frame_log.clone(),
            continuous: args.continuous,
            quit_after_s: args.quit_after,
            run_on_start: args.run,
            screenshot_to: args.screenshot.clone(),
            screenshot_at_frame: args.screenshot.as_ref().map(|_| 10),
            frame_count: 0,
            screenshots: crossbeam_channel::unbounded(),
        };
        app.restore_landmarks();
        app
    }

    /// Takes back the landmark edits autosaved for this case, saying so.
    fn restore_landmarks(&mut self) {
        let Some((path, saved)) = self.autosave.as_ref().and_then(|a| a.restorable(&self.doc))
        else {
            return;
        };
        let counts = (saved.fixed.len(), saved.moving.len());
        self.doc
            .replace_landmarks(saved.fixed, saved.moving, saved.excluded);
        self.autosaved_edits = self.doc.landmark_edits;
        self.notice = Some(Notice {
            text: format!(
                "landmark edits restored from the autosave ({} fixed, {} moving points, {}); \
                 the landmark files are unchanged, and the Landmarks tab can revert to them",
                counts.0,
                counts.1,
                path.display()
            ),
            error: false,
        });
    }

    /// Applies the landmark edits the views and panels asked for, and autosaves them.
    fn apply_landmark_edits(&mut self) {
        let edits = std::mem::take(&mut self.viewers.edits);
        self.doc.edit_landmarks(edits, self.viewers.dragging());
        if let Some((side, index)) = self.viewers.selected
            && index >= self.doc.landmarks(side).len()
        {
            self.viewers.selected = None;
        }
        if self.doc.landmark_edits != self.autosaved_edits {
            self.autosaved_edits = self.doc.landmark_edits;
            if let Some(autosave) = &self.autosave {
                autosave.save(&self.doc);
            }
        }
        if let Some(e) = self.autosave.as_ref().and_then(|a| a.errors().pop()) {
            self.notice = Some(Notice {
                text: e,
                error: true,
            });
        }
    }

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

    /// Starts loading a case or a session in the background; the open case stays until the new
    /// one arrives.
    pub fn open(&mut self, source: loader::Source, ctx: &egui::Context) {
        if let Some(load) = self.load.take() {
            load.cancel();
        }
        let ctx = ctx.clone();
        self.load = Some(loader::Load::start(source, move || ctx.request_repaint()));
    }

    fn install_case(&mut self, case: Case, facts: state::LayerFacts) {
        self.session = None;
        self.open_form.remember(&case.files);
        self.viewers = Viewers::new(case.fixed.grid().centre_mm(), display_for(&case));
        self.registration.case_changed(case.fixed.grid());
        self.doc = Document::with_facts(facts, case);
        self.joint_histogram.forget();
        self.autosaved_edits = 0;
    }

    /// Puts a saved session's landmarks, transform, view and parameters over the open case
    /// (which must be the session's).
    pub fn apply_saved(
        &mut self,
        session: saved_session::SavedSession,
        deformation: Option<state::Deformation>,
    ) {
        if let Some(d) = deformation {
            self.doc.set_deformation(d);
        }
        self.doc.replace_landmarks(
            session.fixed_landmarks,
            session.moving_landmarks,
            session.excluded_pairs,
        );
        // The session file holds these edits; the case's autosave keeps its own.
        self.autosaved_edits = self.doc.landmark_edits;
        let view = session.view;
        self.viewers.cursor_mm = view.cursor_mm;
        self.viewers.display = view.display;
        for (plane, z) in self.viewers.planes.iter_mut().zip(view.zoom) {
            plane.zoom = z.zoom;
            plane.pan = egui::vec2(z.pan[0], z.pan[1]);
        }
        self.viewers.rulers = view.rulers;
        self.viewers.forget_caches();
        self.layout = view.layout;
        self.registration.set_config(session.registration);
    }

    /// The session as it is now, without its transform.
    pub fn saved_session(&self) -> saved_session::SavedSession {
        let zoom = std::array::from_fn(|i| {
            let p = &self.viewers.planes[i];
            saved_session::ViewZoom {
                zoom: p.zoom,
                pan: [p.pan.x, p.pan.y],
            }
        });
        saved_session::SavedSession::new(
            &self.doc.case.files,
            (
                &self.doc.case.fixed_landmarks,
                &self.doc.case.moving_landmarks,
            ),
            &self.doc.excluded_pairs,
            saved_session::ViewState {
                cursor_mm: self.viewers.cursor_mm,
                display: self.viewers.display.clone(),
                layout: self.layout,
                zoom,
                rulers: self.viewers.rulers,
            },
            &self.registration.config,
        )
    }

    /// The current transform, shared with a helper thread. Snapshots of coarse levels hold the
    /// field on their level's grid: the helper brings it onto the fixed grid (`resample_field`),
    /// where saved, exported and scored fields live.
    fn shared_transform(&self) -> Option<Arc<state::Deformation>> {
        self.doc.deformation.clone()
    }

    /// What the Images tab's joint histogram is of now.
    pub fn joint_key(&self) -> panels::joint_histogram::JointKey {
        panels::joint_histogram::JointKey {
            generation: self.doc.generation,
            pull: Pull::of(&self.doc, &self.viewers.display).name(),
            region: self.viewers.display.joint_region,
        }
    }

    /// Starts the joint histogram of what the views show, unless it is shown or one is computing.
    fn refresh_joint_histogram(&mut self, ctx: &egui::Context) {
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
    /// not, a notice says why).
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
                wake.request_repaint();
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
    fn handle_landmarks(&mut self, action: panels::landmarks::LandmarkAction, ctx: &egui::Context) {
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
                    Background::Transform(Box::new(state::Deformation::new(fit.affine, field)))
                });
            }
        }
    }

    /// Applies a request of the metrics panel.
    fn handle_metrics(&mut self, request: panels::metrics::MetricsRequest, ctx: &egui::Context) {
        use panels::metrics::MetricsRequest;
        match request {
            MetricsRequest::GoTo(id) => {
                if let Some(site) = self.doc.facts.fixed_label_sites.get(&id) {
                    self.viewers.cursor_mm = site.inner_point_mm;
                }
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
                let config = self.registration.config.clone();
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

    /// Takes in what the workers sent since the last frame.
    pub fn logic(&mut self, ctx: &egui::Context) {
        let mut finished = false;
        if let Some(session) = &self.session {
            for event in session.drain() {
                finished |= matches!(event, crate::session::Event::Finished { .. });
                if let crate::session::Event::Failed(e) = &event {
                    self.notice = Some(Notice {
                        text: format!("registration failed: {e}"),
                        error: true,
                    });
                }
                self.doc.apply(event, || session.take_snapshot());
            }
        }
        if let Some(run) = &self.training_run {
            for event in run.drain() {
                if let crate::session::training::TrainingEvent::Failed(e) = &event {
                    self.notice = Some(Notice {
                        text: format!("training failed: {e}"),
                        error: true,
                    });
                }
                self.training.log.apply(event);
            }
        }
        if finished {
            // The final transform gets every measure without asking.
            self.handle_metrics(panels::metrics::MetricsRequest::ScoreInFull, ctx);
        }
        if let Some(load) = &self.load {
            match load.poll() {
                loader::Poll::Pending { .. } => {}
                loader::Poll::Done(loaded) => {
                    self.load = None;
                    let loader::Loaded {
                        case,
                        facts,
                        session,
                    } = *loaded;
                    self.install_case(case, facts);
                    match session {
                        Some((session, deformation)) => self.apply_saved(session, deformation),
                        None => self.restore_landmarks(),
                    }
                }
                loader::Poll::Failed(e) => {
                    self.load = None;
                    self.notice = Some(Notice {
                        text: format!("cannot open the case: {e}"),
                        error: true,
                    });
                }
                loader::Poll::Cancelled => {
                    self.load = None;
                    self.notice = Some(Notice {
                        text: "loading cancelled; the open case is unchanged".into(),
                        error: false,
                    });
                }
            }
        }
        let dropped: Vec<std::path::PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if !dropped.is_empty() {
            self.open_form.drop_files(&dropped);
        }
        while let Ok(done) = self.background.1.try_recv() {
            self.background_jobs = self.background_jobs.saturating_sub(1);
            match done {
                Background::Notice(notice) => self.notice = Some(notice),
                Background::Scores(generation, scores) => {
                    self.scoring = false;
                    let (whole, affine) = *scores;
                    self.doc.full_report = Some((generation, whole));
                    self.doc.affine_report = Some((generation, affine));
                }
                Background::Command(line) => {
                    ctx.copy_text(line.clone());
                    self.registration.command = Some(line);
                }
                Background::Transform(deformation) => {
                    self.doc.show_transform(*deformation);
                    self.viewers.display.warped = true;
                    self.viewers.display.affine_only = false;
                }
                Background::JointHistogram(number, sample) => {
                    self.joint_histogram.receive(ctx, number, *sample)
                }
            }
        }
        if self.tab == Tab::Images {
            self.refresh_joint_histogram(ctx);
        }
        while let Ok(image) = self.screenshots.1.try_recv() {
            if let Some(path) = self.screenshot_to.take() {
                self.notice = Some(Notice::outcome(
                    save_png(&path, &image),
                    || format!("saved {}", path.display()),
                    "save the views",
                ));
            }
        }
        if std::mem::take(&mut self.run_on_start) {
            self.handle(
                RunRequest::Start(Box::new(self.registration.config.clone())),
                ctx,
            );
        }
    }

    /// Asks for a screenshot of the window, to be saved at `path` when it arrives.
    fn request_png(&mut self, ctx: &egui::Context, path: std::path::PathBuf) {
        self.screenshot_to = Some(path);
        let tx = self.screenshots.0.clone();
        let wake = ctx.clone();
        ctx.request_screenshot(move |image| {
            let _ = tx.send(image);
            wake.request_repaint();
        });
    }

    fn top_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading("Warpbench");
            ui.separator();
            if ui.button("Open…").clicked() {
                self.open_form.show_with(&self.doc.case.files);
            }
            if ui.button("Session…").clicked() {
                self.session_form.open = true;
            }
            if self.background_jobs > 0 {
                ui.spinner();
                ui.label("working");
            }
            if ui
                .button("Save PNG")
                .on_hover_text("the window as it is now, into the working directory")
                .clicked()
            {
                let seconds = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                self.request_png(ui.ctx(), format!("warpbench-{seconds}.png").into());
            }
            ui.separator();
            ui.label(self.doc.case.files.title());
            ui.separator();
            let layout_label = ui.label("layout").id;
            let mut single = match self.layout {
                Layout::Quad { .. } => None,
                Layout::Single(p) => Some(p),
            };
            egui::ComboBox::from_id_salt("layout")
                .selected_text(single.map_or("2 × 2", |p| p.name()))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut single, None, "2 × 2");
                    for p in Plane::ALL {
                        ui.selectable_value(&mut single, Some(p), p.name());
                    }
                })
                .response
                .labelled_by(layout_label);
            self.layout = match (single, self.layout) {
                (Some(p), _) => Layout::Single(p),
                (None, Layout::Quad { grid_plane }) => Layout::Quad { grid_plane },
                (None, Layout::Single(_)) => Layout::Quad {
                    grid_plane: Plane::Axial,
                },
            };
            if let Layout::Quad { grid_plane } = &mut self.layout {
                let label = ui.label("grid view").id;
                egui::ComboBox::from_id_salt("grid plane")
                    .selected_text(grid_plane.name())
                    .show_ui(ui, |ui| {
                        for p in Plane::ALL {
                            ui.selectable_value(grid_plane, p, p.name());
                        }
                    })
                    .response
                    .labelled_by(label);
            }
            ui.separator();
            let measuring = self.viewers.tool == Tool::Measure;
            if ui
                .selectable_label(measuring, "measure")
                .on_hover_text(
                    "drag in a view to measure in mm; drag an end to move it, click to clear; \
                     Esc leaves the tool",
                )
                .clicked()
            {
                self.viewers.tool = if measuring {
                    Tool::Navigate
                } else {
                    Tool::Measure
                };
            }
            if self.viewers.rulers.iter().any(Option::is_some)
                && ui.small_button("clear rulers").clicked()
            {
                self.viewers.rulers = [None; 3];
            }
        });
        if let Some(load) = &self.load {
            let (fraction, reading) = load.progress();
            ui.horizontal(|ui| {
                ui.add(
                    style::progress_bar(ui, fraction)
                        .desired_width(300.0)
                        .text(format!("reading {reading}")),
                );
                if ui.button("cancel").clicked() {
                    load.cancel();
                }
            });
        }
    }

    fn status_ui(&self, ui: &mut egui::Ui) {
        let mut parts = Vec::new();
        let case = &self.doc.case;
        if let Some((plane, p)) = self.viewers.hover {
            parts.push(format!(
                "{} · RAS {:.1}, {:.1}, {:.1} mm",
                plane.name(),
                p[0],
                p[1],
                p[2]
            ));
            let value = |v: Option<f32>| v.map_or("–".to_string(), |v| format!("{v:.4}"));
            parts.push(format!(
                "fixed {}",
                value(crate::volume::resample::sample_world(&case.fixed, p))
            ));
            if let Some(d) = &self.doc.deformation
                && self.viewers.display.warped
            {
                let u = crate::volume::warp::displacement_at(&d.field, p);
                let det = crate::volume::resample::sample_world(&d.jacobian, p);
                parts.push(format!(
                    "u {:.2}, {:.2}, {:.2} mm (|u| {:.2}) · det J {}",
                    u[0],
                    u[1],
                    u[2],
                    (u[0] * u[0] + u[1] * u[1] + u[2] * u[2]).sqrt(),
                    value(det)
                ));
                let folded = crate::eval::non_diffeomorphic::folded_at_world(&d.folded_cubes, p);
                if let Some(f) = folded.filter(|&f| f > 0.0) {
                    parts.push(format!("cube folded {:.1} %", 100.0 * f));
                }
            }
            let q = pull::Pull::of(&self.doc, &self.viewers.display).moving_point(p);
            parts.push(format!(
                "moving {}",
                value(crate::volume::resample::sample_world(&case.moving, q))
            ));
            for (name, labels, at) in [
                ("fixed label", &case.fixed_labels, p),
                ("moving label", &case.moving_labels, q),
            ] {
                if let Some(l) = labels {
                    let id = crate::volume::resample::label_at_world(l, at);
                    parts.push(format!("{name} {}", case.label_table.title(id)));
                }
            }
        } else {
            let c = self.viewers.cursor_mm;
            parts.push(format!(
                "cursor RAS {:.1}, {:.1}, {:.1} mm",
                c[0], c[1], c[2]
            ));
        }
        parts.push(format!("GPU: {}", self.gpu_name));
        let frames = || match (
            self.frames.percentile(0.5, 240),
            self.frames.percentile(0.95, 240),
        ) {
            (Some(p50), Some(p95)) => {
                format!("frame time over the last 240 frames: median {p50:.1} ms, p95 {p95:.1} ms")
            }
            _ => "no frame times yet".into(),
        };
        ui.label(parts.join("   ·   ")).on_hover_ui(|ui| {
            ui.label(frames());
        });
    }

    fn views_ui(&mut self, ui: &mut egui::Ui) {
        self.viewers.keys_ui(ui.ctx());
        let rect = ui.available_rect_before_wrap();
        ui.allocate_rect(rect, egui::Sense::hover());
        let gap = 3.0;
        match self.layout {
            Layout::Single(plane) => self.viewers.plane_ui(ui, plane, rect, &self.doc),
            Layout::Quad { grid_plane } => {
                let half = (rect.size() - egui::vec2(gap, gap)) / 2.0;
                let cell = |c: f32, r: f32| {
                    egui::Rect::from_min_size(
                        rect.min + egui::vec2(c * (half.x + gap), r * (half.y + gap)),
                        half,
                    )
                };
                self.viewers
                    .plane_ui(ui, Plane::Axial, cell(0.0, 0.0), &self.doc);
                self.viewers
                    .plane_ui(ui, Plane::Coronal, cell(1.0, 0.0), &self.doc);
                self.viewers
                    .plane_ui(ui, Plane::Sagittal, cell(0.0, 1.0), &self.doc);
                self.viewers
                    .grid_only_ui(ui, grid_plane, cell(1.0, 1.0), &self.doc);
            }
        }
    }
}

/// Writes `image` as a PNG, atomically.
fn save_png(path: &std::path::Path, image: &egui::ColorImage) -> crate::Result<()> {
    let [w, h] = image.size;
    let rgba = image::RgbaImage::from_raw(w as u32, h as u32, image.as_raw().to_vec())
        .ok_or_else(|| crate::Error::format(path, "the screenshot has the wrong size"))?;
    let mut bytes = Vec::new();
    rgba.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(|e| crate::Error::format(path, e.to_string()))?;
    crate::atomic::write_bytes(path, &bytes)
}

/// The display a new case starts with: auto-contrast windows, and the labels its table hides.
fn display_for(case: &Case) -> Display {
    let mut display = Display::new(Window::auto(&case.fixed), Window::auto(&case.moving));
    display.labels.hidden.extend(case.label_table.hidden());
    display
}

impl eframe::App for WarpbenchApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        WarpbenchApp::logic(self, ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        let cpu_ms = frame.info().cpu_usage.unwrap_or(0.0) as f64 * 1e3;
        let interval = self
            .frames
            .frame(cpu_ms, self.doc.run.is_running(), self.doc.generation);
        if let Some(gpu) = &self.gpu {
            // Frames coming faster than a run's own repaints mean someone is interacting: runs
            // then submit in pieces short enough for the frames to get through.
            let interactive = interval.is_some_and(|dt| dt < 0.8 * RUN_REPAINT.as_secs_f64());
            gpu.set_submission_budget(if interactive {
                gpu.interactive_budget()
            } else {
                gpu.background_budget()
            });
        }
        // Panels leave their background to the clear colour: on a software rasteriser every
        // full-window fill costs as much as the rest of the frame.
        let panel = egui::Frame::side_top_panel(ui.style()).fill(egui::Color32::TRANSPARENT);
        let central = egui::Frame::central_panel(ui.style()).fill(egui::Color32::TRANSPARENT);
        egui::Panel::top("top")
            .frame(panel)
            .show(ui, |ui| self.top_ui(ui));
        egui::Panel::bottom("status")
            .frame(panel)
            .show(ui, |ui| self.status_ui(ui));
        egui::Panel::left("display")
            .frame(panel)
            .default_size(300.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    panels::display::display_ui(
                        ui,
                        &mut self.viewers.display,
                        &mut self.viewers.cursor_mm,
                        &self.doc,
                    )
                });
            });
        let mut request = None;
        let mut metrics_request = None;
        let mut training_request = None;
        let mut landmark_action = None;
        let joint_key = self.joint_key();
        egui::Panel::right("run")
            .frame(panel)
            .default_size(380.0)
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    // Five tabs in the panel's default width.
                    ui.spacing_mut().item_spacing.x = 2.0;
                    ui.selectable_value(&mut self.tab, Tab::Registration, "Registration");
                    ui.selectable_value(&mut self.tab, Tab::Training, "Training");
                    ui.selectable_value(&mut self.tab, Tab::Landmarks, "Landmarks");
                    ui.selectable_value(&mut self.tab, Tab::Metrics, "Metrics");
                    ui.selectable_value(&mut self.tab, Tab::Images, "Images");
                });
                ui.separator();
                egui::ScrollArea::vertical().show(ui, |ui| match self.tab {
                    Tab::Registration => request = self.registration.ui(ui, &self.doc),
                    Tab::Training => training_request = self.training.ui(ui),
                    Tab::Landmarks => {
                        landmark_action = self.landmark_panel.ui(ui, &self.doc, &mut self.viewers)
                    }
                    Tab::Metrics => metrics_request = self.metrics.ui(ui, &self.doc, self.scoring),
                    Tab::Images => panels::images::images_ui(
                        ui,
                        &mut self.viewers.display,
                        &mut self.viewers.cursor_mm,
                        &self.doc,
                        (&mut self.joint_histogram, joint_key),
                    ),
                });
            });
        egui::CentralPanel::default_margins()
            .frame(central)
            .show(ui, |ui| self.views_ui(ui));
        if let Some(files) = self.open_form.ui(&ctx) {
            self.open(loader::Source::Case(files), &ctx);
        }
        let has_deformation = self.doc.deformation.is_some();
        if let Some(request) = self.session_form.ui(&ctx, has_deformation) {
            self.handle_session(request, &ctx);
        }
        if let Some(notice) = &self.notice {
            let mut keep = true;
            egui::Window::new(if notice.error { "Error" } else { "Note" })
                .collapsible(false)
                .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 60.0))
                .show(&ctx, |ui| {
                    ui.label(&notice.text);
                    keep = !ui.button("OK").clicked();
                });
            if !keep {
                self.notice = None;
            }
        }
        self.apply_landmark_edits();
        if let Some(request) = request {
            self.handle(request, &ctx);
        }
        if let Some(request) = metrics_request {
            self.handle_metrics(request, &ctx);
        }
        if let Some(action) = landmark_action {
            self.handle_landmarks(action, &ctx);
        }
        if let Some(request) = training_request {
            self.handle_training(request, &ctx);
        }
        self.frame_count += 1;
        if self.screenshot_at_frame == Some(self.frame_count)
            && let Some(path) = self.screenshot_to.clone()
        {
            self.request_png(&ctx, path);
        }
        if self.continuous || self.screenshot_at_frame > Some(self.frame_count) {
            ctx.request_repaint();
        }
        if let Some(limit) = self.quit_after_s {
            let now = ctx.input(|i| i.time);
            if now > limit {
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            } else {
                // Nothing else may ask for a frame before the limit.
                ctx.request_repaint_after(std::time::Duration::from_secs_f64(limit - now));
            }
        }
    }

    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4] {
        visuals.panel_fill.to_normalized_gamma_f32()
    }

    fn on_exit(&mut self) {
        // A registration still running is cancelled and waited for (one iteration at most), so
        // the process never tears the shared device down under its worker.
        if let Some(session) = self.session.take() {
            session.cancel_and_wait();
        }
        // A run that is training saves its checkpoint before the window goes; one still
        // preparing its data has nothing to lose and is left to end with the process.
        if let Some(run) = self.training_run.take()
            && matches!(
                self.training.log.status,
                panels::training::TrainingStatus::Running { .. }
            )
        {
            run.send(crate::session::training::TrainingCommand::Stop);
            run.join();
        }
        if let Some(path) = &self.frame_log_path
            && let Err(e) = self.frames.write_csv(path)
        {
            log::error!("{e}");
        }
    }
}
