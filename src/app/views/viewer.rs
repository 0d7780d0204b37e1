//! The linked slice views: one crosshair, zoom and pan per view, mouse and key bindings, the
//! cached slice textures, and what is drawn over them (crosshair, orientation letters, deformation
//! grid and arrows, wipe line, colour bar).
//!
//! Bindings (as in ITK-SNAP and Slicer): left click or drag moves the crosshair (in wipe mode, a
//! drag moves the wipe line; with the landmark tool, a click places a point and a drag moves the
//! one under the pointer, Delete removes the selected one, ctrl + Z and ctrl + shift + Z or
//! ctrl + Y undo and redo landmark edits; with the measuring tool, a drag draws a ruler or moves
//! an end of one, and a click clears the view's ruler); right drag sets window and level;
//! middle drag or shift + left drag pans; scroll or ↑/↓/PgUp/PgDn steps slices; ctrl + scroll
//! zooms about the pointer; double click resets zoom and pan.

use super::colour::ColourMap;
use super::compose::{
    Against, FOLD_COLOUR, HIDDEN_FOLD_COLOUR, SliceSamples, Sources, Wanted, compose, sample,
};
use super::display::{CompareMode, Display, FieldMap};
use super::ruler::Ruler;
use super::slice::{Plane, PlaneView};
use crate::app::gpu_bridge::SliceCallback;
use crate::app::landmarks::{LandmarkEdit, Side};
use crate::app::pull::Pull;
use crate::app::state::{Deformation, Document};
use crate::eval::joint_histogram::Region;
use crate::volume::warp::displacement_at;
use crate::volume::{Grid, LabelVolume, ScalarVolume};
use std::sync::Arc;

/// Lines in a view's pixel coordinates.
type Polylines = Vec<Vec<[f64; 2]>>;

/// The paint-callback id of the grid-only pane (the planes use their index).
const GRID_PANE: u64 = 3;

/// Zoom, pan and caches of one view.
#[derive(Default)]
pub struct PlaneState {
    pub zoom: f32,
    pub pan: egui::Vec2,
    samples: Option<(SampleKey, Arc<SliceSamples>)>,
    /// A run's newer snapshot being sampled on a helper thread.
    sampling: Option<Sampling>,
    image: Option<(ImageKey, Arc<egui::ColorImage>)>,
    /// Counts composed images, so the GPU side knows when to upload.
    image_generation: u64,
    /// The warped grid for a slice and a spacing (mm).
    grid_lines: Option<(SampleKey, f32, Polylines)>,
}

#[derive(Clone, PartialEq)]
struct SampleKey {
    view: PlaneView,
    generation: u64,
    /// [`Pull::name`]: how the moving layers were brought in.
    pull: &'static str,
    wanted: Wanted,
}

impl SampleKey {
    /// Whether `other` asks for the same slice and layers of another snapshot.
    fn same_but_generation(&self, other: &SampleKey) -> bool {
        self.view == other.view && self.pull == other.pull && self.wanted == other.wanted
    }
}

/// A slice being sampled on a helper thread, and the key its samples are for.
struct Sampling {
    key: SampleKey,
    done: crossbeam_channel::Receiver<SliceSamples>,
}

/// The layers a slice samples, shared, so that a helper thread can sample them too.
struct Layers {
    fixed: Arc<ScalarVolume>,
    moving: Arc<ScalarVolume>,
    fixed_labels: Option<Arc<LabelVolume>>,
    moving_labels: Option<Arc<LabelVolume>>,
    deformation: Option<Arc<Deformation>>,
    /// The kept result's transform the shown one is compared against.
    against: Option<Arc<Deformation>>,
    warped: bool,
    affine_only: bool,
}

impl Layers {
    fn of(doc: &Document, display: &Display) -> Layers {
        Layers {
            fixed: doc.case.fixed.clone(),
            moving: doc.case.moving.clone(),
            fixed_labels: doc.case.fixed_labels.clone(),
            moving_labels: doc.case.moving_labels.clone(),
            deformation: doc.deformation.clone(),
            against: display
                .against
                .and_then(|n| doc.results.comparable(n).cloned()),
            warped: display.warped,
            affine_only: display.affine_only,
        }
    }

    fn sources(&self) -> Sources<'_> {
        let pull = Pull::through(self.deformation.as_deref(), self.warped, self.affine_only);
        let deformation = self.deformation.as_deref().filter(|_| pull.is_warped());
        Sources {
            pull,
            against: self
                .against
                .as_deref()
                .map(|d| Pull::compared(d, self.affine_only)),
            fixed: &self.fixed,
            moving: &self.moving,
            fixed_labels: self.fixed_labels.as_deref(),
            moving_labels: self.moving_labels.as_deref(),
            field: deformation.map(|d| &d.field),
            jacobian: deformation.map(|d| &d.jacobian),
            folded_cubes: deformation.map(|d| &d.folded_cubes),
        }
    }
}

#[derive(Clone, PartialEq)]
struct ImageKey {
    samples: SampleKey,
    display: Display,
    flicker_moving: bool,
}

/// What a left click or drag in a view does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// Moves the crosshair.
    Navigate,
    /// Places landmarks in the `Side`'s image and moves either side's points.
    Landmarks(Side),
    /// Draws a ruler per view.
    Measure,
}

/// The landmark pick radius, in screen points.
const PICK_RADIUS: f32 = 8.0;

/// The views' shared state: crosshair, display settings and each plane's state.
pub struct Viewers {
    pub cursor_mm: [f64; 3],
    pub display: Display,
    pub planes: [PlaneState; 3],
    /// The world point under the pointer, and the view it is in.
    pub hover: Option<(Plane, [f64; 3])>,
    pub tool: Tool,
    pub show_landmarks: bool,
    pub selected: Option<(Side, usize)>,
    dragging: Option<(Side, usize)>,
    /// Each plane's ruler, and the end a drag is moving.
    pub rulers: [Option<Ruler>; 3],
    ruler_end: Option<(Plane, usize)>,
    /// Landmark edits asked for this frame, for the app to apply.
    pub edits: Vec<LandmarkEdit>,
}

impl Viewers {
    pub fn new(cursor_mm: [f64; 3], display: Display) -> Viewers {
        let plane = || PlaneState {
            zoom: 1.0,
            ..Default::default()
        };
        Viewers {
            cursor_mm,
            display,
            planes: [plane(), plane(), plane()],
            hover: None,
            tool: Tool::Navigate,
            show_landmarks: true,
            selected: None,
            dragging: None,
            rulers: [None; 3],
            ruler_end: None,
            edits: Vec::new(),
        }
    }

    /// The newest run snapshot (generation) any view shows.
    pub fn newest_shown(&self) -> u64 {
        self.planes
            .iter()
            .filter_map(|p| p.samples.as_ref().map(|(k, _)| k.generation))
            .max()
            .unwrap_or(0)
    }

    /// The landmark a drag in a view is moving.
    pub fn dragging(&self) -> Option<(Side, usize)> {
        self.dragging
    }

    /// Drops every cached slice (after a new case is loaded).
    pub fn forget_caches(&mut self) {
        for p in &mut self.planes {
            p.samples = None;
            p.sampling = None;
            p.image = None;
            p.grid_lines = None;
        }
    }

    fn view(&self, plane: Plane, doc: &Document) -> PlaneView {
        PlaneView::new(
            plane,
            doc.case.fixed.grid(),
            self.cursor_mm,
            self.display.radiological,
        )
    }

    fn pull<'a>(&self, doc: &'a Document) -> Pull<'a> {
        Pull::of(doc, &self.display)
    }

    fn sample_key(&self, plane: Plane, doc: &Document) -> SampleKey {
        SampleKey {
            view: self.view(plane, doc),
            generation: doc.generation,
            pull: self.pull(doc).name(),
            wanted: Wanted {
                labels: self
                    .display
                    .labels
                    .visible
                    .then_some(self.display.labels.moving),
                map: self.display.deformation.map,
                region: match self.display.joint_box {
                    Some(_) => self.display.joint_region,
                    None => Region::Everywhere,
                },
                against: Pull::against(doc, &self.display).map(|(number, _)| Against {
                    number,
                    affine_only: self.display.affine_only,
                }),
            },
        }
    }

    /// Brings plane `p`'s samples and texture up to date.
    ///
    /// A running registration's new snapshot is sampled on a helper thread while the view shows
    /// the last one, so that the window's thread never waits for it (tens of milliseconds for a
    /// large image on a few cores, a few times a second). Anything else (a slice step, another
    /// layer, the run's end) is sampled at once: the view must show it in the same frame.
    fn refresh(&mut self, plane: Plane, doc: &Document, ctx: &egui::Context, time: f64) {
        let key = self.sample_key(plane, doc);
        let state = &mut self.planes[plane.index()];
        if let Some(job) = state.sampling.take() {
            match job.done.try_recv() {
                // Shown even when a newer snapshot has come meanwhile: it is newer than the last.
                Ok(samples) if job.key.same_but_generation(&key) => {
                    state.samples = Some((job.key, Arc::new(samples)));
                }
                Err(crossbeam_channel::TryRecvError::Empty) => state.sampling = Some(job),
                _ => {}
            }
        }
        let shown = state.samples.as_ref().map(|(k, s)| (k, s.clone()));
        match shown {
            Some((k, _)) if *k == key => {}
            Some((k, earlier)) if doc.run.is_running() && k.same_but_generation(&key) => {
                if state.sampling.is_none() {
                    state.sampling = Some(sample_behind(
                        key.clone(),
                        Layers::of(doc, &self.display),
                        earlier,
                        ctx.clone(),
                    ));
                }
            }
            shown => {
                state.sampling = None;
                let layers = Layers::of(doc, &self.display);
                let earlier = shown.map(|(_, s)| s);
                let samples = sample(
                    key.view.clone(),
                    &layers.sources(),
                    key.wanted,
                    earlier.as_deref(),
                );
                state.samples = Some((key, Arc::new(samples)));
            }
        }
        let (samples_key, samples) = state.samples.as_ref().expect("sampled above");
        let flicker_moving = self.display.mode == CompareMode::Flicker
            && (time * 1000.0 / self.display.flicker_ms.max(50) as f64) as u64 % 2 == 1;
        let image_key = ImageKey {
            samples: samples_key.clone(),
            display: self.display.clone(),
            flicker_moving,
        };
        if state.image.as_ref().is_none_or(|(k, _)| *k != image_key) {
            let image = compose(
                samples,
                &self.display,
                flicker_moving,
                &doc.case.label_table,
            );
            state.image = Some((image_key, Arc::new(image)));
            state.image_generation += 1;
        }
    }

    /// The warped grid of `plane` in pixel coordinates, cached per slice and spacing.
    fn grid_lines(&mut self, plane: Plane, doc: &Document) -> &[Vec<[f64; 2]>] {
        let key = self.sample_key(plane, doc);
        let spacing = self.display.deformation.grid_mm.max(1.0);
        let state = &mut self.planes[plane.index()];
        if state
            .grid_lines
            .as_ref()
            .is_none_or(|(k, s, _)| *k != key || *s != spacing)
        {
            let lines = doc
                .deformation
                .as_ref()
                .map(|d| warped_grid(&key.view, doc.case.fixed.grid(), &d.field, spacing))
                .unwrap_or_default();
            state.grid_lines = Some((key, spacing, lines));
        }
        &state.grid_lines.as_ref().expect("filled above").2
    }

    /// One view in `rect`: the image, overlays and interaction.
    pub fn plane_ui(&mut self, ui: &mut egui::Ui, plane: Plane, rect: egui::Rect, doc: &Document) {
        let time = ui.input(|i| i.time);
        self.refresh(plane, doc, ui.ctx(), time);
        if self.display.mode == CompareMode::Flicker {
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(
                    self.display.flicker_ms.max(50) as u64,
                ));
        }
        let response = ui.interact(
            rect,
            ui.scope_id().with(("plane", plane.index())),
            egui::Sense::click_and_drag(),
        );
        response.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::Canvas, true, format!("{} view", plane.name()))
        });
        let view = self.view(plane, doc);
        let state = &self.planes[plane.index()];
        let fitted = view.fit(image_area(rect), state.zoom, state.pan);
        let painter = ui.painter_at(rect);
        if let Some((_, image)) = &state.image {
            let min = (fitted.min - rect.min) / rect.size();
            let max = (fitted.max - rect.min) / rect.size();
            painter.add(egui_wgpu::Callback::new_paint_callback(
                rect,
                SliceCallback {
                    view: plane.index() as u64,
                    image: image.clone(),
                    generation: state.image_generation,
                    image_rect: [min.x, min.y, max.x, max.y],
                },
            ));
        }
        self.overlays_ui(&painter, plane, &view, fitted, doc);
        self.interact(ui, plane, &view, fitted, rect, &response, doc);
        // Over the image when it fills the view's height (a light one in the difference mode).
        backed_text(
            &painter,
            rect.left_top() + egui::vec2(4.0, 2.0),
            egui::Align2::LEFT_TOP,
            plane.name().to_string(),
            egui::FontId::proportional(13.0),
        );
    }

    /// The fourth pane: the warped grid of `plane` alone, on black.
    pub fn grid_only_ui(
        &mut self,
        ui: &mut egui::Ui,
        plane: Plane,
        rect: egui::Rect,
        doc: &Document,
    ) {
        let view = self.view(plane, doc);
        let state = &self.planes[plane.index()];
        let fitted = view.fit(rect.shrink(2.0), state.zoom, state.pan);
        let painter = ui.painter_at(rect);
        painter.add(egui_wgpu::Callback::new_paint_callback(
            rect,
            SliceCallback {
                view: GRID_PANE,
                image: Arc::new(egui::ColorImage::filled([1, 1], egui::Color32::BLACK)),
                generation: 0,
                image_rect: [0.0, 0.0, 0.0, 0.0],
            },
        ));
        if doc.deformation.is_none() {
            painter.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "no deformation yet: run a registration",
                egui::FontId::proportional(14.0),
                egui::Color32::GRAY,
            );
            return;
        }
        let stroke = egui::Stroke::new(1.0, egui::Color32::from_rgb(120, 230, 140));
        draw_lines(&painter, &view, fitted, self.grid_lines(plane, doc), stroke);
        backed_text(
            &painter,
            rect.left_top() + egui::vec2(4.0, 2.0),
            egui::Align2::LEFT_TOP,
            format!(
                "deformation grid · {} · {} mm",
                plane.name(),
                self.display.deformation.grid_mm
            ),
            egui::FontId::proportional(13.0),
        );
    }

    fn overlays_ui(
        &mut self,
        painter: &egui::Painter,
        plane: Plane,
        view: &PlaneView,
        fitted: egui::Rect,
        doc: &Document,
    ) {
        let look = self.display.deformation;
        if look.grid && doc.deformation.is_some() {
            let stroke = egui::Stroke::new(
                1.0,
                egui::Color32::from_rgba_unmultiplied(120, 230, 140, 200),
            );
            draw_lines(painter, view, fitted, self.grid_lines(plane, doc), stroke);
        }
        if let (true, Some(d)) = (look.arrows, &doc.deformation) {
            let stroke = egui::Stroke::new(1.0, egui::Color32::from_rgb(255, 150, 60));
            let (u, v) = plane.screen_axes();
            let step = (look.arrow_mm as f64 / view.pixel_mm).max(2.0);
            let mut y = step / 2.0;
            while y < view.height as f64 {
                let mut x = step / 2.0;
                while x < view.width as f64 {
                    let p = view.world_at(x, y);
                    if doc.case.fixed.grid().contains_world_mm(p) {
                        let d = displacement_at(&d.field, p);
                        let mut q = p;
                        q[u] += d[u] * look.arrow_scale as f64;
                        q[v] += d[v] * look.arrow_scale as f64;
                        let (a, b) = (view.screen_of(fitted, p), view.screen_of(fitted, q));
                        painter.arrow(a, b - a, stroke);
                    }
                    x += step;
                }
                y += step;
            }
        }
        let cross = view.screen_of(fitted, self.cursor_mm);
        let stroke = egui::Stroke::new(
            1.0,
            egui::Color32::from_rgba_unmultiplied(80, 160, 255, 170),
        );
        painter.vline(cross.x, fitted.y_range(), stroke);
        painter.hline(fitted.x_range(), cross.y, stroke);
        if self.display.mode == CompareMode::Wipe {
            let x = fitted.left() + self.display.wipe * fitted.width();
            painter.vline(
                x,
                fitted.y_range(),
                egui::Stroke::new(2.0, egui::Color32::from_rgb(255, 200, 0)),
            );
        }
        let clip = painter.clip_rect();
        let [left, right, top, bottom] = plane.edge_letters(self.display.radiological);
        let font = egui::FontId::proportional(13.0);
        let c = egui::Color32::from_rgb(255, 210, 80);
        let inner = fitted.intersect(clip);
        for (pos, align, text) in [
            (
                egui::pos2(inner.left() + 3.0, inner.center().y),
                egui::Align2::LEFT_CENTER,
                left,
            ),
            (
                egui::pos2(inner.right() - 3.0, inner.center().y),
                egui::Align2::RIGHT_CENTER,
                right,
            ),
            (
                egui::pos2(inner.center().x, inner.top() + 2.0),
                egui::Align2::CENTER_TOP,
                top,
            ),
            (
                egui::pos2(inner.center().x, inner.bottom() - 2.0),
                egui::Align2::CENTER_BOTTOM,
                bottom,
            ),
        ] {
            painter.text(pos, align, text, font.clone(), c);
        }
        self.landmarks_ui(painter, plane, view, fitted, doc);
        let half_step = half_slice_mm(doc, plane);
        if let Some(ruler) = &self.rulers[plane.index()]
            && ruler.on_slice(plane, self.cursor_mm, half_step)
        {
            ruler.paint(painter, view, fitted);
        }
        self.colour_bar_ui(painter, clip, doc);
    }

    /// The landmarks on `plane`'s current slice (within half a slice step), with their screen
    /// positions; moving points show where the warped moving image shows them.
    fn landmarks_on_slice(
        &self,
        plane: Plane,
        view: &PlaneView,
        fitted: egui::Rect,
        doc: &Document,
    ) -> Vec<(Side, usize, egui::Pos2)> {
        let a = plane.normal_axis();
        let half_step = half_slice_mm(doc, plane);
        let mut found = Vec::new();
        for side in [Side::Fixed, Side::Moving] {
            for (index, point) in doc.landmarks(side).points.iter().enumerate() {
                let shown = self.shown_position(side, point.world_mm, doc);
                if (shown[a] - self.cursor_mm[a]).abs() <= half_step {
                    found.push((side, index, view.screen_of(fitted, shown)));
                }
            }
        }
        found
    }

    /// Where the views show a landmark of `side` at `world_mm`: a moving point where the
    /// warped moving image shows it, when it is shown warped.
    pub fn shown_position(&self, side: Side, world_mm: [f64; 3], doc: &Document) -> [f64; 3] {
        match side {
            Side::Moving => self.pull(doc).shown_point(world_mm),
            Side::Fixed => world_mm,
        }
    }

    /// The landmark nearest to `pos` within the pick radius.
    fn pick(
        &self,
        plane: Plane,
        view: &PlaneView,
        fitted: egui::Rect,
        doc: &Document,
        pos: egui::Pos2,
    ) -> Option<(Side, usize)> {
        self.landmarks_on_slice(plane, view, fitted, doc)
            .into_iter()
            .map(|(side, index, at)| (at.distance(pos), side, index))
            .filter(|(d, _, _)| *d <= PICK_RADIUS)
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, side, index)| (side, index))
    }

    /// Fixed points as circles, moving points as squares (told apart without colour), names
    /// beside them; the selected point thicker.
    fn landmarks_ui(
        &self,
        painter: &egui::Painter,
        plane: Plane,
        view: &PlaneView,
        fitted: egui::Rect,
        doc: &Document,
    ) {
        if !self.show_landmarks {
            return;
        }
        let font = egui::FontId::proportional(11.0);
        let shown = self.landmarks_on_slice(plane, view, fitted, doc);
        // Names only where they can be read: a dense slice shows the selected point's alone.
        let all_names = shown.len() <= 24;
        for (side, index, at) in shown {
            let colour = match side {
                Side::Fixed => egui::Color32::from_rgb(0, 220, 255),
                Side::Moving => egui::Color32::from_rgb(255, 90, 220),
            };
            let selected = self.selected == Some((side, index));
            let stroke = egui::Stroke::new(if selected { 2.5 } else { 1.5 }, colour);
            match side {
                Side::Fixed => {
                    painter.circle_stroke(at, 5.0, stroke);
                }
                Side::Moving => {
                    painter.rect_stroke(
                        egui::Rect::from_center_size(at, egui::vec2(9.0, 9.0)),
                        0.0,
                        stroke,
                        egui::StrokeKind::Middle,
                    );
                }
            }
            if selected {
                painter.circle_filled(at, 2.0, colour);
            }
            if let Some(name) = &doc.landmarks(side).points[index].name
                && (all_names || selected)
            {
                painter.text(
                    at + egui::vec2(7.0, -6.0),
                    egui::Align2::LEFT_BOTTOM,
                    name,
                    font.clone(),
                    colour,
                );
            }
        }
    }

    /// The landmark tool in one view: a click on a point selects it, a click elsewhere places a
    /// point, a drag that starts on a point moves it.
    fn landmark_tool_ui(
        &mut self,
        ui: &egui::Ui,
        plane: Plane,
        view: &PlaneView,
        fitted: egui::Rect,
        response: &egui::Response,
        doc: &Document,
    ) {
        let Tool::Landmarks(place_on) = self.tool else {
            return;
        };
        let Some(pos) = response.interact_pointer_pos() else {
            return;
        };
        let pull = self.pull(doc);
        let world_for = |side: Side| {
            let p = view.world_of(fitted, pos);
            match side {
                Side::Fixed => p,
                Side::Moving => pull.moving_point(p),
            }
        };
        if response.drag_started_by(egui::PointerButton::Primary) {
            let origin = ui.input(|i| i.pointer.press_origin()).unwrap_or(pos);
            self.dragging = self.pick(plane, view, fitted, doc, origin);
            if self.dragging.is_some() {
                self.selected = self.dragging;
            }
        }
        if let Some((side, index)) = self.dragging
            && response.dragged_by(egui::PointerButton::Primary)
        {
            self.edits.push(LandmarkEdit::Move {
                side,
                index,
                world_mm: world_for(side),
            });
        } else if response.clicked() {
            self.selected = match self.pick(plane, view, fitted, doc, pos) {
                Some(hit) => Some(hit),
                None => {
                    self.edits.push(LandmarkEdit::Place {
                        side: place_on,
                        world_mm: world_for(place_on),
                    });
                    Some((place_on, doc.landmarks(place_on).len()))
                }
            };
        }
        if response.drag_stopped() {
            self.dragging = None;
        }
    }

    /// A drag draws this view's ruler on the current slice, or moves the end it starts on; a
    /// click clears the ruler.
    fn measure_tool_ui(
        &mut self,
        ui: &egui::Ui,
        plane: Plane,
        view: &PlaneView,
        fitted: egui::Rect,
        response: &egui::Response,
        doc: &Document,
    ) {
        let Some(pos) = response.interact_pointer_pos() else {
            return;
        };
        let half_step = half_slice_mm(doc, plane);
        let cursor = self.cursor_mm;
        let slot = &mut self.rulers[plane.index()];
        if response.drag_started_by(egui::PointerButton::Primary) {
            let origin = ui.input(|i| i.pointer.press_origin()).unwrap_or(pos);
            let held = slot
                .filter(|r| r.on_slice(plane, cursor, half_step))
                .and_then(|r| r.end_near(view, fitted, origin, PICK_RADIUS));
            let end = held.unwrap_or_else(|| {
                let start = view.world_of(fitted, origin);
                *slot = Some(Ruler {
                    ends_mm: [start, start],
                });
                1
            });
            self.ruler_end = Some((plane, end));
        }
        if let (Some((held_plane, end)), Some(ruler)) = (self.ruler_end, slot.as_mut())
            && held_plane == plane
            && response.dragged_by(egui::PointerButton::Primary)
        {
            ruler.ends_mm[end] = view.world_of(fitted, pos);
        }
        if response.drag_stopped() {
            self.ruler_end = None;
            if slot.is_some_and(|r| r.length_mm() < 1e-6) {
                *slot = None;
            }
        } else if response.clicked() {
            *slot = None;
        }
    }

    /// Keys that act on the views as a whole: Delete removes the selected landmark, Escape
    /// leaves the landmark tool, ctrl + Z undoes a landmark edit and ctrl + shift + Z or
    /// ctrl + Y redoes it. A text field with the focus keeps them for its own text.
    pub fn keys_ui(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let shortcut = |modifiers, key| egui::KeyboardShortcut::new(modifiers, key);
        let redo = ctx.input_mut(|i| {
            i.consume_shortcut(&shortcut(
                egui::Modifiers::COMMAND | egui::Modifiers::SHIFT,
                egui::Key::Z,
            )) || i.consume_shortcut(&shortcut(egui::Modifiers::COMMAND, egui::Key::Y))
        });
        let undo = ctx
            .input_mut(|i| i.consume_shortcut(&shortcut(egui::Modifiers::COMMAND, egui::Key::Z)));
        if undo || redo {
            self.edits.push(if redo {
                LandmarkEdit::Redo
            } else {
                LandmarkEdit::Undo
            });
        }
        let (delete, escape) = ctx.input(|i| {
            (
                i.key_pressed(egui::Key::Delete) || i.key_pressed(egui::Key::Backspace),
                i.key_pressed(egui::Key::Escape),
            )
        });
        if delete && let Some((side, index)) = self.selected.take() {
            self.edits.push(LandmarkEdit::Delete { side, index });
        }
        if escape {
            self.tool = Tool::Navigate;
            self.selected = None;
        }
    }

    /// A vertical colour bar at the view's right edge for what the image's colours mean: the
    /// deformation map when one is shown, else the fixed image's window.
    fn colour_bar_ui(&self, painter: &egui::Painter, rect: egui::Rect, doc: &Document) {
        let d = &self.display;
        let against = Pull::against(doc, d).is_some();
        let (map, lo, hi, unit): (ColourMap, String, String, Option<&str>) = match d.deformation.map
        {
            FieldMap::Magnitude if doc.deformation.is_some() => (
                ColourMap::Viridis,
                "0".into(),
                format!("{:.1}", d.deformation.magnitude_max_mm),
                Some("|u| mm"),
            ),
            FieldMap::Disagreement if doc.deformation.is_some() && against => (
                ColourMap::Viridis,
                "0".into(),
                format!("{:.1}", d.deformation.magnitude_max_mm),
                Some("|Δu| mm"),
            ),
            FieldMap::Jacobian if doc.deformation.is_some() => {
                (ColourMap::Diverging, "¼".into(), "4".into(), Some("det J"))
            }
            _ => match d.mode {
                CompareMode::Fusion | CompareMode::Difference => return,
                mode => {
                    // A kept result in the fixed image's place is drawn in the moving look.
                    let look = if mode == CompareMode::Moving || against {
                        &d.moving
                    } else {
                        &d.fixed
                    };
                    (
                        look.colour_map,
                        short_number(look.window.lo),
                        short_number(look.window.hi),
                        None,
                    )
                }
            },
        };
        let bar = egui::Rect::from_min_size(
            egui::pos2(rect.right() - 16.0, rect.top() + 22.0),
            egui::vec2(10.0, (rect.height() - 60.0).clamp(20.0, 200.0)),
        );
        let steps = 48;
        for s in 0..steps {
            let t = 1.0 - (s as f32 + 0.5) / steps as f32;
            let [r, g, b] = map.rgb(t);
            let y0 = bar.top() + bar.height() * s as f32 / steps as f32;
            let y1 = bar.top() + bar.height() * (s + 1) as f32 / steps as f32;
            painter.rect_filled(
                egui::Rect::from_x_y_ranges(bar.x_range(), y0..=y1 + 0.5),
                0.0,
                egui::Color32::from_rgb(r, g, b),
            );
        }
        painter.rect_stroke(
            bar,
            0.0,
            egui::Stroke::new(1.0, egui::Color32::GRAY),
            egui::StrokeKind::Outside,
        );
        let font = egui::FontId::proportional(11.0);
        // The labels sit over the image in narrow views.
        let label = |pos: egui::Pos2, align: egui::Align2, text: String| {
            backed_text(painter, pos, align, text, font.clone());
        };
        label(
            bar.left_top() - egui::vec2(3.0, 0.0),
            egui::Align2::RIGHT_TOP,
            hi,
        );
        label(
            bar.left_bottom() - egui::vec2(3.0, 0.0),
            egui::Align2::RIGHT_BOTTOM,
            lo,
        );
        if let Some(unit) = unit {
            // Ends at the bar's right edge, so that a long unit stays inside the view.
            label(
                bar.right_bottom() + egui::vec2(0.0, 4.0),
                egui::Align2::RIGHT_TOP,
                unit.to_string(),
            );
        }
        if d.deformation.map == FieldMap::Jacobian && doc.deformation.is_some() {
            // The fold colours: det J ≤ 0, and folds only the tetrahedra see (NDV).
            for (row, ([r, g, b], name)) in [(FOLD_COLOUR, "fold"), (HIDDEN_FOLD_COLOUR, "NDV")]
                .into_iter()
                .enumerate()
            {
                let swatch = egui::Rect::from_min_size(
                    bar.left_bottom() + egui::vec2(0.0, 18.0 + 14.0 * row as f32),
                    egui::vec2(10.0, 10.0),
                );
                painter.rect_filled(swatch, 0.0, egui::Color32::from_rgb(r, g, b));
                label(
                    swatch.left_center() - egui::vec2(3.0, 0.0),
                    egui::Align2::RIGHT_CENTER,
                    name.into(),
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn interact(
        &mut self,
        ui: &egui::Ui,
        plane: Plane,
        view: &PlaneView,
        fitted: egui::Rect,
        rect: egui::Rect,
        response: &egui::Response,
        doc: &Document,
    ) {
        let grid = doc.case.fixed.grid();
        let (modifiers, scroll, zoom, keys) = ui.input(|i| {
            let steps = [
                (egui::Key::ArrowUp, 1.0),
                (egui::Key::PageUp, 1.0),
                (egui::Key::ArrowDown, -1.0),
                (egui::Key::PageDown, -1.0),
            ];
            let keys: f64 = steps
                .iter()
                .filter(|(k, _)| i.key_pressed(*k))
                .map(|(_, s)| s)
                .sum();
            (i.modifiers, i.smooth_scroll_delta.y, i.zoom_delta(), keys)
        });
        let pointer = response.hover_pos();
        self.hover = match pointer {
            Some(pos) => Some((plane, view.world_of(fitted, pos))),
            None => self.hover.filter(|(p, _)| *p != plane),
        };
        let landmark_tool = matches!(self.tool, Tool::Landmarks(_)) && !modifiers.shift;
        if landmark_tool {
            self.landmark_tool_ui(ui, plane, view, fitted, response, doc);
        }
        let measure_tool = self.tool == Tool::Measure && !modifiers.shift;
        if measure_tool {
            self.measure_tool_ui(ui, plane, view, fitted, response, doc);
        }
        let state = &mut self.planes[plane.index()];
        if response.double_clicked() {
            state.zoom = 1.0;
            state.pan = egui::Vec2::ZERO;
            return;
        }
        let panning = response.dragged_by(egui::PointerButton::Middle)
            || (response.dragged_by(egui::PointerButton::Primary) && modifiers.shift);
        if panning {
            state.pan += response.drag_delta();
        } else if response.dragged_by(egui::PointerButton::Secondary) {
            let delta = response.drag_delta() / rect.size();
            let look = if self.display.mode == CompareMode::Moving {
                &mut self.display.moving
            } else {
                &mut self.display.fixed
            };
            look.window = look.window.dragged(delta.x, delta.y);
        } else if let Some(pos) = response.interact_pointer_pos()
            && !landmark_tool
            && !measure_tool
        {
            let wipe = self.display.mode == CompareMode::Wipe && response.dragged();
            if wipe {
                self.display.wipe = ((pos.x - fitted.left()) / fitted.width()).clamp(0.0, 1.0);
            } else if response.clicked() || response.dragged_by(egui::PointerButton::Primary) {
                let p = view.world_of(fitted, pos);
                let (u, v) = plane.screen_axes();
                self.cursor_mm[u] = p[u];
                self.cursor_mm[v] = p[v];
            }
        }
        if response.hovered() {
            if zoom != 1.0 {
                if let Some(pos) = pointer {
                    // Keep the point under the pointer where it is.
                    let centre = image_area(rect).center() + state.pan;
                    let new_zoom = (state.zoom * zoom).clamp(0.5, 20.0);
                    let f = new_zoom / state.zoom;
                    state.pan += (pos - centre) * (1.0 - f);
                    state.zoom = new_zoom;
                }
            } else if scroll != 0.0 || keys != 0.0 {
                let direction = if scroll != 0.0 {
                    scroll.signum() as f64
                } else {
                    keys
                };
                let a = plane.normal_axis();
                let (lo, hi) = grid.world_bounds_mm();
                self.cursor_mm[a] =
                    (self.cursor_mm[a] + direction * slice_step_mm(grid, a)).clamp(lo[a], hi[a]);
            }
        }
    }
}

/// Light grey text on a dark backing, legible over any image.
fn backed_text(
    painter: &egui::Painter,
    pos: egui::Pos2,
    align: egui::Align2,
    text: String,
    font: egui::FontId,
) {
    let c = egui::Color32::LIGHT_GRAY;
    let galley = painter.layout_no_wrap(text, font, c);
    let rect = align.anchor_size(pos, galley.size());
    let radius = crate::app::style::mark_radius(&painter.ctx().global_style().visuals);
    painter.rect_filled(
        rect.expand(1.0),
        radius,
        egui::Color32::from_black_alpha(160),
    );
    painter.galley(rect.min, galley, c);
}

/// Where a view's image fits: its rectangle less a strip on the right for the colour bar, so
/// the bar never covers the image at its fitted size.
fn image_area(rect: egui::Rect) -> egui::Rect {
    let mut area = rect.shrink(2.0);
    area.max.x -= 20.0;
    area
}

/// A window bound as a colour bar shows it: as many decimals as its size needs, no more.
fn short_number(v: f32) -> String {
    match v.abs() {
        a if a >= 100.0 || a == 0.0 => format!("{v:.0}"),
        a if a >= 1.0 => format!("{v:.1}"),
        _ => format!("{v:.3}"),
    }
}

/// How far from a plane's current slice a point still shows on it (mm): half a slice step, and a
/// rounding's worth more.
fn half_slice_mm(doc: &Document, plane: Plane) -> f64 {
    slice_step_mm(doc.case.fixed.grid(), plane.normal_axis()) / 2.0 + 1e-6
}

/// The distance between slices along world axis `axis`: the spacing of the voxel axis closest to it.
pub fn slice_step_mm(grid: &Grid, axis: usize) -> f64 {
    let m = grid.world_from_voxel().linear();
    let spacing = grid.spacing_mm();
    (0..3)
        .max_by(|&a, &b| {
            (m[axis][a].abs() / spacing[a]).total_cmp(&(m[axis][b].abs() / spacing[b]))
        })
        .map_or(grid.min_spacing_mm(), |c| spacing[c])
}

fn draw_lines(
    painter: &egui::Painter,
    view: &PlaneView,
    fitted: egui::Rect,
    lines: &[Vec<[f64; 2]>],
    stroke: egui::Stroke,
) {
    let scale = egui::vec2(
        fitted.width() / view.width as f32,
        fitted.height() / view.height as f32,
    );
    for line in lines {
        let points: Vec<egui::Pos2> = line
            .iter()
            .map(|[x, y]| fitted.min + egui::vec2(*x as f32 * scale.x, *y as f32 * scale.y))
            .collect();
        painter.add(egui::Shape::line(points, stroke));
    }
}

/// Samples the slice of `key` on a helper thread, then asks for a frame no sooner than the run's
/// own repaints would: a frame at once for each of three views would look to the pacing like
/// someone interacting, and slow the run. Should no thread start, the job's channel is closed
/// and the next frame tries again; the view meanwhile shows the last snapshot, and the run's end
/// is sampled at once.
fn sample_behind(
    key: SampleKey,
    layers: Layers,
    earlier: Arc<SliceSamples>,
    ctx: egui::Context,
) -> Sampling {
    let (done, take) = crossbeam_channel::bounded(1);
    let view = key.view.clone();
    let wanted = key.wanted;
    let _ = std::thread::Builder::new()
        .name("slice sampling".into())
        .spawn(move || {
            let samples = sample(view, &layers.sources(), wanted, Some(&earlier));
            if done.send(samples).is_ok() {
                ctx.request_repaint_after(crate::app::RUN_REPAINT);
            }
        });
    Sampling { key, done: take }
}

/// Lines of a `spacing_mm` grid in the plane, inside `grid`'s footprint, each point `p` moved to
/// `p + u(p)` and projected onto the plane; in the view's pixel coordinates.
fn warped_grid(
    view: &PlaneView,
    grid: &Grid,
    field: &crate::volume::VectorField,
    spacing_mm: f32,
) -> Polylines {
    let spacing_px = spacing_mm as f64 / view.pixel_mm;
    let sample_px = (spacing_px / 4.0).max(1.0);
    let mut lines = Vec::new();
    let mut trace = |along_x: bool, at: f64| {
        let length = if along_x { view.width } else { view.height } as f64;
        let mut line = Vec::new();
        let mut t = 0.0;
        while t <= length {
            let (x, y) = if along_x { (t, at) } else { (at, t) };
            let p = view.world_at(x, y);
            if grid.contains_world_mm(p) {
                let u = displacement_at(field, p);
                line.push(view.pixel_of([p[0] + u[0], p[1] + u[1], p[2] + u[2]]));
            } else if line.len() > 1 {
                lines.push(std::mem::take(&mut line));
            } else {
                line.clear();
            }
            t += sample_px;
        }
        if line.len() > 1 {
            lines.push(line);
        }
    };
    let mut y = spacing_px / 2.0;
    while y < view.height as f64 {
        trace(true, y);
        y += spacing_px;
    }
    let mut x = spacing_px / 2.0;
    while x < view.width as f64 {
        trace(false, x);
        x += spacing_px;
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::views::colour::Window;
    use crate::case::Case;
    use crate::session::{Event, Method};
    use crate::volume::{Affine, VectorField};

    fn shift(doc: &mut Document, x_mm: f32) {
        let grid = doc.case.fixed.grid().clone();
        let field = VectorField::new(grid.clone(), vec![[x_mm, 0.0, 0.0]; grid.voxel_count()]);
        doc.set_deformation(Deformation::new(Affine::IDENTITY, field.unwrap()));
    }

    /// Shows a shift of `x_mm` along x, kept as a result (the next number).
    fn keep_shift(doc: &mut Document, x_mm: f32) {
        shift(doc, x_mm);
        doc.keep_result(crate::app::results::Origin::Session, None);
    }

    /// The generation of the samples plane `p` shows.
    fn shown(viewers: &Viewers, plane: Plane) -> u64 {
        viewers.planes[plane.index()]
            .samples
            .as_ref()
            .unwrap()
            .0
            .generation
    }

    #[test]
    fn a_runs_new_snapshot_is_sampled_behind_the_view_and_anything_else_at_once() {
        let case: Case = crate::demo::load_builtin().unwrap().into();
        let mut doc = Document::new(case);
        let display = Display::new(
            Window::auto(&doc.case.fixed),
            Window::auto(&doc.case.moving),
        );
        let mut viewers = Viewers::new(doc.case.fixed.grid().centre_mm(), display);
        let ctx = egui::Context::default();
        let plane = Plane::Axial;
        shift(&mut doc, 2.0);
        viewers.refresh(plane, &doc, &ctx, 0.0);
        assert_eq!(shown(&viewers, plane), doc.generation);

        let config = crate::register::config::RegistrationConfig::preset("fast").unwrap();
        doc.start_run(&Method::Iterative(Box::new(config)));
        let before = doc.generation;
        shift(&mut doc, 6.0);
        let images = viewers.planes[plane.index()].image_generation;
        viewers.refresh(plane, &doc, &ctx, 0.0);
        assert_eq!(shown(&viewers, plane), before, "the frame did not wait");
        let started = std::time::Instant::now();
        while shown(&viewers, plane) != doc.generation {
            assert!(started.elapsed().as_secs() < 30, "the samples never came");
            std::thread::sleep(std::time::Duration::from_millis(5));
            viewers.refresh(plane, &doc, &ctx, 0.0);
        }
        let state = &viewers.planes[plane.index()];
        assert!(state.image_generation > images, "the view was recomposed");
        let layers = Layers::of(&doc, &viewers.display);
        let key = viewers.sample_key(plane, &doc);
        let at_once = sample(key.view, &layers.sources(), key.wanted, None);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let behind = &state.samples.as_ref().unwrap().1;
        assert_eq!(bits(&behind.moving), bits(&at_once.moving));

        // A slice step during the run, and the snapshot after the run, show in the same frame.
        viewers.cursor_mm[2] += 4.0;
        shift(&mut doc, 8.0);
        viewers.refresh(plane, &doc, &ctx, 0.0);
        assert_eq!(shown(&viewers, plane), doc.generation);
        doc.apply(Event::Cancelled, || None);
        shift(&mut doc, 10.0);
        viewers.refresh(plane, &doc, &ctx, 0.0);
        assert_eq!(shown(&viewers, plane), doc.generation);
    }

    #[test]
    fn a_kept_result_takes_the_fixed_images_place_and_an_equal_one_shows_no_difference() {
        let case: Case = crate::demo::load_builtin().unwrap().into();
        let mut doc = Document::new(case);
        let mut display = Display::new(
            Window::auto(&doc.case.fixed),
            Window::auto(&doc.case.moving),
        );
        display.mode = CompareMode::Difference;
        let mut viewers = Viewers::new(doc.case.fixed.grid().centre_mm(), display);
        let ctx = egui::Context::default();
        let plane = Plane::Axial;
        keep_shift(&mut doc, 3.0);
        keep_shift(&mut doc, 0.0);
        keep_shift(&mut doc, 3.0);
        assert_eq!(doc.results.shown, Some(3));
        let image = |viewers: &mut Viewers, doc: &Document, against: Option<usize>| {
            viewers.display.against = against;
            viewers.refresh(plane, doc, &ctx, 0.0);
            viewers.planes[plane.index()]
                .image
                .as_ref()
                .unwrap()
                .1
                .clone()
        };
        let neutral = {
            let [r, g, b] = ColourMap::Diverging.rgb(0.5);
            egui::Color32::from_rgb(r, g, b)
        };
        // Result 1 is the shown transform again: the difference is neutral everywhere, though
        // the moving image differs from the fixed one.
        let same = image(&mut viewers, &doc, Some(1));
        assert!(same.pixels.iter().all(|&p| p == neutral));
        let with_fixed = image(&mut viewers, &doc, None);
        assert!(with_fixed.pixels.iter().any(|&p| p != neutral));
        // Result 2 (no shift) differs from the shown one where the moving image has edges.
        let unshifted = image(&mut viewers, &doc, Some(2));
        assert!(unshifted.pixels.iter().any(|&p| p != neutral));
        assert_ne!(unshifted.pixels, with_fixed.pixels);
        // The shown result is not compared with itself; one whose transform went is not either.
        assert_eq!(image(&mut viewers, &doc, Some(3)).pixels, with_fixed.pixels);
        doc.results.kept[0].deformation = None;
        assert_eq!(image(&mut viewers, &doc, Some(1)).pixels, with_fixed.pixels);
    }
}
