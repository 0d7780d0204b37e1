//! The measuring tool's rulers: a line drawn in a view, with its length in mm, kept per view and
//! shown on the slice it was drawn on (as ITK-SNAP's ruler), to read off a misalignment or a size.

use super::slice::{Plane, PlaneView};
use serde::{Deserialize, Serialize};

/// A straight line between two world points (mm) in one view's slice.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ruler {
    pub ends_mm: [[f64; 3]; 2],
}

impl Ruler {
    pub fn length_mm(&self) -> f64 {
        let [a, b] = self.ends_mm;
        (0..3).map(|k| (a[k] - b[k]).powi(2)).sum::<f64>().sqrt()
    }

    /// Whether it lies on the slice through `cursor_mm` of `plane`, within `half_step_mm`.
    pub fn on_slice(&self, plane: Plane, cursor_mm: [f64; 3], half_step_mm: f64) -> bool {
        let a = plane.normal_axis();
        self.ends_mm
            .iter()
            .all(|e| (e[a] - cursor_mm[a]).abs() <= half_step_mm)
    }

    /// The end within `radius` points of `pos`, the nearer if both are.
    pub fn end_near(
        &self,
        view: &PlaneView,
        fitted: egui::Rect,
        pos: egui::Pos2,
        radius: f32,
    ) -> Option<usize> {
        let distance = |i: usize| view.screen_of(fitted, self.ends_mm[i]).distance(pos);
        let nearer = if distance(0) <= distance(1) { 0 } else { 1 };
        (distance(nearer) <= radius).then_some(nearer)
    }

    /// The line, its ends and its length beside its middle.
    pub fn paint(&self, painter: &egui::Painter, view: &PlaneView, fitted: egui::Rect) {
        let colour = egui::Color32::from_rgb(255, 230, 0);
        let [a, b] = self.ends_mm.map(|e| view.screen_of(fitted, e));
        painter.line_segment([a, b], egui::Stroke::new(1.5, colour));
        for end in [a, b] {
            painter.circle_stroke(end, 3.0, egui::Stroke::new(1.5, colour));
        }
        let font = egui::FontId::proportional(13.0);
        let galley = painter.layout_no_wrap(format!("{:.1} mm", self.length_mm()), font, colour);
        // Beside the line, on the side away from it, so the text never covers what is measured.
        let along = (b - a).normalized();
        let across = if along == egui::Vec2::ZERO {
            egui::vec2(0.0, -1.0)
        } else {
            egui::vec2(along.y, -along.x)
        };
        let across = if across.y > 0.0 { -across } else { across };
        let middle = a + (b - a) / 2.0 + across * (6.0 + galley.size().y / 2.0);
        let rect = egui::Align2::CENTER_CENTER.anchor_size(middle, galley.size());
        painter.rect_filled(rect.expand(2.0), 2.0, egui::Color32::from_black_alpha(170));
        painter.galley(rect.min, galley, colour);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ruler_measures_in_mm_and_belongs_to_its_slice() {
        let ruler = Ruler {
            ends_mm: [[0.0, 0.0, 10.0], [3.0, 4.0, 10.2]],
        };
        assert!((ruler.length_mm() - (25.0f64 + 0.04).sqrt()).abs() < 1e-12);
        assert!(ruler.on_slice(Plane::Axial, [50.0, 50.0, 10.0], 0.5));
        assert!(!ruler.on_slice(Plane::Axial, [0.0, 0.0, 11.0], 0.5));
        assert!(!ruler.on_slice(Plane::Coronal, [0.0, 2.0, 10.0], 0.5));
    }
}
