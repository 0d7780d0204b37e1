//! The metrics panel: folding and SDlogJ of the current deformation, the landmark table (TRE
//! before and after, sortable, colour coded) and per-label Dice with names.

use crate::app::state::Document;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TreOrder {
    #[default]
    Name,
    Before,
    After,
}

#[derive(Default)]
pub struct MetricsPanel {
    pub order: TreOrder,
    pub descending: bool,
}

/// Green under 2 mm, amber under 5 mm, red above: the usual reading of TRE at brain scale.
fn tre_colour(mm: f64) -> egui::Color32 {
    if mm < 2.0 {
        egui::Color32::from_rgb(110, 200, 110)
    } else if mm < 5.0 {
        egui::Color32::from_rgb(230, 180, 60)
    } else {
        egui::Color32::from_rgb(230, 90, 80)
    }
}

impl MetricsPanel {
    pub fn ui(&mut self, ui: &mut egui::Ui, doc: &Document) {
        if let Some(d) = &doc.deformation {
            ui.label(format!(
                "fold fraction {:.4} % · SDlogJ {:.4}",
                100.0 * d.stats.fold_fraction,
                d.stats.sdlogj
            ));
        }
        if let Some(report) = &doc.report
            && let Some(mean) = report.dice_mean
        {
            ui.label(format!("mean Dice {mean:.4}"));
            egui::Grid::new("dice").striped(true).show(ui, |ui| {
                ui.strong("label");
                ui.strong("Dice");
                ui.end_row();
                let mut rows: Vec<(&String, &f64)> = report.dice.iter().collect();
                rows.sort_by(|a, b| a.1.total_cmp(b.1));
                for (id, dice) in rows {
                    let name = id
                        .parse::<i32>()
                        .ok()
                        .and_then(|i| doc.case.label_names.get(&i))
                        .map_or(id.clone(), |n| format!("{id} {n}"));
                    ui.label(name);
                    ui.label(format!("{dice:.4}"));
                    ui.end_row();
                }
            });
        }
        let Some(tre) = &doc.tre else {
            ui.label("no landmark pairs");
            return;
        };
        ui.label(format!(
            "TRE over {} pairs: {:.2} mm before, {:.2} mm now (median {:.2}, max {:.2})",
            tre.pairs.len(),
            tre.before.mean,
            tre.after.mean,
            tre.after.median,
            tre.after.max
        ));
        let mut rows: Vec<_> = tre.pairs.iter().collect();
        match self.order {
            TreOrder::Name => {}
            TreOrder::Before => rows.sort_by(|a, b| a.before_mm.total_cmp(&b.before_mm)),
            TreOrder::After => rows.sort_by(|a, b| a.after_mm.total_cmp(&b.after_mm)),
        }
        if self.descending {
            rows.reverse();
        }
        egui::ScrollArea::vertical()
            .id_salt("tre table")
            .max_height(220.0)
            .show(ui, |ui| {
                egui::Grid::new("tre").striped(true).show(ui, |ui| {
                    for (order, title) in [
                        (TreOrder::Name, "pair"),
                        (TreOrder::Before, "before mm"),
                        (TreOrder::After, "now mm"),
                    ] {
                        let arrow = if self.order == order {
                            if self.descending { " (desc)" } else { " (asc)" }
                        } else {
                            ""
                        };
                        if ui.button(format!("{title}{arrow}")).clicked() {
                            if self.order == order {
                                self.descending = !self.descending;
                            } else {
                                self.order = order;
                                self.descending = false;
                            }
                        }
                    }
                    ui.end_row();
                    for pair in rows {
                        ui.label(&pair.name);
                        ui.colored_label(
                            tre_colour(pair.before_mm),
                            format!("{:.2}", pair.before_mm),
                        );
                        ui.colored_label(
                            tre_colour(pair.after_mm),
                            format!("{:.2}", pair.after_mm),
                        );
                        ui.end_row();
                    }
                });
            });
    }
}
