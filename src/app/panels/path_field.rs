//! A typed path with a "browse…" button that asks the desktop's file portal on a helper thread, so
//! the path can always be typed where no portal answers; the question asked before a save
//! replaces a file; and the two together with an export button.

use crossbeam_channel::{Receiver, Sender};
use std::path::PathBuf;

/// What the browse button asks the portal for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialog {
    Open,
    Save,
    Folder,
}

pub struct PathField {
    pub text: String,
    chosen: (Sender<PathBuf>, Receiver<PathBuf>),
}

impl Default for PathField {
    fn default() -> PathField {
        PathField {
            text: String::new(),
            chosen: crossbeam_channel::unbounded(),
        }
    }
}

impl PathField {
    /// The text field (named `label` for screen readers and tests) and its browse button.
    pub fn ui(&mut self, ui: &mut egui::Ui, label: &str, hint: &str, dialog: Dialog) {
        while let Ok(path) = self.chosen.1.try_recv() {
            self.text = path.display().to_string();
        }
        ui.horizontal(|ui| {
            let name = ui.label(label).id;
            // Right to left, so the field takes what the button leaves and never widens the panel.
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button("browse…").clicked() {
                    self.browse(dialog, label.to_string(), ui.ctx().clone());
                }
                ui.add(
                    egui::TextEdit::singleline(&mut self.text)
                        .hint_text(hint)
                        .desired_width(ui.available_width()),
                )
                .labelled_by(name);
            });
        });
    }

    /// The typed path, when there is one.
    pub fn path(&self) -> Option<PathBuf> {
        let text = self.text.trim();
        (!text.is_empty()).then(|| PathBuf::from(text))
    }

    fn browse(&self, dialog: Dialog, title: String, ctx: egui::Context) {
        let tx = self.chosen.0.clone();
        let _ = std::thread::Builder::new()
            .name("file dialog".into())
            .spawn(move || {
                let d = rfd::FileDialog::new().set_title(title);
                let chosen = match dialog {
                    Dialog::Open => d.pick_file(),
                    Dialog::Save => d.save_file(),
                    Dialog::Folder => d.pick_folder(),
                };
                if let Some(path) = chosen {
                    let _ = tx.send(path);
                    ctx.request_repaint();
                }
            });
    }
}

/// The "replace or keep" question for a save that would replace existing files (`what` says
/// which): `Some(true)` to replace, `Some(false)` to keep, `None` until answered.
pub fn ask_replace(ui: &mut egui::Ui, what: &str) -> Option<bool> {
    ui.horizontal_wrapped(|ui| {
        ui.colored_label(egui::Color32::from_rgb(230, 180, 60), what);
        if ui.button("replace").clicked() {
            Some(true)
        } else if ui.button("keep").clicked() {
            Some(false)
        } else {
            None
        }
    })
    .inner
}

/// A file to export to, with its button, which asks before replacing an existing file.
#[derive(Default)]
pub struct ExportField {
    pub file: PathField,
    confirm_replace: Option<PathBuf>,
}

/// What an [`ExportField`] says about itself.
pub struct ExportText<'a> {
    /// The field's name, for screen readers and tests.
    pub label: &'a str,
    pub hint: &'a str,
    pub button: &'a str,
    /// What the button writes, on hover (none when empty).
    pub writes: &'a str,
    /// Why the button is disabled while there is nothing to write (for a field that is not
    /// always ready).
    pub needs: &'a str,
}

impl ExportField {
    /// The field and the button, enabled when `ready` and a path is typed; gives the path to
    /// write to once clicked (and, for an existing file, once the user chose to replace it).
    pub fn ui(&mut self, ui: &mut egui::Ui, text: &ExportText, ready: bool) -> Option<PathBuf> {
        self.file.ui(ui, text.label, text.hint, Dialog::Save);
        let path = self.file.path();
        let mut chosen = None;
        let mut button = ui
            .add_enabled(ready && path.is_some(), egui::Button::new(text.button))
            .on_disabled_hover_text(if ready { "needs a file" } else { text.needs });
        if !text.writes.is_empty() {
            button = button.on_hover_text(text.writes);
        }
        if button.clicked()
            && let Some(p) = path
        {
            if p.exists() {
                self.confirm_replace = Some(p);
            } else {
                chosen = Some(p);
            }
        }
        if let Some(p) = self.confirm_replace.clone()
            && let Some(replace) = ask_replace(ui, &format!("{} exists.", p.display()))
        {
            if replace {
                chosen = Some(p);
            }
            self.confirm_replace = None;
        }
        chosen
    }
}
