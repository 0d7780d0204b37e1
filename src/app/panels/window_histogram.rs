//! An image's histogram with its display window over it, as ITK-SNAP's contrast tab shows it: drag
//! an edge to move it, drag inside the window to move both, double-click for auto-contrast (the
//! caller's to handle); a strip below shows the colour map each value is drawn with.

use super::history_plot::significant;
use crate::app::views::colour::{ColourMap, Window};
use crate::volume::histogram::Histogram;

const PLOT_HEIGHT: f32 = 64.0;
const STRIP_HEIGHT: f32 = 8.0;
/// How near (points) the pointer must be to an edge to take that edge rather than the window.
const GRAB: f32 = 6.0;

/// What a drag moves, and the value range the widget spanned when it began: held still while
/// dragging, so the axis does not slide under the pointer as the window passes the data's ends.
#[derive(Clone, Copy)]
struct Drag {
    what: Grabbed,
    span: (f32, f32),
}

#[derive(Clone, Copy, PartialEq)]
enum Grabbed {
    Low,
    High,
    Both,
}

/// Draws the histogram (log counts, so the background's spike does not flatten the tissue's) and
/// lets the pointer set `window`; `name` names the widget for screen readers and tests.
pub fn window_histogram_ui(
    ui: &mut egui::Ui,
    name: &str,
    histogram: &Histogram,
    window: &mut Window,
    map: ColourMap,
) -> egui::Response {
    let size = egui::vec2(ui.available_width(), PLOT_HEIGHT + STRIP_HEIGHT);
    let (rect, response) = ui.allocate_exact_size(size, egui::Sense::click_and_drag());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, ui.is_enabled(), name));
    let id = response.id;
    let held: Option<Drag> = ui.data(|d| d.get_temp(id));
    let span = held.map_or_else(|| value_span(histogram, window), |d| d.span);
    let to_x = |v: f32| rect.left() + (v - span.0) / (span.1 - span.0) * rect.width();
    let to_value = |x: f32| span.0 + (x - rect.left()) / rect.width() * (span.1 - span.0);

    // Where the button went down, not where the pointer is once the move counts as a drag.
    if response.drag_started()
        && let Some(p) = ui.input(|i| i.pointer.press_origin())
    {
        let (lo_x, hi_x) = (to_x(window.lo), to_x(window.hi));
        let what = match p.x {
            x if (x - lo_x).abs() <= GRAB && (x - lo_x).abs() <= (x - hi_x).abs() => Grabbed::Low,
            x if (x - hi_x).abs() <= GRAB => Grabbed::High,
            x if x > lo_x && x < hi_x => Grabbed::Both,
            x if x <= lo_x => Grabbed::Low,
            _ => Grabbed::High,
        };
        ui.data_mut(|d| d.insert_temp(id, Drag { what, span }));
    }
    if let Some(drag) = ui.data(|d| d.get_temp::<Drag>(id))
        && response.dragged()
        && let Some(p) = response.interact_pointer_pos()
    {
        let v = to_value(p.x);
        let least = (span.1 - span.0) * 1e-3;
        *window = match drag.what {
            Grabbed::Low => Window::new(v.min(window.hi - least), window.hi),
            Grabbed::High => Window::new(window.lo, v.max(window.lo + least)),
            Grabbed::Both => {
                let shift = response.drag_delta().x / rect.width() * (span.1 - span.0);
                Window::new(window.lo + shift, window.hi + shift)
            }
        };
    }
    if response.drag_stopped() {
        ui.data_mut(|d| d.remove::<Drag>(id));
    }

    let painter = ui.painter_at(rect);
    let visuals = ui.visuals();
    let plot = egui::Rect::from_min_size(rect.min, egui::vec2(rect.width(), PLOT_HEIGHT));
    painter.rect_filled(plot, 2.0, visuals.extreme_bg_color);
    paint_bars(&painter, plot, histogram, &to_x, visuals.weak_text_color());
    let (lo_x, hi_x) = (to_x(window.lo), to_x(window.hi));
    let accent = visuals.selection.bg_fill;
    painter.rect_filled(
        egui::Rect::from_x_y_ranges(lo_x..=hi_x, plot.y_range()),
        0.0,
        accent.gamma_multiply(0.25),
    );
    // The window's grey ramp, the way ITK-SNAP draws its contrast curve.
    painter.line_segment(
        [
            egui::pos2(lo_x, plot.bottom()),
            egui::pos2(hi_x, plot.top()),
        ],
        egui::Stroke::new(1.0, visuals.text_color()),
    );
    for x in [lo_x, hi_x] {
        painter.vline(x, plot.y_range(), egui::Stroke::new(2.0, accent));
    }
    let strip =
        egui::Rect::from_min_max(egui::pos2(rect.left(), plot.bottom()), rect.right_bottom());
    paint_strip(&painter, strip, window, map, &to_value);

    if let Some(p) = response.hover_pos() {
        let near_edge = (p.x - lo_x).abs() <= GRAB || (p.x - hi_x).abs() <= GRAB;
        ui.ctx().set_cursor_icon(if near_edge {
            egui::CursorIcon::ResizeHorizontal
        } else {
            egui::CursorIcon::Grab
        });
    }
    let hovered = response.hover_pos().map(|p| to_value(p.x));
    response.on_hover_ui(|ui| {
        if let Some(v) = hovered
            && let Some(bin) = histogram.bin_of(v as f64)
        {
            let (a, b) = histogram.bin_range(bin);
            ui.label(format!(
                "{} voxels from {} to {}",
                histogram.counts[bin],
                significant(a),
                significant(b)
            ));
        }
        ui.label("drag an edge to move it, inside to move the window; double-click for auto");
    })
}

/// The values the widget spans: the data's range and the window's, whichever reaches further.
fn value_span(histogram: &Histogram, window: &Window) -> (f32, f32) {
    (
        (histogram.start as f32).min(window.lo),
        (histogram.end() as f32).max(window.hi),
    )
}

fn paint_bars(
    painter: &egui::Painter,
    plot: egui::Rect,
    histogram: &Histogram,
    to_x: &impl Fn(f32) -> f32,
    colour: egui::Color32,
) {
    let tallest = histogram.counts.iter().copied().max().unwrap_or(0);
    if tallest == 0 {
        return;
    }
    let scale = (plot.height() - 2.0) / (tallest as f32).ln_1p();
    let mut mesh = egui::Mesh::default();
    for (i, &count) in histogram.counts.iter().enumerate() {
        if count == 0 {
            continue;
        }
        let (a, b) = histogram.bin_range(i);
        let (left, right) = (to_x(a as f32), to_x(b as f32).max(to_x(a as f32) + 1.0));
        let top = plot.bottom() - (count as f32).ln_1p() * scale;
        mesh.add_colored_rect(
            egui::Rect::from_x_y_ranges(left..=right, top..=plot.bottom()),
            colour,
        );
    }
    painter.add(mesh);
}

/// The colour map over the widget's values, through the window: flat beyond its edges.
fn paint_strip(
    painter: &egui::Painter,
    strip: egui::Rect,
    window: &Window,
    map: ColourMap,
    to_value: &impl Fn(f32) -> f32,
) {
    const STEPS: usize = 96;
    let colour_at = |x: f32| {
        let [r, g, b] = map.rgb(window.unit(to_value(x)));
        egui::Color32::from_rgb(r, g, b)
    };
    let mut mesh = egui::Mesh::default();
    for s in 0..=STEPS {
        let x = strip.left() + strip.width() * s as f32 / STEPS as f32;
        let colour = colour_at(x);
        mesh.colored_vertex(egui::pos2(x, strip.top()), colour);
        mesh.colored_vertex(egui::pos2(x, strip.bottom()), colour);
        if s > 0 {
            let n = (2 * s) as u32;
            mesh.add_triangle(n - 2, n - 1, n);
            mesh.add_triangle(n - 1, n + 1, n);
        }
    }
    painter.add(mesh);
}
