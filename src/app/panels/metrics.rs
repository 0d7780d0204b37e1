//! The metrics panel: folding and SDlogJ of the current deformation, the TRE summary and per-label
//! Dice with names.

use crate::app::state::Document;

#[derive(Default)]
pub struct MetricsPanel {}

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
        if let Some(tre) = &doc.tre {
            ui.label(format!(
                "TRE {:.2} mm before, {:.2} mm now (median {:.2}, max {:.2}); pairs in the Landmarks tab",
                tre.before.mean, tre.after.mean, tre.after.median, tre.after.max
            ));
        }
    }
}
