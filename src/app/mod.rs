//! The workbench window (eframe/egui on the shared wgpu device): a thin layer over the engine.
//!
//! Per frame, `logic` first takes what the workers sent (a loaded case, registration events and
//! snapshots) into the [`state::Document`], then `ui` draws panels and views from it. Panels
//! return requests instead of starting work themselves, and [`WarpbenchApp::handle`] and its
//! siblings in `requests` apply them in one place. Loading and registration run on their own
//! threads; the UI thread only samples and colours the three visible slices (see
//! `views::compose` for why on the CPU). The top and status bars are in `bars`.

mod bars;
pub mod command;
pub mod frame_log;
pub mod gpu_bridge;
pub mod landmarks;
pub mod loader;
pub mod panels;
pub mod pull;
mod requests;
pub mod results;
pub mod saved_session;
pub mod state;
pub mod style;
pub mod views;

use crate::case::Case;
use crate::cli::{OpenArgs, Tab};
use crate::gpu::GpuContext;
use crate::session::SessionHandle;
use bars::save_png;
use panels::registration::{RegistrationPanel, RunRequest};
use pull::Pull;
use requests::Background;
use state::Document;
use std::sync::Arc;
use views::colour::Window;
use views::display::Display;
use views::slice::Plane;
use views::viewer::Viewers;

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
        let state_dir = args
            .state_dir
            .clone()
            .or_else(panels::open::default_state_dir);
        let mut open_form = panels::open::OpenForm::new(state_dir.as_deref());
        open_form.remember(&case.files);
        let doc = Document::new(case);
        let registration = RegistrationPanel::new(
            args.preset.as_deref(),
            &doc.facts.preset,
            doc.case.fixed.grid(),
        );
        let mut app = WarpbenchApp {
            viewers: Viewers::new(
                doc.case.fixed.grid().centre_mm(),
                display_for(&doc.case, &doc.facts),
            ),
            doc,
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
        self.viewers = Viewers::new(case.fixed.grid().centre_mm(), display_for(&case, &facts));
        self.registration
            .case_changed(case.fixed.grid(), &facts.preset);
        self.doc = Document::with_facts(facts, case);
        self.joint_histogram.forget();
        self.autosaved_edits = 0;
    }

    /// Puts a saved session's landmarks, transform, results, view and parameters over the open
    /// case (which must be the session's).
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
        self.doc
            .restore_results(session.results, session.shown_result);
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
            &self.doc.results,
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
        self.take_background(ctx);
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

/// The display a new case starts with: auto-contrast windows, and its labels shown (a label map
/// opened is one to look at, as in ITK-SNAP) but for those its table hides.
fn display_for(case: &Case, facts: &state::LayerFacts) -> Display {
    let mut display = Display::new(Window::auto(&case.fixed), Window::auto(&case.moving));
    let (fixed, moving) = (
        !facts.fixed_label_sites.is_empty(),
        !facts.moving_label_sites.is_empty(),
    );
    display.labels.visible = fixed || moving;
    display.labels.moving = moving && !fixed;
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
        let interval = self.frames.frame(
            cpu_ms,
            self.doc.run.is_running(),
            self.viewers.newest_shown(),
        );
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
        let swap = egui::Panel::left("display")
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
                })
            })
            .inner
            .inner;
        if let Some(number) = swap {
            self.swap_compared(number);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_opens_with_the_labels_it_has_shown() {
        let demo = Case::from(crate::demo::load_builtin().unwrap());
        let shown = |case: &Case| {
            let labels = display_for(case, &state::LayerFacts::of(case)).labels;
            (labels.visible, labels.moving)
        };
        assert_eq!(shown(&demo), (true, false));
        let moving_only = Case {
            fixed_labels: None,
            ..demo.clone()
        };
        assert_eq!(shown(&moving_only), (true, true));
        let none = Case {
            moving_labels: None,
            ..moving_only
        };
        assert!(!shown(&none).0);
    }
}
