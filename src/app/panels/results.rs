//! The table of the case's results (runs, network registrations, landmark fits, a reopened
//! session): what made each, with its Dice, TRE, folds and SDlogJ side by side (its time on
//! hover); a click shows one again, and a run's settings go back into the registration panel.

use crate::app::results::KeptResult;
use crate::app::state::Document;

/// What the table asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultsRequest {
    /// Show this kept result again.
    Show(usize),
    /// Put the configuration that made this result into the registration panel.
    UseSettings(usize),
}

/// Room for a result's number and name before they end in "…" (whole on hover): the table then
/// fits the panel's default width, so that it does not widen the panel and narrow the views.
const NAME_WIDTH: f32 = 120.0;

pub fn results_ui(ui: &mut egui::Ui, doc: &Document) -> Option<ResultsRequest> {
    let kept = &doc.results.kept;
    if kept.is_empty() {
        return None;
    }
    let mut request = None;
    let running = doc.run.is_running();
    let dice = kept.iter().any(|r| r.dice.is_some());
    let tre = kept.iter().any(|r| r.tre_mm.is_some());
    let number =
        |v: Option<f64>, digits: usize| v.map_or("–".into(), |v| format!("{v:.digits$}"));
    egui::Grid::new("results")
        .striped(true)
        .spacing([5.0, 3.0])
        .show(ui, |ui| {
            ui.label("result")
                .on_hover_text("click one to show it again (not while a run goes on)");
            if dice {
                ui.label("Dice").on_hover_text("mean Dice over the labels");
            }
            if tre {
                ui.label("TRE mm")
                    .on_hover_text("mean error of the landmark pairs counted now");
            }
            ui.label("fold %").on_hover_text("voxels with det J ≤ 0");
            ui.label("SDlogJ");
            ui.label("");
            ui.end_row();
            for result in kept {
                ui.horizontal(|ui| {
                    ui.set_max_width(NAME_WIDTH);
                    let shown = doc.results.shown == Some(result.number);
                    let text = format!("{} {}", result.number, result.name);
                    let cell = ui.add_enabled(
                        !running && result.deformation.is_some(),
                        egui::Button::selectable(shown, egui::RichText::new(&text)).truncate(),
                    );
                    let cell = cell
                    .on_hover_text(hover(result))
                    .on_disabled_hover_text(if running {
                        format!("{text}: shown again once the run ends")
                    } else {
                        format!(
                            "{text}: its transform is not kept (memory goes to newer ones, and a \
                             session saves the shown one's only); its scores and settings stay"
                        )
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
                if result.origin.config().is_some() {
                    let settings = ui.button("use").on_hover_text(format!(
                        "use its settings: puts the configuration that made result {} into \
                             the registration panel",
                        result.number
                    ));
                    if settings.clicked() {
                        request = Some(ResultsRequest::UseSettings(result.number));
                    }
                } else {
                    ui.label("");
                }
                ui.end_row();
            }
        });
    request
}

/// A result's name in full, and the measures the table leaves out.
fn hover(result: &KeptResult) -> String {
    let time = result
        .seconds
        .map_or(String::new(), |s| format!(" in {s:.1} s"));
    format!(
        "{} {}{time}: non-diffeomorphic volume {:.1} mm³ ({:.4} %), det J {:.3} to {:.3}",
        result.number,
        result.name,
        result.ndv.mm3,
        100.0 * result.ndv.fraction,
        result.stats.min,
        result.stats.max
    )
}
