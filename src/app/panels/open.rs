//! The open-case form: a typed path per layer (so it works without a desktop file portal), a
//! "browse" button per path that asks the portal on a helper thread, dropped files sorted into
//! roles, and the recent cases (kept in the user's config directory).

use crate::case::CaseFiles;
use crossbeam_channel::{Receiver, Sender};
use std::path::PathBuf;

const ROLES: [&str; 7] = [
    "fixed image",
    "moving image",
    "fixed labels",
    "moving labels",
    "fixed landmarks",
    "moving landmarks",
    "label table",
];

fn slot(files: &mut CaseFiles, role: usize) -> &mut Option<PathBuf> {
    match role {
        0 => &mut files.fixed,
        1 => &mut files.moving,
        2 => &mut files.fixed_labels,
        3 => &mut files.moving_labels,
        4 => &mut files.fixed_landmarks,
        5 => &mut files.moving_landmarks,
        _ => &mut files.label_names,
    }
}

type Chosen = (usize, PathBuf);

pub struct OpenForm {
    pub open: bool,
    paths: [String; 7],
    /// Paths the file dialogs chose, by role.
    browse: (Sender<Chosen>, Receiver<Chosen>),
    pub recent: Vec<CaseFiles>,
    /// Where the recent list is kept.
    recent_file: Option<PathBuf>,
}

/// The user's Warpbench folder: `$XDG_CONFIG_HOME/warpbench` (or `~/.config/warpbench`), for the
/// recent cases and the landmark autosaves.
pub fn default_state_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("warpbench"))
}

impl OpenForm {
    /// The form, with the recent cases kept in `state_dir` (none without one).
    pub fn new(state_dir: Option<&std::path::Path>) -> OpenForm {
        let recent_file = state_dir.map(|d| d.join("recent.json"));
        OpenForm {
            open: false,
            paths: Default::default(),
            browse: crossbeam_channel::unbounded(),
            recent: recent_file
                .as_ref()
                .and_then(|p| std::fs::read(p).ok())
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default(),
            recent_file,
        }
    }

    /// Puts `files` first in the recent list and saves it (atomically; a failure only logs).
    pub fn remember(&mut self, files: &CaseFiles) {
        if files.is_demo() {
            return;
        }
        self.recent.retain(|f| f != files);
        self.recent.insert(0, files.clone());
        self.recent.truncate(8);
        if let Some(path) = &self.recent_file {
            let saved = path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .map_err(|e| crate::Error::io(path, e))
                .and_then(|_| {
                    let json = serde_json::to_vec_pretty(&self.recent).unwrap_or_default();
                    crate::atomic::write_bytes(path, &json)
                });
            if let Err(e) = saved {
                log::warn!("cannot save the recent cases: {e}");
            }
        }
    }

    pub fn show_with(&mut self, files: &CaseFiles) {
        let mut f = files.clone();
        for (role, text) in self.paths.iter_mut().enumerate() {
            *text = slot(&mut f, role)
                .as_ref()
                .map_or(String::new(), |p| p.display().to_string());
        }
        self.open = true;
    }

    /// Sorts dropped files into roles: images first fixed then moving, label maps by name
    /// (`label`, `seg`, `aseg`), label tables by extension (`.ctbl`, `.label`, `.lut`) or a text
    /// file's name (`FreeSurferColorLUT.txt`, `labels.txt`), landmark files by extension.
    pub fn drop_files(&mut self, paths: &[PathBuf]) {
        let mut images = Vec::new();
        for p in paths {
            let name = p
                .file_name()
                .map_or(String::new(), |n| n.to_string_lossy().to_lowercase());
            let text = p.display().to_string();
            if name.ends_with(".nii") || name.ends_with(".nii.gz") {
                if ["label", "seg", "aseg", "mask"]
                    .iter()
                    .any(|w| name.contains(w))
                {
                    let role = if self.paths[2].is_empty() { 2 } else { 3 };
                    self.paths[role] = text;
                } else {
                    images.push(text);
                }
            } else if [".ctbl", ".label", ".lut"]
                .iter()
                .any(|e| name.ends_with(e))
                || (name.ends_with(".txt")
                    && ["lut", "label", "colo"].iter().any(|w| name.contains(w)))
            {
                self.paths[6] = text;
            } else if [".csv", ".fcsv", ".json", ".txt"]
                .iter()
                .any(|e| name.ends_with(e))
            {
                let role = if self.paths[4].is_empty() { 4 } else { 5 };
                self.paths[role] = text;
            }
        }
        for (role, image) in images.into_iter().take(2).enumerate() {
            self.paths[role] = image;
        }
        self.open = true;
    }

    fn files(&self) -> CaseFiles {
        let mut files = CaseFiles::default();
        for (role, text) in self.paths.iter().enumerate() {
            let text = text.trim();
            *slot(&mut files, role) = (!text.is_empty()).then(|| PathBuf::from(text));
        }
        files
    }

    /// The form's window; returns the files to open when the user confirms.
    pub fn ui(&mut self, ctx: &egui::Context) -> Option<CaseFiles> {
        while let Ok((role, path)) = self.browse.1.try_recv() {
            self.paths[role] = path.display().to_string();
        }
        let mut chosen = None;
        let mut open = self.open;
        egui::Window::new("Open a case")
            .open(&mut open)
            .collapsible(false)
            .show(ctx, |ui| {
                ui.label("Type paths or browse; you can also drop files on the window.");
                egui::Grid::new("open paths").show(ui, |ui| {
                    for (role, name) in ROLES.iter().enumerate() {
                        ui.label(*name);
                        ui.add(
                            egui::TextEdit::singleline(&mut self.paths[role])
                                .desired_width(360.0)
                                .hint_text(if role < 2 { "required" } else { "optional" }),
                        );
                        if ui.button("browse…").clicked() {
                            self.browse_for(role, ctx.clone());
                        }
                        ui.end_row();
                    }
                });
                ui.horizontal(|ui| {
                    let files = self.files();
                    let ready = files.fixed.is_some() && files.moving.is_some();
                    if ui.add_enabled(ready, egui::Button::new("Open")).clicked() {
                        chosen = Some(files);
                    }
                    if ui.button("Built-in demo").clicked() {
                        chosen = Some(CaseFiles::default());
                    }
                });
                if !self.recent.is_empty() {
                    ui.separator();
                    ui.label("recent");
                    for files in self.recent.clone() {
                        if ui.link(files.title()).clicked() {
                            chosen = Some(files);
                        }
                    }
                }
            });
        self.open = open && chosen.is_none();
        chosen
    }

    /// Asks the desktop's file portal on a helper thread; without a portal nothing comes back and
    /// the typed path stays the way in.
    fn browse_for(&self, role: usize, ctx: egui::Context) {
        let tx = self.browse.0.clone();
        let _ = std::thread::Builder::new()
            .name("file dialog".into())
            .spawn(move || {
                if let Some(path) = rfd::FileDialog::new().set_title(ROLES[role]).pick_file() {
                    let _ = tx.send((role, path));
                    ctx.request_repaint();
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_files_find_their_roles() {
        let mut form = OpenForm::new(None);
        let paths: Vec<PathBuf> = [
            "/d/subjA_t1.nii.gz",
            "/d/subjA_aseg.nii.gz",
            "/d/subjB_t1.nii.gz",
            "/d/subjB_aseg.nii.gz",
            "/d/a.fcsv",
            "/d/b.fcsv",
            "/d/FreeSurferColorLUT.txt",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        form.drop_files(&paths);
        let files = form.files();
        assert_eq!(files.fixed.unwrap(), PathBuf::from("/d/subjA_t1.nii.gz"));
        assert_eq!(files.moving.unwrap(), PathBuf::from("/d/subjB_t1.nii.gz"));
        assert_eq!(
            files.fixed_labels.unwrap(),
            PathBuf::from("/d/subjA_aseg.nii.gz")
        );
        assert_eq!(
            files.moving_labels.unwrap(),
            PathBuf::from("/d/subjB_aseg.nii.gz")
        );
        assert_eq!(files.moving_landmarks.unwrap(), PathBuf::from("/d/b.fcsv"));
        assert_eq!(
            files.label_names.unwrap(),
            PathBuf::from("/d/FreeSurferColorLUT.txt")
        );
        assert!(form.open);
        let mut form = OpenForm::new(None);
        form.drop_files(&[PathBuf::from("/d/points.txt"), PathBuf::from("/d/a.label")]);
        let files = form.files();
        assert_eq!(
            files.fixed_landmarks.unwrap(),
            PathBuf::from("/d/points.txt")
        );
        assert_eq!(files.label_names.unwrap(), PathBuf::from("/d/a.label"));
    }
}
