//! The window's top bar (files, layout, the measuring tool, a load's progress) and its status bar
//! (every layer's value under the pointer).

use super::views::slice::Plane;
use super::views::viewer::Tool;
use super::{Layout, WarpbenchApp, pull, style};

impl WarpbenchApp {
    /// Asks for a screenshot of the window, to be saved at `path` when it arrives.
    pub(super) fn request_png(&mut self, ctx: &egui::Context, path: std::path::PathBuf) {
        self.screenshot_to = Some(path);
        let tx = self.screenshots.0.clone();
        let wake = ctx.clone();
        ctx.request_screenshot(move |image| {
            let _ = tx.send(image);
            wake.request_repaint();
        });
    }

    pub(super) fn top_ui(&mut self, ui: &mut egui::Ui) {
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

    pub(super) fn status_ui(&self, ui: &mut egui::Ui) {
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
            let shown = pull::Pull::of(&self.doc, &self.viewers.display);
            let q = shown.moving_point(p);
            parts.push(format!(
                "moving {}",
                value(crate::volume::resample::sample_world(&case.moving, q))
            ));
            if let Some((number, against)) = pull::Pull::against(&self.doc, &self.viewers.display) {
                let r = against.moving_point(p);
                parts.push(format!(
                    "moving through result {number} {}",
                    value(crate::volume::resample::sample_world(&case.moving, r))
                ));
                if shown.is_warped() {
                    let apart = (0..3).map(|i| (q[i] - r[i]).powi(2)).sum::<f64>().sqrt();
                    parts.push(format!("|Δu| {apart:.2} mm"));
                }
            }
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
}

/// Writes `image` as a PNG, atomically.
pub(super) fn save_png(path: &std::path::Path, image: &egui::ColorImage) -> crate::Result<()> {
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
