//! A table's sort order (the column and the direction), the header buttons that change it, and
//! the sorting itself, shared by the landmark, per-label and results tables.

/// Sorts a table by `column`, ascending unless `descending`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SortOrder<C> {
    pub column: C,
    pub descending: bool,
}

impl<C: Copy + PartialEq> SortOrder<C> {
    /// The header button of `column`, at least `width` wide (the landmark table's header is a
    /// row of fixed widths), with a triangle pointing up or down where the table is sorted by it
    /// (painted: egui's default font has no arrows); a click sorts by that column, or turns the
    /// order around when the table is sorted by it already.
    pub fn header(
        &mut self,
        ui: &mut egui::Ui,
        column: C,
        title: &str,
        width: f32,
    ) -> egui::Response {
        let size = egui::vec2(width, ui.spacing().interact_size.y);
        let sorted = self.column == column;
        let arrow = egui::IdSalt::new("sort arrow");
        let side = 0.6 * ui.text_style_height(&egui::TextStyle::Button);
        let button = if sorted {
            egui::Button::new((title, egui::Atom::custom(arrow, egui::Vec2::splat(side))))
        } else {
            egui::Button::new(title)
        };
        let drawn = button.frame_when_inactive(false).min_size(size).atom_ui(ui);
        if sorted && let Some(rect) = drawn.rect(arrow) {
            let (top, bottom) = (rect.top() + 0.15 * side, rect.bottom() - 0.15 * side);
            // Clockwise on screen, the winding egui fills fastest.
            let (tip, base, first, second) = if self.descending {
                (bottom, top, rect.left(), rect.right())
            } else {
                (top, bottom, rect.right(), rect.left())
            };
            let points = vec![
                egui::pos2(rect.center().x, tip),
                egui::pos2(first, base),
                egui::pos2(second, base),
            ];
            let colour = ui.style().interact(&drawn.response).text_color();
            ui.painter().add(egui::Shape::convex_polygon(
                points,
                colour,
                egui::Stroke::NONE,
            ));
        }
        let response = drawn.response;
        if response.clicked() {
            self.click(column);
        }
        response
    }

    fn click(&mut self, column: C) {
        if self.column == column {
            self.descending = !self.descending;
        } else {
            self.column = column;
            self.descending = false;
        }
    }

    /// Sorts `rows` by `key`, the way this order goes; rows without a value come last either way,
    /// and rows with equal values keep their order.
    pub fn arrange<T>(&self, rows: &mut [T], key: impl Fn(&T) -> Option<f64>) {
        rows.sort_by(|a, b| match (key(a), key(b)) {
            (Some(a), Some(b)) if self.descending => b.total_cmp(&a),
            (Some(a), Some(b)) => a.total_cmp(&b),
            (a, b) => a.is_none().cmp(&b.is_none()),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_sort_both_ways_with_missing_values_last_and_ties_in_place() {
        let rows = [
            ("a", Some(2.0)),
            ("b", None),
            ("c", Some(1.0)),
            ("d", Some(2.0)),
            ("e", None),
            ("f", Some(-0.5)),
        ];
        let sorted = |order: SortOrder<()>| {
            let mut r = rows;
            order.arrange(&mut r, |r| r.1);
            r.map(|r| r.0).concat()
        };
        let mut order = SortOrder::default();
        assert_eq!(sorted(order), "fcadbe");
        order.click(());
        assert!(order.descending);
        assert_eq!(sorted(order), "adcfbe");
        order.click(());
        assert_eq!(sorted(order), "fcadbe");
    }

    #[test]
    fn a_new_column_sorts_ascending() {
        let mut order = SortOrder {
            column: 1,
            descending: true,
        };
        order.click(2);
        assert_eq!(
            order,
            SortOrder {
                column: 2,
                descending: false
            }
        );
    }
}
