//! The workbench window (eframe/egui on the shared wgpu device). For now it shows the built-in demo
//! case in linked tri-planar views: fixed, moving, and a magenta/green fusion of the two.

pub mod views;

use crate::demo::DemoCase;
use crate::gpu::GpuContext;
use std::sync::Arc;
use views::slice::{Plane, PlaneView, Window};

/// Opens the window on the built-in demo case and blocks until it is closed.
pub fn run_demo() -> anyhow::Result<()> {
    let case = crate::demo::load_builtin()?;
    let mut options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Warpbench")
            .with_inner_size([1280.0, 860.0]),
        ..Default::default()
    };
    if let egui_wgpu::WgpuSetup::CreateNew(create) = &mut options.wgpu_options.wgpu_setup {
        create.device_descriptor = Arc::new(crate::gpu::context::device_descriptor);
    }
    eframe::run_native(
        "Warpbench",
        options,
        Box::new(move |cc| {
            let gpu = cc.wgpu_render_state.as_ref().map(|rs| {
                GpuContext::from_parts(
                    rs.instance.clone(),
                    rs.adapter.clone(),
                    rs.device.clone(),
                    rs.queue.clone(),
                )
            });
            Ok(Box::new(WarpbenchApp::new(case, gpu)))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}

/// Window state: the loaded case, the linked cursor and the cached slice images.
pub struct WarpbenchApp {
    case: DemoCase,
    gpu_name: String,
    cursor_mm: [f64; 3],
    fixed_window: Window,
    moving_window: Window,
    textures: Vec<Option<egui::TextureHandle>>,
    dirty: bool,
}

const ROWS: [&str; 3] = ["fixed", "moving", "fusion"];

impl WarpbenchApp {
    pub fn new(case: DemoCase, gpu: Option<GpuContext>) -> WarpbenchApp {
        let cursor_mm = case.fixed.grid().centre_mm();
        let fixed_window = Window::from_percentiles(&case.fixed, 0.01, 0.995);
        let moving_window = Window::from_percentiles(&case.moving, 0.01, 0.995);
        WarpbenchApp {
            gpu_name: gpu.map_or_else(|| "no GPU".into(), |g| g.adapter.get_info().name),
            case,
            cursor_mm,
            fixed_window,
            moving_window,
            textures: vec![None; ROWS.len() * Plane::ALL.len()],
            dirty: true,
        }
    }

    fn refresh_textures(&mut self, ctx: &egui::Context) {
        for (p, plane) in Plane::ALL.iter().enumerate() {
            let view = PlaneView::new(*plane, self.case.fixed.grid(), self.cursor_mm);
            let fixed = view.sample(&self.case.fixed);
            let moving = view.sample(&self.case.moving);
            let images = [
                view.grey_image(&fixed, self.fixed_window),
                view.grey_image(&moving, self.moving_window),
                view.fusion_image(&fixed, self.fixed_window, &moving, self.moving_window),
            ];
            for (row, image) in images.into_iter().enumerate() {
                let slot = &mut self.textures[row * Plane::ALL.len() + p];
                match slot {
                    Some(t) => t.set(image, egui::TextureOptions::LINEAR),
                    None => {
                        *slot = Some(ctx.load_texture(
                            format!("{}-{p}", ROWS[row]),
                            image,
                            egui::TextureOptions::LINEAR,
                        ))
                    }
                }
            }
        }
        self.dirty = false;
    }

    fn view_ui(&mut self, ui: &mut egui::Ui, row: usize, plane: Plane, size: egui::Vec2) {
        let view = PlaneView::new(plane, self.case.fixed.grid(), self.cursor_mm);
        let Some(texture) = &self.textures[row * Plane::ALL.len() + plane.index()] else {
            return;
        };
        let (rect, response) = ui.allocate_exact_size(size, egui::Sense::click_and_drag());
        let fitted = view.fit(rect);
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, egui::Color32::BLACK);
        painter.image(
            texture.id(),
            fitted,
            egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
            egui::Color32::WHITE,
        );
        let cross = view.screen_of(fitted, self.cursor_mm);
        let stroke = egui::Stroke::new(
            1.0,
            egui::Color32::from_rgba_unmultiplied(80, 160, 255, 160),
        );
        painter.vline(cross.x, fitted.y_range(), stroke);
        painter.hline(fitted.x_range(), cross.y, stroke);
        let [left, right, top, bottom] = plane.edge_letters();
        let font = egui::FontId::proportional(13.0);
        let c = egui::Color32::from_rgb(255, 210, 80);
        painter.text(
            egui::pos2(fitted.left() + 3.0, fitted.center().y),
            egui::Align2::LEFT_CENTER,
            left,
            font.clone(),
            c,
        );
        painter.text(
            egui::pos2(fitted.right() - 3.0, fitted.center().y),
            egui::Align2::RIGHT_CENTER,
            right,
            font.clone(),
            c,
        );
        painter.text(
            egui::pos2(fitted.center().x, fitted.top() + 2.0),
            egui::Align2::CENTER_TOP,
            top,
            font.clone(),
            c,
        );
        painter.text(
            egui::pos2(fitted.center().x, fitted.bottom() - 2.0),
            egui::Align2::CENTER_BOTTOM,
            bottom,
            font.clone(),
            c,
        );
        painter.text(
            rect.left_top() + egui::vec2(4.0, 2.0),
            egui::Align2::LEFT_TOP,
            format!("{} · {}", plane.name(), ROWS[row]),
            font,
            egui::Color32::LIGHT_GRAY,
        );
        if let Some(pos) = response
            .interact_pointer_pos()
            .filter(|_| response.clicked() || response.dragged())
        {
            self.cursor_mm = view.world_of(fitted, pos);
            self.dirty = true;
        }
        if response.hovered() {
            let scroll = ui.input(|i| i.smooth_scroll_delta.y);
            if scroll != 0.0 {
                let step = self.case.fixed.grid().spacing_mm()[plane.normal_axis()]
                    * scroll.signum() as f64;
                self.cursor_mm[plane.normal_axis()] += step;
                self.dirty = true;
            }
        }
    }
}

impl eframe::App for WarpbenchApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        if self.dirty {
            self.refresh_textures(ui.ctx());
        }
        egui::Panel::top("top").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("Warpbench");
                ui.separator();
                ui.label(
                    "demo case: MNI152 2009a T1 (fixed) and its deformed, T2-like copy (moving)",
                );
                ui.separator();
                ui.label(format!("GPU: {}", self.gpu_name));
            });
        });
        egui::Panel::bottom("status").show(ui, |ui| {
            let [x, y, z] = self.cursor_mm;
            let fixed = crate::volume::resample::sample_world(&self.case.fixed, self.cursor_mm);
            let moving = crate::volume::resample::sample_world(&self.case.moving, self.cursor_mm);
            let show = |v: Option<f32>| v.map_or("outside".to_string(), |v| format!("{v:.1}"));
            ui.label(format!(
                "cursor (RAS mm) {x:.1}, {y:.1}, {z:.1}   fixed {}   moving {}   · fusion: fixed magenta, moving green · click to move the cursor, scroll to step slices",
                show(fixed),
                show(moving)
            ));
        });
        egui::CentralPanel::default_margins().show(ui, |ui| {
            let avail = ui.available_size();
            let gap = 4.0;
            let size = egui::vec2(
                (avail.x - gap * 2.0) / Plane::ALL.len() as f32,
                (avail.y - gap * 2.0) / ROWS.len() as f32,
            );
            ui.spacing_mut().item_spacing = egui::vec2(gap, gap);
            for row in 0..ROWS.len() {
                ui.horizontal(|ui| {
                    for plane in Plane::ALL {
                        self.view_ui(ui, row, plane, size);
                    }
                });
            }
        });
    }
}
