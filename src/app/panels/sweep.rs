//! The smoothness sweep of the registration panel: the deformable stage once per diffusion weight
//! λ from one affine stage, and the trade-off it shows (accuracy against folding or SDlogJ) as a
//! plot and a table, from which a λ is taken for the next run; the points export as CSV or JSON.

use super::history_plot::{decimal_plot, series_line};
use super::path_field::{ExportField, ExportText};
use crate::app::state::Document;
use crate::session::{Sweep, SweepPoint};
use egui_plot::{PlotPoint, Points, Text};
use std::path::PathBuf;

/// What the sweep section asks of the registration panel.
#[derive(Clone, Debug, PartialEq)]
pub enum SweepAction {
    /// Run a sweep over these weights.
    Start(Vec<f64>),
    /// The command line of a sweep over these weights.
    CopyCommand(Vec<f64>),
    /// Take this λ for the next run.
    Use(f64),
    /// Write the points to this file (CSV, or JSON by its name).
    Export(PathBuf),
}

/// The smoothness measure on the plot's x axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Smoothness {
    FoldPercent,
    NdvPercent,
    SdLogJ,
}

impl Smoothness {
    const ALL: [Smoothness; 3] = [
        Smoothness::FoldPercent,
        Smoothness::NdvPercent,
        Smoothness::SdLogJ,
    ];

    fn name(self) -> &'static str {
        match self {
            Smoothness::FoldPercent => "fold % (det J ≤ 0)",
            Smoothness::NdvPercent => "NDV %",
            Smoothness::SdLogJ => "SDlogJ",
        }
    }

    /// The fold percentage where any point folds, else SDlogJ: a well-regularised sweep folds
    /// nowhere, and its points would stand on one vertical line.
    fn auto(points: &[SweepPoint]) -> Smoothness {
        if points.iter().any(|p| p.report.folded_voxels > 0) {
            Smoothness::FoldPercent
        } else {
            Smoothness::SdLogJ
        }
    }

    fn of(self, p: &SweepPoint) -> Option<f64> {
        match self {
            Smoothness::FoldPercent => Some(100.0 * p.report.fold_fraction),
            Smoothness::NdvPercent => p.report.ndv_fraction.map(|f| 100.0 * f),
            Smoothness::SdLogJ => Some(p.report.sdlogj),
        }
    }
}

/// A measure of how well a sweep point aligns, and whether more is better.
struct Accuracy {
    name: &'static str,
    of: fn(&SweepPoint) -> Option<f64>,
    higher_is_better: bool,
}

/// What the sweep is judged by: mean Dice when the run had labels to score, else mean TRE when it
/// had landmarks, else the registration's own similarity loss.
fn accuracy(points: &[SweepPoint]) -> Accuracy {
    let dice = Accuracy {
        name: "Dice",
        of: |p| p.report.dice_mean,
        higher_is_better: true,
    };
    let tre = Accuracy {
        name: "TRE mm",
        of: |p| p.report.tre_mean_mm,
        higher_is_better: false,
    };
    let similarity = Accuracy {
        name: "similarity loss",
        of: |p| p.similarity,
        higher_is_better: false,
    };
    [dice, tre]
        .into_iter()
        .find(|a| points.iter().any(|p| (a.of)(p).is_some()))
        .unwrap_or(similarity)
}

/// The weights in `text` (numbers apart by spaces or commas), or why they are not a sweep.
pub fn parse_weights(text: &str) -> Result<Vec<f64>, String> {
    let weights = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|w| !w.is_empty())
        .map(|w| match w.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
            _ => Err(format!("“{w}” is not a weight ≥ 0")),
        })
        .collect::<Result<Vec<f64>, String>>()?;
    if weights.is_empty() {
        return Err("type one weight or more".into());
    }
    Ok(weights)
}

fn weights_text(weights: &[f64]) -> String {
    let texts: Vec<String> = weights.iter().map(|w| format!("{w}")).collect();
    texts.join(" ")
}

pub struct SweepSection {
    /// The weights as typed.
    pub text: String,
    pub export: ExportField,
    /// The plot's x axis as chosen; `None` picks it from the points ([`Smoothness::auto`]).
    pub x: Option<Smoothness>,
}

impl SweepSection {
    pub fn new(lambda: f64) -> SweepSection {
        SweepSection {
            text: weights_text(&Sweep::weights_around(lambda)),
            x: None,
            export: ExportField::default(),
        }
    }

    /// Offers weights around the configuration's λ (after a preset changed it).
    pub fn centre_on(&mut self, lambda: f64) {
        self.text = weights_text(&Sweep::weights_around(lambda));
    }

    /// The weights field and its button, then the finished points of the last sweep.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        doc: &Document,
        can_start: bool,
    ) -> Option<SweepAction> {
        let mut action = None;
        ui.label(
            "The affine stage once, then the deformable stage from it once per diffusion weight λ, \
             each result scored: how much accuracy each step of smoothness costs.",
        );
        let parsed = parse_weights(&self.text);
        ui.horizontal(|ui| {
            let name = ui.label("λ").id;
            ui.add(egui::TextEdit::singleline(&mut self.text).desired_width(180.0))
                .labelled_by(name)
                .on_hover_text(
                    "diffusion weights, apart by spaces or commas, in the order they run",
                );
            let weights = parsed.as_ref().ok();
            if ui
                .add_enabled(can_start && weights.is_some(), egui::Button::new("Sweep"))
                .clicked()
                && let Some(w) = weights
            {
                action = Some(SweepAction::Start(w.clone()));
            }
            if super::registration::command_button(ui, weights.is_some(), "warpbench sweep")
                && let Some(w) = weights
            {
                action = Some(SweepAction::CopyCommand(w.clone()));
            }
        });
        if let Err(e) = &parsed {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        if doc.sweep.is_empty() {
            return action;
        }
        let accuracy = accuracy(&doc.sweep);
        let auto = Smoothness::auto(&doc.sweep);
        let x = self.x.unwrap_or(auto);
        ui.horizontal(|ui| {
            let name = ui.label("against").id;
            let shown = match self.x {
                Some(x) => x.name().to_string(),
                None => format!("auto: {}", auto.name()),
            };
            egui::ComboBox::from_id_salt("sweep x")
                .selected_text(shown)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.x, None, "auto")
                        .on_hover_text("the fold percentage where any point folds, else SDlogJ");
                    for s in Smoothness::ALL {
                        ui.selectable_value(&mut self.x, Some(s), s.name());
                    }
                })
                .response
                .labelled_by(name);
        });
        trade_off_plot(ui, &doc.sweep, &accuracy, x);
        if let Some(lambda) = table(ui, &doc.sweep, &accuracy) {
            action = Some(SweepAction::Use(lambda));
        }
        let text = ExportText {
            label: "sweep file",
            hint: "sweep.csv or sweep.json",
            button: "export sweep",
            writes: "",
            needs: "",
        };
        if let Some(path) = self.export.ui(ui, &text, true) {
            action = Some(SweepAction::Export(path));
        }
        action
    }
}

/// Accuracy against smoothness, one point per λ labelled with it, joined in the order of λ.
fn trade_off_plot(ui: &mut egui::Ui, points: &[SweepPoint], accuracy: &Accuracy, x: Smoothness) {
    let mut placed: Vec<(f64, [f64; 2])> = points
        .iter()
        .filter_map(|p| Some((p.diffusion, [x.of(p)?, (accuracy.of)(p)?])))
        .collect();
    placed.sort_by(|a, b| a.0.total_cmp(&b.0));
    let better = if accuracy.higher_is_better {
        "higher is better"
    } else {
        "lower is better"
    };
    ui.label(format!("{} ({better}) against {}", accuracy.name, x.name()));
    // One series, named in the title above: no legend to cover a corner point.
    decimal_plot("sweep trade-off", 170.0)
        .set_margin_fraction(egui::vec2(0.25, 0.15))
        .show(ui, |plot| {
            let xy: Vec<[f64; 2]> = placed.iter().map(|(_, p)| *p).collect();
            if xy.len() > 1 {
                plot.line(series_line(accuracy.name, xy.clone()));
            }
            plot.points(Points::new(accuracy.name, xy).radius(3.5));
            for (lambda, [px, py]) in &placed {
                plot.text(
                    Text::new("", PlotPoint::new(*px, *py), format!(" λ {lambda}"))
                        .anchor(egui::Align2::LEFT_BOTTOM),
                );
            }
        });
}

/// Each point's scores, in the order of λ; returns the λ clicked.
fn table(ui: &mut egui::Ui, points: &[SweepPoint], accuracy: &Accuracy) -> Option<f64> {
    let mut used = None;
    let mut sorted: Vec<&SweepPoint> = points.iter().collect();
    sorted.sort_by(|a, b| a.diffusion.total_cmp(&b.diffusion));
    let has_dice = points.iter().any(|p| p.report.dice_mean.is_some());
    let has_tre = points.iter().any(|p| p.report.tre_mean_mm.is_some());
    let best = sorted
        .iter()
        .filter_map(|p| (accuracy.of)(p))
        .reduce(|a, b| match accuracy.higher_is_better {
            true => a.max(b),
            false => a.min(b),
        });
    let cell =
        |v: Option<f64>, decimals: usize| v.map_or("–".into(), |v| format!("{v:.decimals$}"));
    egui::Grid::new("sweep points")
        .striped(true)
        .show(ui, |ui| {
            ui.strong("λ")
                .on_hover_text("click a point's λ to take it for the next run");
            for (shown, name) in [
                (has_dice, "Dice"),
                (has_tre, "TRE mm"),
                (true, "fold %"),
                (true, "NDV %"),
                (true, "SDlogJ"),
            ] {
                if shown {
                    ui.strong(name);
                }
            }
            ui.end_row();
            for p in sorted {
                let is_best = best.is_some() && (accuracy.of)(p) == best;
                let mut lambda = egui::RichText::new(format!("{}", p.diffusion));
                if is_best {
                    lambda = lambda.strong();
                }
                // The similarity and the time go on hover, so that the table fits the panel.
                let best_note = match is_best {
                    true => format!("the best {}\n", accuracy.name),
                    false => String::new(),
                };
                let hover = format!(
                    "{best_note}similarity loss {} · deformable stage {:.1} s\n\
                     click: take λ {} for the next run",
                    cell(p.similarity, 4),
                    p.seconds,
                    p.diffusion
                );
                if ui.small_button(lambda).on_hover_text(hover).clicked() {
                    used = Some(p.diffusion);
                }
                if has_dice {
                    ui.label(cell(p.report.dice_mean, 4));
                }
                if has_tre {
                    ui.label(cell(p.report.tre_mean_mm, 2));
                }
                ui.label(format!("{:.4}", 100.0 * p.report.fold_fraction));
                ui.label(cell(p.report.ndv_fraction.map(|f| 100.0 * f), 4));
                ui.label(format!("{:.4}", p.report.sdlogj));
                ui.end_row();
            }
        });
    used
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_parse_apart_by_spaces_or_commas_and_must_be_non_negative() {
        assert_eq!(parse_weights("0.1, 0.3 1"), Ok(vec![0.1, 0.3, 1.0]));
        assert_eq!(parse_weights(" 2 ;0 "), Ok(vec![2.0, 0.0]));
        assert!(parse_weights("").is_err());
        assert!(parse_weights("0.1 -1").unwrap_err().contains("-1"));
        assert!(parse_weights("0.1 x").unwrap_err().contains("x"));
        assert!(parse_weights("inf").is_err());
    }

    #[test]
    fn default_weights_span_two_decades_around_lambda() {
        let w = Sweep::weights_around(0.05);
        assert_eq!(w.len(), 5);
        assert!((w[0] - 0.005).abs() < 1e-12 && (w[4] - 0.5).abs() < 1e-12);
        assert!(w.contains(&0.05));
        assert!(Sweep::weights_around(0.0).iter().all(|&v| v > 0.0));
        assert_eq!(parse_weights(&weights_text(&w)), Ok(w));
    }
}
