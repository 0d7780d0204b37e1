//! The table of the case's results (runs, network registrations, landmark fits, a reopened
//! session): what made each, with its Dice, TRE, folds and SDlogJ side by side (its time on
//! hover), sortable; a click shows one again, a run's settings go back into the registration
//! panel, a result leaves the table, and the table exports as CSV or JSON.

use super::metrics::csv_field;
use super::path_field::{ExportField, ExportText};
use super::sort::SortOrder;
use crate::app::results::{KeptResult, Origin, SavedResult};
use crate::app::state::Document;
use crate::register::deformable::Regulariser;
use crate::volume::Grid;
use std::path::{Path, PathBuf};

/// What the table asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResultsRequest {
    /// Show this kept result again.
    Show(usize),
    /// Put the configuration that made this result into the registration panel.
    UseSettings(usize),
    /// Compare the shown transform with this result's in the views.
    CompareInViews(usize),
    /// Take this result out of the table.
    Remove(usize),
    /// Write the table to this file.
    Export(PathBuf),
}

/// The columns the table sorts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ResultColumn {
    /// The order they were made in.
    #[default]
    Number,
    Dice,
    Tre,
    Fold,
    SdLogJ,
}

#[derive(Default)]
pub struct ResultsTable {
    pub order: SortOrder<ResultColumn>,
    pub export: ExportField,
}

/// Room for a result's number and name before they end in "…" (whole on hover): the table then
/// fits the panel's default width, so that it does not widen the panel and narrow the views.
const NAME_WIDTH: f32 = 115.0;

impl ResultsTable {
    pub fn ui(&mut self, ui: &mut egui::Ui, doc: &Document) -> Option<ResultsRequest> {
        if doc.results.kept.is_empty() {
            return None;
        }
        let mut request = self.table_ui(ui, doc);
        let text = ExportText {
            label: "table file",
            hint: "results.csv or results.json",
            button: "export table",
            writes: "every result's scores, in the order they were made: one row each (CSV), or \
                     with the whole configuration that made it (JSON)",
            needs: "",
        };
        if let Some(path) = self.export.ui(ui, &text, true) {
            request = Some(ResultsRequest::Export(path));
        }
        request
    }

    fn table_ui(&mut self, ui: &mut egui::Ui, doc: &Document) -> Option<ResultsRequest> {
        let mut kept: Vec<&KeptResult> = doc.results.kept.iter().collect();
        self.order.arrange(&mut kept, |r| match self.order.column {
            ResultColumn::Number => Some(r.number as f64),
            ResultColumn::Dice => r.dice,
            ResultColumn::Tre => r.tre_mm,
            ResultColumn::Fold => Some(r.stats.fold_fraction),
            ResultColumn::SdLogJ => Some(r.stats.sdlogj),
        });
        let mut request = None;
        let running = doc.run.is_running();
        let dice = kept.iter().any(|r| r.dice.is_some());
        let tre = kept.iter().any(|r| r.tre_mm.is_some());
        let number =
            |v: Option<f64>, digits: usize| v.map_or("–".into(), |v| format!("{v:.digits$}"));
        egui::Grid::new("results")
            .striped(true)
            .spacing([3.0, 3.0])
            .show(ui, |ui| {
                let mut header = |ui: &mut egui::Ui, column, title, hover| {
                    self.order
                        .header(ui, column, title, 0.0)
                        .on_hover_text(hover);
                };
                header(
                    ui,
                    ResultColumn::Number,
                    "result",
                    "click one to show it again (not while a run goes on)",
                );
                if dice {
                    header(ui, ResultColumn::Dice, "Dice", "mean Dice over the labels");
                }
                if tre {
                    header(
                        ui,
                        ResultColumn::Tre,
                        "TRE mm",
                        "mean error of the landmark pairs counted now",
                    );
                }
                header(ui, ResultColumn::Fold, "fold %", "voxels with det J ≤ 0");
                header(
                    ui,
                    ResultColumn::SdLogJ,
                    "SDlogJ",
                    "standard deviation of ln det J",
                );
                ui.label("");
                ui.end_row();
                for result in kept {
                    let shown = doc.results.shown == Some(result.number);
                    ui.horizontal(|ui| {
                        ui.set_max_width(NAME_WIDTH);
                        let text = format!("{} {}", result.number, result.name);
                        let button =
                            egui::Button::selectable(shown, egui::RichText::new(&text)).truncate();
                        let cell = ui
                            .add_enabled(!running && result.deformation.is_some(), button)
                            .on_hover_ui(|ui| {
                                ui.label(hover(result, doc.case.fixed.grid()));
                            })
                            .on_disabled_hover_ui(|ui| {
                                ui.label(if running {
                                    format!("{text}: shown again once the run ends")
                                } else {
                                    format!(
                                        "{text}: its transform is not kept (memory goes to newer \
                                         ones, and a session saves the shown one's only); its \
                                         scores and settings stay"
                                    )
                                });
                            });
                        if cell.clicked() && !shown {
                            request = Some(ResultsRequest::Show(result.number));
                        }
                    });
                    if dice {
                        ui.label(number(result.dice, 4));
                    }
                    if tre {
                        ui.label(number(result.tre_mm, 2));
                    }
                    ui.label(format!("{:.4}", 100.0 * result.stats.fold_fraction));
                    ui.label(format!("{:.3}", result.stats.sdlogj));
                    let result_number = result.number;
                    ui.menu_button("…", |ui| {
                        if result.origin.config().is_some()
                            && ui
                                .button("use its settings")
                                .on_hover_text(
                                    "puts the configuration that made it into the registration \
                                     panel",
                                )
                                .clicked()
                        {
                            request = Some(ResultsRequest::UseSettings(result_number));
                        }
                        if ui
                            .add_enabled(
                                !shown && result.deformation.is_some(),
                                egui::Button::new("compare in the views"),
                            )
                            .on_hover_text(
                                "its warped image takes the fixed image's place in the compare \
                                 modes (\"against\" under compare, left)",
                            )
                            .on_disabled_hover_text(if shown {
                                "shown in the views: show another one first"
                            } else {
                                "its transform is not kept"
                            })
                            .clicked()
                        {
                            request = Some(ResultsRequest::CompareInViews(result_number));
                        }
                        if ui
                            .add_enabled(!shown, egui::Button::new("remove from the table"))
                            .on_hover_text("with its transform")
                            .on_disabled_hover_text("shown in the views: show another one first")
                            .clicked()
                        {
                            request = Some(ResultsRequest::Remove(result_number));
                        }
                    })
                    .response
                    .on_hover_text(if result.origin.config().is_some() {
                        format!("result {result_number}: use its settings, compare or remove it")
                    } else {
                        format!("result {result_number}: compare or remove it")
                    });
                    ui.end_row();
                }
            });
        request
    }
}

/// A result's name in full, the measures the table leaves out, and what a custom run changed
/// from the preset nearest to it (built only while hovered: it compares with every preset).
fn hover(result: &KeptResult, fixed: &Grid) -> String {
    let time = result
        .seconds
        .map_or(String::new(), |s| format!(" in {s:.1} s"));
    let changes = result
        .origin
        .config()
        .and_then(|c| c.changes_from_nearest_preset(fixed))
        .map_or(String::new(), |(preset, changes)| {
            format!("\n{preset}, changed: {}", changes.join(", "))
        });
    format!(
        "{} {}{time}: non-diffeomorphic volume {:.1} mm³ ({:.4} %), det J {:.3} to {:.3}{changes}",
        result.number,
        result.name,
        result.ndv.mm3,
        100.0 * result.ndv.fraction,
        result.stats.min,
        result.stats.max
    )
}

/// Writes the results, in the order they were made, as JSON (each with the whole configuration
/// that made it) or, for a `.csv` name, one row each; atomically.
pub fn export(results: &[&SavedResult], path: &Path) -> crate::Result<()> {
    let csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let bytes = if csv {
        let mut out = String::from(
            "number,name,made_by,lambda,seconds,dice_mean,tre_mean_mm,fold_percent,sdlogj,\
             ndv_mm3,ndv_percent,jacobian_min,jacobian_max\n",
        );
        let value = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
        for r in results {
            let made_by = match r.origin {
                Origin::Run(_) => "run",
                Origin::SweepEnd(_) => "sweep_end",
                Origin::Network(_) => "network",
                Origin::Landmarks(_) => "landmarks",
                Origin::Session => "session",
            };
            let lambda = r
                .origin
                .config()
                .and_then(|c| c.deformable.as_ref())
                .map(|d| Regulariser::Diffusion.weight(d));
            out.push_str(&format!(
                "{},{},{made_by},{},{},{},{},{},{},{},{},{},{}\n",
                r.number,
                csv_field(&r.name),
                value(lambda),
                value(r.seconds),
                value(r.dice),
                value(r.tre_mm),
                100.0 * r.stats.fold_fraction,
                r.stats.sdlogj,
                r.ndv.mm3,
                100.0 * r.ndv.fraction,
                r.stats.min,
                r.stats.max,
            ));
        }
        out.into_bytes()
    } else {
        serde_json::to_vec_pretty(results)
            .map_err(|e| crate::Error::format(path, format!("cannot encode the results: {e}")))?
    };
    crate::atomic::write_bytes(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::jacobian::JacobianStats;
    use crate::eval::non_diffeomorphic::NonDiffeomorphicVolume;
    use crate::register::config::RegistrationConfig;
    use crate::register::landmark_fit::FitModel;

    #[test]
    fn the_table_exports_as_csv_rows_and_as_json_with_each_configuration() {
        let stats = JacobianStats {
            fold_fraction: 0.0025,
            folded_voxels: 25,
            sdlogj: 0.125,
            min: -0.5,
            max: 2.5,
        };
        let ndv = NonDiffeomorphicVolume {
            mm3: 12.5,
            fraction: 0.0001,
        };
        let mut config = RegistrationConfig::preset("fast").unwrap();
        let d = config.deformable.as_mut().unwrap();
        *Regulariser::Diffusion.weight_mut(d) = 0.75;
        let run = SavedResult {
            number: 2,
            name: "fast, λ 0.75".into(),
            origin: Origin::Run(Box::new(config.clone())),
            seconds: Some(31.5),
            dice: Some(0.875),
            tre_mm: None,
            stats,
            ndv,
        };
        let fit = SavedResult {
            number: 1,
            name: "landmarks, \"rigid\" fit".into(),
            origin: Origin::Landmarks(FitModel::Rigid),
            seconds: None,
            dice: None,
            tre_mm: Some(1.25),
            stats,
            ndv,
        };
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("results.CSV");
        export(&[&fit, &run], &csv).unwrap();
        let text = std::fs::read_to_string(&csv).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("number,name,made_by,lambda,seconds,dice_mean,tre_mean_mm"));
        assert_eq!(
            lines[1],
            "1,\"landmarks, \"\"rigid\"\" fit\",landmarks,,,,1.25,0.25,0.125,12.5,0.01,-0.5,2.5"
        );
        assert_eq!(
            lines[2],
            "2,\"fast, λ 0.75\",run,0.75,31.5,0.875,,0.25,0.125,12.5,0.01,-0.5,2.5"
        );
        let json = dir.path().join("results.json");
        export(&[&fit, &run], &json).unwrap();
        let back: Vec<SavedResult> =
            serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        assert_eq!(back, vec![fit, run]);
        assert_eq!(back[1].origin.config(), Some(&config));
    }
}
