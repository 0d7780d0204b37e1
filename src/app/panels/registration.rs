//! The registration panel: preset, every parameter under "advanced" (the run's TOML), Run, Pause,
//! Cancel, progress, live regularisation and learning rate, and the live plots; or a trained
//! network (model folder, refinement steps) in place of the iterative run.

use super::history_plot::{significant, stacked_history_ui};
use super::path_field::{Dialog, PathField};
use super::sweep::{SweepAction, SweepSection};
use crate::app::state::{Document, RunStatus};
use crate::register::affine::Initialisation;
use crate::register::config::{PRESETS, RegistrationConfig};
use crate::register::deformable::Regulariser;
use crate::register::landmark_fit::FitModel;
use crate::register::preset_choice::PresetChoice;
use crate::session::{Method, NetworkJob, Sweep};
use crate::volume::Grid;

/// How far the rigid fit of the counted landmark pairs leaves them apart, or why it cannot fit.
fn rigid_fit_text(doc: &Document) -> String {
    match doc.landmark_fit(FitModel::Rigid) {
        Ok(fit) => {
            let n = fit.residuals_mm.len() as f64;
            let rms = (fit.residuals_mm.iter().map(|e| e * e).sum::<f64>() / n).sqrt();
            let (worst, largest) = fit
                .residuals_mm
                .iter()
                .enumerate()
                .fold((0, 0.0), |b, (i, &e)| if e > b.1 { (i, e) } else { b });
            // The fit's pairs are the counted rows of the TRE table, in its order.
            let name = doc.tre.as_ref().and_then(|t| {
                t.pairs
                    .iter()
                    .filter(|p| !doc.excluded_pairs.contains(&p.name))
                    .nth(worst)
                    .map(|p| p.name.clone())
            });
            let name = name.unwrap_or_else(|| format!("pair {}", worst + 1));
            format!(
                "the rigid fit leaves the pairs {rms:.1} mm apart (rms); the farthest, {name}, \
                 {largest:.1} mm"
            )
        }
        Err(e) => e.to_string(),
    }
}

/// What the panel asks the app to do.
#[derive(Clone, Debug, PartialEq)]
pub enum RunRequest {
    Start(Box<RegistrationConfig>),
    StartSweep(Box<Sweep>),
    /// Write the sweep's points to a file.
    ExportSweep(std::path::PathBuf),
    StartNetwork(NetworkJob),
    /// Put the `warpbench` command that runs this on the case on the clipboard.
    CopyCommand(Method),
    Pause,
    Resume,
    Cancel,
    SetWeight(Regulariser, f64),
    SetLearningRate(f64),
}

pub struct RegistrationPanel {
    pub preset: String,
    /// Why the preset suits the images, while it is the app's choice rather than the user's: a
    /// new case then gets its own.
    chosen_because: Option<String>,
    pub config: RegistrationConfig,
    /// The open case's fixed grid, which presets are fitted to.
    fixed: Grid,
    /// The advanced editor's text, and why it does not parse when it does not.
    toml: String,
    toml_error: Option<String>,
    learning_rate: f64,
    /// A model folder written by a training run, for "Register with network".
    pub model: PathField,
    pub refinement_steps: u32,
    pub sweep: SweepSection,
    /// The last command line put on the clipboard, shown until the next.
    pub command: Option<String>,
    /// The affine stage's start a landmark start replaced, to go back to.
    replaced_start: Option<Initialisation>,
}

impl RegistrationPanel {
    /// The panel on the user's preset, else the one the images call for, for a case whose fixed
    /// image has grid `fixed`.
    pub fn new(
        user_preset: Option<&str>,
        images: &PresetChoice,
        fixed: &Grid,
    ) -> RegistrationPanel {
        let (preset, chosen_because) = match user_preset {
            Some(name) => (name, None),
            None => (images.name, Some(images.reason.clone())),
        };
        let config = RegistrationConfig::preset(preset)
            .unwrap_or_else(|_| {
                RegistrationConfig::preset(PRESETS[0]).expect("the first preset exists")
            })
            .fitted_to(fixed);
        let mut panel = RegistrationPanel {
            fixed: fixed.clone(),
            preset: preset.to_string(),
            chosen_because,
            toml: String::new(),
            toml_error: None,
            learning_rate: 0.0,
            model: PathField::default(),
            refinement_steps: 50,
            sweep: SweepSection::new(0.0),
            command: None,
            replaced_start: None,
            config,
        };
        panel.config_changed();
        panel
    }

    /// Takes `config` (a reopened session's) as the panel's parameters, under the name of the
    /// preset it is, else "custom".
    pub fn set_config(&mut self, config: RegistrationConfig) {
        self.config = config;
        self.chosen_because = None;
        self.name_preset();
        self.config_changed();
    }

    /// Names the parameters after the preset they are (with or without a landmark start), else
    /// "custom".
    fn name_preset(&mut self) {
        self.preset = self
            .config
            .preset_and_start(&self.fixed)
            .map_or("custom", |(name, _)| name)
            .to_string();
    }

    /// The preset `name` fitted to the case, with the landmark start kept if it was on.
    fn take_preset(&mut self, name: &str) {
        let Ok(preset) = RegistrationConfig::preset(name) else {
            return;
        };
        let landmarks = self.starts_from_landmarks();
        let preset = preset.fitted_to(&self.fixed);
        self.config = if landmarks {
            preset.with_landmark_start()
        } else {
            preset
        };
        self.config_changed();
    }

    fn starts_from_landmarks(&self) -> bool {
        self.config
            .affine
            .as_ref()
            .is_some_and(|a| a.initialisation == Initialisation::Landmarks)
    }

    /// A new case, with its fixed grid and the preset its images call for: a preset the app chose
    /// gives way to that one, a preset the user chose is fitted to the grid, a configuration the
    /// user changed is kept.
    pub fn case_changed(&mut self, fixed: &Grid, images: &PresetChoice) {
        let unchanged = self
            .config
            .preset_and_start(&self.fixed)
            .map(|(name, _)| name);
        self.fixed = fixed.clone();
        let Some(name) = unchanged else {
            return;
        };
        if self.chosen_because.is_some() {
            self.preset = images.name.to_string();
            self.chosen_because = Some(images.reason.clone());
            self.take_preset(images.name);
        } else {
            self.take_preset(name);
        }
    }

    fn config_changed(&mut self) {
        self.toml = toml::to_string_pretty(&self.config).unwrap_or_default();
        self.toml_error = None;
        self.learning_rate = self
            .config
            .deformable
            .as_ref()
            .and_then(|d| d.levels.first())
            .map_or(0.5, |l| l.learning_rate);
        self.sweep.centre_on(self.diffusion());
    }

    /// The deformable stage's diffusion weight (0 without one).
    fn diffusion(&self) -> f64 {
        self.config
            .deformable
            .as_ref()
            .map_or(0.0, |d| Regulariser::Diffusion.weight(d))
    }

    /// Takes `weight` as a deformable regulariser's weight, in the advanced text too.
    fn set_weight(&mut self, term: Regulariser, weight: f64) {
        if let Some(d) = &mut self.config.deformable {
            *term.weight_mut(d) = weight;
        }
        self.toml = toml::to_string_pretty(&self.config).unwrap_or_default();
    }

    /// "start from the landmarks": the affine stage starts from the rigid fit of the counted
    /// landmark pairs in place of its own start; unticked, its own start comes back. Ticked, it
    /// says how far the fit leaves the pairs apart, so a pair placed wrong shows before a run.
    fn landmark_start_ui(&mut self, ui: &mut egui::Ui, doc: &Document) {
        let counted = doc.counted_pairs();
        let Some(affine) = &mut self.config.affine else {
            return;
        };
        let mut from_landmarks = affine.initialisation == Initialisation::Landmarks;
        let changed = ui
            .add_enabled(
                counted >= 3 || from_landmarks,
                egui::Checkbox::new(
                    &mut from_landmarks,
                    format!("start from the landmarks ({counted} pairs)"),
                ),
            )
            .on_hover_text(
                "the affine stage starts from the rigid transform that best fits the landmark \
                 pairs, in place of its own start: for images whose headers place them apart or \
                 turned, where intensities alone cannot find the pose. The same pairs then \
                 score the result: its TRE is no longer an independent check",
            )
            .on_disabled_hover_text("needs three landmark pairs or more (Landmarks tab)")
            .changed();
        if from_landmarks && !changed {
            ui.weak(rigid_fit_text(doc));
        }
        if !changed {
            return;
        }
        affine.initialisation = if from_landmarks {
            self.replaced_start = Some(affine.initialisation);
            Initialisation::Landmarks
        } else {
            let presets_start = RegistrationConfig::preset(&self.preset)
                .ok()
                .and_then(|p| p.affine.map(|a| a.initialisation));
            self.replaced_start
                .take()
                .or(presets_start)
                .unwrap_or(Initialisation::CentresOfMass)
        };
        self.name_preset();
        self.config_changed();
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, doc: &Document) -> Option<RunRequest> {
        let mut request = None;
        let running = doc.run.is_running();
        ui.add_enabled_ui(!running, |ui| {
            ui.horizontal(|ui| {
                let label = ui.label("preset").id;
                let before = self.preset.clone();
                egui::ComboBox::from_id_salt("preset")
                    .selected_text(&self.preset)
                    .show_ui(ui, |ui| {
                        for p in PRESETS {
                            ui.selectable_value(&mut self.preset, p.to_string(), *p);
                        }
                    })
                    .response
                    .labelled_by(label);
                if self.preset != before {
                    let name = self.preset.clone();
                    self.chosen_because = None;
                    self.take_preset(&name);
                }
            });
            if let Some(reason) = &self.chosen_because
                && self.preset != "custom"
            {
                ui.weak(format!("Chosen because {reason}."));
            }
            self.landmark_start_ui(ui, doc);
            egui::CollapsingHeader::new("advanced").show(ui, |ui| {
                ui.label("The whole run as TOML (the format `warpbench register --config` reads).");
                let edited = egui::ScrollArea::vertical()
                    .max_height(220.0)
                    .show(ui, |ui| {
                        ui.add(
                            egui::TextEdit::multiline(&mut self.toml)
                                .code_editor()
                                .desired_width(f32::INFINITY),
                        )
                        .changed()
                    })
                    .inner;
                if edited {
                    match toml::from_str::<RegistrationConfig>(&self.toml)
                        .map_err(|e| e.to_string())
                        .and_then(|c| c.validate().map(|_| c).map_err(|e| e.to_string()))
                    {
                        Ok(config) => {
                            self.config = config;
                            self.toml_error = None;
                            self.preset = "custom".into();
                            self.chosen_because = None;
                        }
                        Err(e) => self.toml_error = Some(e),
                    }
                }
                if let Some(e) = &self.toml_error {
                    ui.colored_label(ui.visuals().error_fg_color, e);
                }
            });
        });
        ui.horizontal(|ui| {
            let can_start = !running && self.toml_error.is_none();
            if ui
                .add_enabled(can_start, egui::Button::new("Run"))
                .clicked()
            {
                request = Some(RunRequest::Start(Box::new(self.config.clone())));
            }
            match doc.run {
                RunStatus::Running {
                    paused: false,
                    pausable: true,
                } => {
                    if ui.button("Pause").clicked() {
                        request = Some(RunRequest::Pause);
                    }
                }
                RunStatus::Running { paused: true, .. } => {
                    if ui.button("Resume").clicked() {
                        request = Some(RunRequest::Resume);
                    }
                }
                RunStatus::Running {
                    pausable: false, ..
                } => {
                    ui.add_enabled(false, egui::Button::new("Pause"))
                        .on_disabled_hover_text("a network run has no iterations to pause between");
                }
                _ => {
                    ui.add_enabled(false, egui::Button::new("Pause"));
                }
            }
            if ui
                .add_enabled(running, egui::Button::new("Cancel"))
                .clicked()
            {
                request = Some(RunRequest::Cancel);
            }
            if command_button(ui, self.toml_error.is_none(), "warpbench register") {
                request = Some(RunRequest::CopyCommand(Method::Iterative(Box::new(
                    self.config.clone(),
                ))));
            }
        });
        if let Some(line) = &self.command {
            egui::Frame::new()
                .fill(ui.visuals().extreme_bg_color)
                .inner_margin(4.0)
                .show(ui, |ui| {
                    ui.add(egui::Label::new(
                        egui::RichText::new(line).monospace().small(),
                    ))
                    .on_hover_text("on the clipboard: run it from any folder");
                });
        }
        egui::CollapsingHeader::new("with a trained network")
            .id_salt("network")
            .show(ui, |ui| {
                ui.label(
                    "Aligns both volumes to the model's atlas, runs the network and refines its \
                     map (the work of `warpbench infer`).",
                );
                self.model
                    .ui(ui, "model folder", "runs/brain", Dialog::Folder);
                ui.horizontal(|ui| {
                    let name = ui.label("refinement steps").id;
                    ui.add(egui::DragValue::new(&mut self.refinement_steps).range(0..=1000))
                        .labelled_by(name)
                        .on_hover_text("Adam steps on the network's map; 0 keeps it as it is");
                });
                let model = self.model.text.trim();
                let job = NetworkJob {
                    model: model.into(),
                    refinement_steps: Some(self.refinement_steps),
                };
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(
                            !running && !model.is_empty(),
                            egui::Button::new("Register with network"),
                        )
                        .clicked()
                    {
                        request = Some(RunRequest::StartNetwork(job.clone()));
                    }
                    if command_button(ui, !model.is_empty(), "warpbench infer") {
                        request = Some(RunRequest::CopyCommand(Method::Network(job)));
                    }
                });
            });
        egui::CollapsingHeader::new("smoothness sweep")
            .id_salt("sweep")
            .show(ui, |ui| {
                let can_start =
                    !running && self.toml_error.is_none() && self.config.deformable.is_some();
                match self.sweep.ui(ui, doc, can_start) {
                    Some(SweepAction::Start(diffusion)) => {
                        request = Some(RunRequest::StartSweep(Box::new(Sweep {
                            config: self.config.clone(),
                            diffusion,
                        })));
                    }
                    Some(SweepAction::CopyCommand(diffusion)) => {
                        request = Some(RunRequest::CopyCommand(Method::Sweep(Box::new(Sweep {
                            config: self.config.clone(),
                            diffusion,
                        }))));
                    }
                    Some(SweepAction::Use(lambda)) => {
                        self.set_weight(Regulariser::Diffusion, lambda)
                    }
                    Some(SweepAction::Export(path)) => {
                        request = Some(RunRequest::ExportSweep(path));
                    }
                    None => {}
                }
            });
        progress_ui(ui, doc);
        // The sliders edit the configuration's weights themselves.
        if let Some(deformable) = &mut self.config.deformable {
            // A sweep sets λ itself, point by point, and holds the others.
            let sweeping = running && !doc.sweep_weights.is_empty();
            let mut changed = None;
            for term in Regulariser::ALL {
                let (range, text) = match term {
                    Regulariser::Diffusion => (0.0..=10.0, "diffusion λ"),
                    Regulariser::Bending => (0.0..=10.0, "bending"),
                    Regulariser::Folding => (0.0..=1000.0, "folding"),
                };
                let weight = term.weight_mut(deformable);
                let slider = ui
                    .add_enabled(
                        !sweeping,
                        egui::Slider::new(weight, range)
                            .logarithmic(true)
                            .custom_formatter(|v, _| significant(v))
                            .text(text),
                    )
                    .on_disabled_hover_text("a sweep sets λ point by point and holds the others");
                if slider.changed() {
                    changed = Some((term, term.weight(deformable)));
                }
            }
            if let Some((term, weight)) = changed {
                self.set_weight(term, weight);
                if running {
                    request = Some(RunRequest::SetWeight(term, weight));
                }
            }
        }
        // Each level has its own learning rate; this one retunes the running level only, so it
        // waits for a run (before one, the levels' rates are set under "advanced").
        let lr = ui
            .add_enabled(
                running,
                egui::Slider::new(&mut self.learning_rate, 0.01..=5.0)
                    .logarithmic(true)
                    .text("learning rate (mm)"),
            )
            .on_disabled_hover_text(
                "retunes a running level; set each level's rate under advanced",
            );
        if running && (lr.drag_stopped() || (lr.changed() && !lr.dragged())) {
            request = Some(RunRequest::SetLearningRate(self.learning_rate));
        }
        plots_ui(ui, doc);
        request
    }
}

fn progress_ui(ui: &mut egui::Ui, doc: &Document) {
    let text = match &doc.run {
        RunStatus::Idle => "not run yet".to_string(),
        RunStatus::Running { paused, .. } => {
            let state = if *paused { "paused" } else { "running" };
            // A sweep names the point it runs in place of "running", to stay on one line.
            let state = match (doc.sweep_weights.get(doc.sweep.len()), paused) {
                (Some(lambda), false) => format!(
                    "λ {lambda} ({}/{})",
                    doc.sweep.len() + 1,
                    doc.sweep_weights.len()
                ),
                (Some(lambda), true) => format!("paused at λ {lambda}"),
                (None, _) => state.to_string(),
            };
            match &doc.progress {
                Some(p) => format!(
                    "{state}: {} level {}/{} · iteration {}/{} · {:.1} s",
                    p.stage.name(),
                    p.level + 1,
                    p.levels,
                    p.iteration,
                    p.iterations,
                    doc.elapsed_s
                ),
                None => format!("{state}: {}", doc.phase.unwrap_or("preparing the pyramid")),
            }
        }
        RunStatus::Finished { seconds } => format!("finished in {seconds:.1} s"),
        RunStatus::Cancelled => "cancelled".into(),
        RunStatus::Failed(e) => format!("failed: {e}"),
    };
    let fraction = doc
        .progress
        .as_ref()
        .map_or(0.0, |p| p.iteration as f32 / p.iterations.max(1) as f32);
    let fraction = if matches!(doc.run, RunStatus::Finished { .. }) {
        1.0
    } else {
        fraction
    };
    ui.add(crate::app::style::progress_bar(ui, fraction).text(text));
}

/// Where each stage and level begins in the losses: their similarity measures differ, so the
/// curve jumps there. In a sweep (`sweep_weights` not empty) each point's start is marked with
/// its λ instead of its levels, whose labels would crowd the λ out.
fn stage_marks(
    losses: &[crate::app::state::LossPoint],
    sweep_weights: &[f64],
) -> Vec<(f64, String)> {
    let starts = losses.iter().enumerate().filter(|(n, l)| {
        let before = n.checked_sub(1).map(|b| &losses[b]);
        // The rigid stage's start candidates start their iterations again too; only a sweep's
        // deformable points count as new starts that way.
        let restarted = |b: &crate::app::state::LossPoint| {
            l.stage == "deformable" && !sweep_weights.is_empty() && l.iteration < b.iteration
        };
        before.is_none_or(|b| (b.stage, b.level) != (l.stage, l.level) || restarted(b))
    });
    let mut points = sweep_weights.iter();
    starts
        .filter_map(|(_, l)| {
            let label = match (l.stage, l.level, sweep_weights.is_empty()) {
                ("deformable", 0, false) => format!("λ {}", points.next()?),
                ("deformable", _, false) => return None,
                _ => format!("{} {}", l.stage, l.level + 1),
            };
            Some((l.step as f64, label))
        })
        .collect()
}

/// A button that asks for the command line of what the buttons beside it run; whether it was
/// clicked.
pub(super) fn command_button(ui: &mut egui::Ui, enabled: bool, program: &str) -> bool {
    ui.add_enabled(enabled, egui::Button::new("as command"))
        .on_hover_text(format!(
            "put the `{program}` command that runs this on the case on the clipboard"
        ))
        .clicked()
}

fn plots_ui(ui: &mut egui::Ui, doc: &Document) {
    stacked_history_ui(
        ui,
        "losses (per iteration, weights applied)",
        &doc.losses,
        |l| l.step as f64,
        &[
            &[("similarity", |l| Some(l.losses.similarity))],
            &[("diffusion", |l| l.losses.diffusion)],
            &[("bending", |l| l.losses.bending)],
            &[("folding", |l| l.losses.folding)],
            &[("label soft Dice", |l| l.label_dice)],
        ],
        &stage_marks(&doc.losses, &doc.sweep_weights),
    );
    stacked_history_ui(
        ui,
        "scores (per snapshot, by time in s)",
        &doc.scores,
        |s| s.elapsed_s,
        &[
            &[("TRE mm", |s| s.tre_mm)],
            &[("Dice", |s| s.dice)],
            &[("fold %", |s| Some(s.fold_percent))],
            &[("NDV %", |s| Some(s.ndv_percent))],
        ],
        &[],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_configuration_shows_the_name_of_its_preset_or_custom() {
        let grid = Grid::axis_aligned([8, 8, 8], [1.0; 3], [0.0; 3]).unwrap();
        let images = PresetChoice {
            name: "brain-mri",
            reason: "two T1 images".into(),
        };
        let mut panel = RegistrationPanel::new(Some("ct-mr"), &images, &grid);
        panel.set_config(RegistrationConfig::preset("fast").unwrap());
        assert_eq!(panel.preset, "fast");
        let mut edited = RegistrationConfig::preset("lung-ct").unwrap();
        edited.deformable.as_mut().unwrap().diffusion = 0.123;
        panel.set_config(edited);
        assert_eq!(panel.preset, "custom");
        assert_eq!(panel.diffusion(), 0.123);
    }

    #[test]
    fn a_preset_the_app_chose_gives_way_to_the_next_cases_and_one_the_user_chose_stays() {
        let grid = Grid::axis_aligned([8, 8, 8], [1.0; 3], [0.0; 3]).unwrap();
        let finer = Grid::axis_aligned([16, 16, 16], [0.5; 3], [0.0; 3]).unwrap();
        let ct_mr = PresetChoice {
            name: "ct-mr",
            reason: "a CT and an MR".into(),
        };
        let two_t1 = PresetChoice {
            name: "brain-mri",
            reason: "two T1 images".into(),
        };
        let mut chosen = RegistrationPanel::new(None, &ct_mr, &grid);
        assert_eq!(chosen.preset, "ct-mr");
        chosen.case_changed(&finer, &two_t1);
        assert_eq!(chosen.preset, "brain-mri");
        assert_eq!(chosen.chosen_because.as_deref(), Some("two T1 images"));
        let brain = RegistrationConfig::preset("brain-mri").unwrap();
        assert_eq!(chosen.config, brain.fitted_to(&finer));

        let mut picked = RegistrationPanel::new(Some("fast"), &ct_mr, &grid);
        picked.case_changed(&finer, &two_t1);
        assert_eq!(picked.preset, "fast");
        assert_eq!(picked.chosen_because, None);
        let fast = RegistrationConfig::preset("fast").unwrap();
        assert_eq!(picked.config, fast.fitted_to(&finer));
    }

    #[test]
    fn each_stage_and_level_is_marked_where_its_losses_begin() {
        let point = |step, stage, level, iteration| crate::app::state::LossPoint {
            step,
            stage,
            level,
            iteration,
            losses: crate::register::Losses::similarity_only(-1.0),
            label_dice: None,
        };
        let losses = [
            point(1, "rigid", 0, 1),
            point(20, "rigid", 0, 20),
            point(30, "rigid", 0, 5),
            point(41, "rigid", 1, 1),
            point(80, "deformable", 0, 1),
            point(90, "deformable", 0, 11),
        ];
        let marks = stage_marks(&losses, &[]);
        assert_eq!(
            marks,
            [
                (1.0, "rigid 1".to_string()),
                (41.0, "rigid 2".to_string()),
                (80.0, "deformable 1".to_string()),
            ]
        );
        // A sweep: each point starts the deformable stage's first level again (with one level,
        // only the iteration count tells), and its later levels go unmarked.
        let sweep = [
            point(1, "affine", 0, 1),
            point(40, "deformable", 0, 1),
            point(99, "deformable", 0, 60),
            point(100, "deformable", 0, 1),
            point(159, "deformable", 0, 60),
            point(160, "deformable", 1, 1),
        ];
        assert_eq!(
            stage_marks(&sweep, &[0.5, 5.0]),
            [
                (1.0, "affine 1".to_string()),
                (40.0, "λ 0.5".to_string()),
                (100.0, "λ 5".to_string()),
            ]
        );
    }
}
