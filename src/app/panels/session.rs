//! The session window: save the session (replacing a file only when told to), reopen one, and
//! export the results (warped image and labels, displacement, affine, parameters) into a folder.

use super::path_field::{Dialog, PathField, ask_replace};
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq)]
pub enum SessionRequest {
    Save(PathBuf),
    Open(PathBuf),
    /// Write the results into this folder.
    Export(PathBuf),
}

#[derive(Default)]
pub struct SessionForm {
    pub open: bool,
    pub file: PathField,
    pub folder: PathField,
    /// A save or export that would replace existing files, waiting for a yes.
    confirm: Option<SessionRequest>,
}

/// The files an export writes, to ask before replacing any of them.
const RESULT_FILES: [&str; 5] = [
    "warped.nii.gz",
    "warped_labels.nii.gz",
    "displacement.nii.gz",
    "affine.txt",
    "config.toml",
];

impl SessionForm {
    pub fn ui(&mut self, ctx: &egui::Context, has_deformation: bool) -> Option<SessionRequest> {
        let mut request = None;
        let mut open = self.open;
        egui::Window::new("Session")
            .open(&mut open)
            .collapsible(false)
            .default_width(460.0)
            .show(ctx, |ui| {
                ui.label(
                    "A session keeps the case's files, the landmarks, the transform, the view, \
                     the registration parameters and the results table (.warpbench.json; the \
                     displacement goes beside it).",
                );
                self.file
                    .ui(ui, "session file", "case.warpbench.json", Dialog::Save);
                let path = self.file.path();
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(path.is_some(), egui::Button::new("Save session"))
                        .clicked()
                        && let Some(p) = &path
                    {
                        let save = SessionRequest::Save(p.clone());
                        if p.exists() {
                            self.confirm = Some(save);
                        } else {
                            request = Some(save);
                        }
                    }
                    if ui
                        .add_enabled(
                            path.as_ref().is_some_and(|p| p.exists()),
                            egui::Button::new("Open session"),
                        )
                        .clicked()
                        && let Some(p) = &path
                    {
                        request = Some(SessionRequest::Open(p.clone()));
                    }
                });
                ui.separator();
                ui.label("Export the warped moving image and labels, the displacement (mm), the affine and the parameters that made them.");
                self.folder.ui(ui, "results folder", "a folder", Dialog::Folder);
                let folder = self.folder.path();
                if ui
                    .add_enabled(
                        has_deformation && folder.is_some(),
                        egui::Button::new("Export results"),
                    )
                    .on_disabled_hover_text("needs a transform: run a registration first")
                    .clicked()
                    && let Some(f) = &folder
                {
                    let export = SessionRequest::Export(f.clone());
                    if RESULT_FILES.iter().any(|n| f.join(n).exists()) {
                        self.confirm = Some(export);
                    } else {
                        request = Some(export);
                    }
                }
                if let Some(waiting) = self.confirm.clone() {
                    let what = match &waiting {
                        SessionRequest::Save(p) => format!("{} exists.", p.display()),
                        SessionRequest::Export(f) => {
                            format!("{} already holds results.", f.display())
                        }
                        SessionRequest::Open(_) => String::new(),
                    };
                    if let Some(replace) = ask_replace(ui, &what) {
                        if replace {
                            request = Some(waiting);
                        }
                        self.confirm = None;
                    }
                }
            });
        self.open = open;
        request
    }
}
