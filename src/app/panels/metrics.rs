//! The metrics panel: the case's results side by side, then folding and SDlogJ of the current
//! deformation, the TRE summary, per-label Dice, HD95 and how far each structure moved, with
//! names (sortable), image similarity, the affine stage's own Dice and TRE beside the whole
//! transform's (or another kept result's Dice per label), and export as CSV or JSON. Live runs
//! score Dice, motion and TRE only; "score in full" adds the surface distances, the
//! non-diffeomorphic volume, similarities and the affine stage's scores, which take seconds, on
//! a helper thread.

use super::path_field::{ExportField, ExportText};
use super::results::{ResultsRequest, ResultsTable};
use super::sort::SortOrder;
use crate::app::results::KeptResult;
use crate::app::state::Document;
use crate::app::style::label_swatch;
use crate::app::views::colour::label_colour;
use crate::eval::motion::StructureMotion;
use crate::eval::{AffineStageScores, EvalReport};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LabelOrder {
    #[default]
    Label,
    Dice,
    /// The column beside Dice: the affine stage's, or another result's.
    Beside,
    Hd95,
    Moved,
    Volume,
}

#[derive(Clone, Debug, PartialEq)]
pub enum MetricsRequest {
    /// Score the current deformation with every measure.
    ScoreInFull,
    Export(PathBuf),
    /// Move the crosshair into this fixed label.
    GoTo(i32),
    Results(ResultsRequest),
}

#[derive(Default)]
pub struct MetricsPanel {
    pub order: SortOrder<LabelOrder>,
    /// The kept result whose Dice the per-label table shows beside the shown one's; `None`
    /// (or a result without per-label Dice) for the affine stage's.
    pub beside: Option<usize>,
    pub results: ResultsTable,
    pub export: ExportField,
}

impl MetricsPanel {
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        doc: &Document,
        scoring: bool,
    ) -> Option<MetricsRequest> {
        let mut request = self.results.ui(ui, doc).map(MetricsRequest::Results);
        if !doc.results.kept.is_empty() {
            ui.separator();
        }
        if let Some(d) = &doc.deformation {
            ui.label(d.stats.summary())
                .on_hover_text(crate::eval::jacobian::DEFINITION);
        } else {
            ui.label("no deformation yet: the scores are those of the identity");
        }
        let affine = doc.affine_stage_report();
        if let Some(tre) = &doc.tre {
            let after_affine = doc.tre_affine.as_ref().map_or(String::new(), |a| {
                format!("{:.2} mm after the affine stage, ", a.mean)
            });
            ui.label(format!(
                "TRE {:.2} mm before, {after_affine}{:.2} mm now (median {:.2}, max {:.2}); pairs \
                 in the Landmarks tab",
                tre.before.mean, tre.after.mean, tre.after.median, tre.after.max
            ));
        }
        ui.horizontal(|ui| {
            let can_score = doc.deformation.is_some() && !scoring;
            if ui
                .add_enabled(can_score, egui::Button::new("score in full"))
                .on_hover_text(
                    "HD95, ASSD and image similarity of the current deformation, and the Dice and \
                 TRE of its affine stage alone",
                )
                .clicked()
            {
                request = Some(MetricsRequest::ScoreInFull);
            }
            if scoring {
                ui.spinner();
            }
        });
        let report = doc.current_report();
        if let Some(report) = report {
            if let (Some(mm3), Some(fraction)) = (report.ndv_mm3, report.ndv_fraction) {
                ui.label(format!(
                    "non-diffeomorphic volume {mm3:.1} mm³ ({:.4} %)",
                    100.0 * fraction
                ))
                .on_hover_text(crate::eval::non_diffeomorphic::DEFINITION);
            }
            if let (Some(ncc), Some(mi)) = (report.ncc, report.mi) {
                ui.label(format!("NCC {ncc:.4} · MI {mi:.4}"));
            }
            if let Some(id) = self.labels_ui(ui, doc, report, affine) {
                request = Some(MetricsRequest::GoTo(id));
            }
        }
        ui.separator();
        let text = ExportText {
            label: "metrics file",
            hint: "metrics.json or metrics.csv",
            button: "export metrics",
            writes: "",
            needs: "needs scores (labels or landmarks, and a deformation)",
        };
        if let Some(path) = self.export.ui(ui, &text, report.is_some()) {
            request = Some(MetricsRequest::Export(path));
        }
        request
    }

    /// The per-label table; gives the label whose name was clicked.
    fn labels_ui(
        &mut self,
        ui: &mut egui::Ui,
        doc: &Document,
        report: &EvalReport,
        affine: Option<&EvalReport>,
    ) -> Option<i32> {
        let mut clicked = None;
        if !report.dice.is_empty() {
            self.beside_ui(ui, doc);
        }
        let beside = self.beside_column(doc, affine);
        if let Some(mean) = report.dice_mean {
            let beside_mean = beside
                .as_ref()
                .and_then(|b| Some(format!(" ({} {:.4})", b.of, b.mean?)))
                .unwrap_or_default();
            let hd95 = report
                .hd95_mean
                .map_or(String::new(), |h| format!(" · mean HD95 {h:.2} mm"));
            ui.label(format!("mean Dice {mean:.4}{beside_mean}{hd95}"));
        }
        let beside_dice = beside.as_ref().map(|b| b.dice);
        let mut rows: Vec<Row> = report
            .dice
            .keys()
            .chain(
                report
                    .motion
                    .keys()
                    .filter(|id| !report.dice.contains_key(*id)),
            )
            .map(|id| Row {
                id,
                dice: report.dice.get(id).copied(),
                beside: beside_dice.and_then(|d| d.get(id)).copied(),
                hd95: report.hd95.get(id).copied(),
                motion: report.motion.get(id),
            })
            .collect();
        if rows.is_empty() {
            return None;
        }
        self.order.arrange(&mut rows, |r| match self.order.column {
            LabelOrder::Label => r.id.parse::<f64>().ok(),
            LabelOrder::Dice => r.dice,
            LabelOrder::Beside => r.beside,
            LabelOrder::Hd95 => r.hd95,
            LabelOrder::Moved => r.motion.map(|m| m.mean_mm),
            LabelOrder::Volume => r.motion.map(|m| m.volume_change_percent),
        });
        // A column only where the report has its measure (no overlap without moving labels, no
        // HD95 before "score in full").
        let shown = |order| match order {
            LabelOrder::Label => true,
            LabelOrder::Dice => !report.dice.is_empty(),
            LabelOrder::Beside => beside.is_some(),
            LabelOrder::Hd95 => !report.hd95.is_empty(),
            LabelOrder::Moved | LabelOrder::Volume => !report.motion.is_empty(),
        };
        egui::Grid::new("per label")
            .striped(true)
            .spacing([4.0, 3.0])
            .show(ui, |ui| {
                for (order, title, hover) in [
                    (LabelOrder::Label, "label", "label id and name"),
                    (
                        LabelOrder::Dice,
                        "Dice",
                        "overlap of the fixed and the warped moving label",
                    ),
                    (
                        LabelOrder::Beside,
                        beside.as_ref().map_or("", |b| b.title.as_str()),
                        beside.as_ref().map_or("", |b| b.hover.as_str()),
                    ),
                    (
                        LabelOrder::Hd95,
                        "HD95",
                        "95th percentile of the surface distances, in mm",
                    ),
                    (
                        LabelOrder::Moved,
                        "moved",
                        "how far the fixed structure moved to reach the moving image: the mean of \
                     the displacement's length over its voxels, in mm (its 95th percentile and \
                     more on hover)",
                    ),
                    (
                        LabelOrder::Volume,
                        "vol %",
                        "how much larger (+) or smaller the structure is in the moving image, as \
                     the mapping has it: the mean det J over its voxels, minus one",
                    ),
                ]
                .into_iter()
                .filter(|(order, ..)| shown(*order))
                {
                    self.order
                        .header(ui, order, title, 0.0)
                        .on_hover_text(hover);
                }
                ui.end_row();
                let number = |v: Option<f64>, digits: usize| {
                    v.map_or("–".into(), |v| format!("{v:.digits$}"))
                };
                for row in rows {
                    let id = row.id.parse::<i32>().ok();
                    let name = id.map_or(row.id.clone(), |id| doc.case.label_table.title(id));
                    ui.horizontal(|ui| {
                        ui.set_max_width(NAME_WIDTH);
                        if let Some(id) = id {
                            label_swatch(ui, label_colour(&doc.case.label_table, id));
                        }
                        let cell = ui.add(
                            egui::Label::new(&name)
                                .truncate()
                                .sense(egui::Sense::click()),
                        );
                        if cell
                            .on_hover_text(format!("{name}: click to go to it"))
                            .clicked()
                        {
                            clicked = id;
                        }
                    });
                    if shown(LabelOrder::Dice) {
                        let text = egui::RichText::new(number(row.dice, 4));
                        ui.label(match (row.dice, row.beside) {
                            (Some(d), Some(b)) if d > b + DICE_CHANGE => text.color(BETTER_COLOUR),
                            (Some(d), Some(b)) if d < b - DICE_CHANGE => text.color(WORSE_COLOUR),
                            _ => text,
                        });
                    }
                    if shown(LabelOrder::Beside) {
                        ui.label(number(row.beside, 4));
                    }
                    if shown(LabelOrder::Hd95) {
                        ui.label(number(row.hd95, 2));
                    }
                    match row.motion {
                        _ if !shown(LabelOrder::Moved) => {}
                        Some(m) => {
                            let [r, a, s] = m.shift_ras_mm;
                            ui.label(format!("{:.2}", m.mean_mm)).on_hover_text(format!(
                                "p95 {:.2} mm, at most {:.2} mm; as a whole: R {r:+.2}, A {a:+.2}, \
                             S {s:+.2} mm; {} voxels",
                                m.p95_mm, m.max_mm, m.voxels
                            ));
                        }
                        None => {
                            ui.label("–");
                        }
                    }
                    if shown(LabelOrder::Volume) {
                        ui.label(
                            row.motion.map_or("–".into(), |m| {
                                format!("{:+.1}", m.volume_change_percent)
                            }),
                        );
                    }
                    ui.end_row();
                }
            });
        clicked
    }
}

/// The Dice the per-label table shows beside the shown result's, and what it is of.
struct BesideColumn<'a> {
    title: String,
    hover: String,
    /// How the mean Dice's line names it.
    of: String,
    mean: Option<f64>,
    dice: &'a BTreeMap<String, f64>,
}

/// A label's Dice differs from the one beside it when by more than this: less is noise of a
/// voxel or two on small structures.
const DICE_CHANGE: f64 = 0.005;
const BETTER_COLOUR: egui::Color32 = egui::Color32::from_rgb(110, 200, 110);
const WORSE_COLOUR: egui::Color32 = egui::Color32::from_rgb(230, 90, 80);

impl MetricsPanel {
    /// Picks what the Dice column is compared with, where another kept result has Dice per label.
    fn beside_ui(&mut self, ui: &mut egui::Ui, doc: &Document) {
        let others: Vec<&KeptResult> = (doc.results.kept.iter())
            .filter(|r| doc.results.shown != Some(r.number) && r.label_dice().is_some())
            .collect();
        if others.is_empty() {
            return;
        }
        let title = |n: Option<usize>| {
            n.and_then(|n| doc.results.get(n))
                .map_or("the affine stage".to_string(), |r| {
                    format!("{} {}", r.number, r.name)
                })
        };
        ui.horizontal(|ui| {
            let name = ui.label("compare with").id;
            egui::ComboBox::from_id_salt("beside")
                .selected_text(title(self.beside))
                .truncate()
                .width(ui.available_width() - 8.0)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.beside, None, title(None));
                    for r in others {
                        ui.selectable_value(
                            &mut self.beside,
                            Some(r.number),
                            title(Some(r.number)),
                        );
                    }
                })
                .response
                .labelled_by(name)
                .on_hover_text(
                    "whose Dice the table shows beside the shown result's: the shown Dice is \
                     green where it is higher by over 0.005, red where lower",
                );
        });
    }

    /// The column beside Dice: the chosen kept result's (not the shown one), else the affine
    /// stage's, where they have Dice per label.
    fn beside_column<'a>(
        &self,
        doc: &'a Document,
        affine: Option<&'a EvalReport>,
    ) -> Option<BesideColumn<'a>> {
        let chosen = (self.beside)
            .filter(|n| doc.results.shown != Some(*n))
            .and_then(|n| doc.results.get(n));
        if let Some(result) = chosen
            && let Some(dice) = result.label_dice()
        {
            return Some(BesideColumn {
                title: format!("#{}", result.number),
                hover: format!("Dice of result {} {}", result.number, result.name),
                of: format!("result {}:", result.number),
                mean: result.dice,
                dice,
            });
        }
        let affine = affine.filter(|a| !a.dice.is_empty())?;
        Some(BesideColumn {
            title: "affine".into(),
            hover: "Dice after the affine stage alone: how much of the overlap the deformable \
                    stage added"
                .into(),
            of: "affine stage".into(),
            mean: affine.dice_mean,
            dice: &affine.dice,
        })
    }
}

/// One label's row of the per-label table.
struct Row<'a> {
    id: &'a String,
    dice: Option<f64>,
    /// The Dice of the column beside it.
    beside: Option<f64>,
    hd95: Option<f64>,
    motion: Option<&'a StructureMotion>,
}

/// The widest a label's id and name may be in the table, in points: with every measure shown,
/// the table then fits the panel's default width, so that it does not widen the panel and
/// narrow the views. Long names end in "…", whole on hover.
const NAME_WIDTH: f32 = 100.0;

/// Writes `report`, with the affine stage's own scores when known, as JSON (the keys of
/// `metrics.json`) or, for a `.csv` name, as rows of `measure,label,name,value` (the label id or
/// landmark pair, and the label's name when known); atomically.
pub fn export(
    report: &EvalReport,
    affine: Option<&AffineStageScores>,
    path: &Path,
) -> crate::Result<()> {
    let csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let bytes = if csv {
        let mut out = String::from("measure,label,name,value\n");
        // Rows about the whole case have neither a label nor a name.
        let whole = ("", "");
        let name = |id: &str| report.label_names.get(id).map_or("", String::as_str);
        let mut row = |measure: &str, (label, name): (&str, &str), value: Option<f64>| {
            if let Some(v) = value {
                out.push_str(&format!(
                    "{measure},{},{},{v}\n",
                    csv_field(label),
                    csv_field(name)
                ));
            }
        };
        row("dice_mean", whole, report.dice_mean);
        if let Some(a) = affine {
            row("dice_affine", whole, a.dice_affine);
            for (id, d) in &a.dice_affine_per_label {
                row("dice_affine", (id, name(id)), Some(*d));
            }
            row("tre_affine_mm", whole, a.tre_affine_mm);
        }
        row("dice30", whole, report.dice30);
        row("hd95_mean", whole, report.hd95_mean);
        row("assd_mean", whole, report.assd_mean);
        for (id, d) in &report.dice {
            row("dice", (id, name(id)), Some(*d));
        }
        for (id, h) in &report.hd95 {
            row("hd95", (id, name(id)), Some(*h));
        }
        for (id, m) in &report.motion {
            row("moved_mean_mm", (id, name(id)), Some(m.mean_mm));
            row("moved_p95_mm", (id, name(id)), Some(m.p95_mm));
            row("moved_max_mm", (id, name(id)), Some(m.max_mm));
            for (axis, v) in ["r", "a", "s"].iter().zip(m.shift_ras_mm) {
                row(&format!("shift_{axis}_mm"), (id, name(id)), Some(v));
            }
            row(
                "volume_change_percent",
                (id, name(id)),
                Some(m.volume_change_percent),
            );
        }
        row("tre_before_mm", whole, report.tre_before_mm);
        row("tre_mean_mm", whole, report.tre_mean_mm);
        row("tre_median_mm", whole, report.tre_median_mm);
        row("tre_max_mm", whole, report.tre_max_mm);
        row("tre30_mm", whole, report.tre30_mm);
        if let Some(t) = &report.tre {
            for p in &t.pairs {
                row("tre_before", (&p.name, ""), Some(p.before_mm));
                row("tre", (&p.name, ""), Some(p.after_mm));
            }
        }
        row("fold_fraction", whole, Some(report.fold_fraction));
        row("folded_voxels", whole, Some(report.folded_voxels as f64));
        row("ndv_mm3", whole, report.ndv_mm3);
        row("ndv_fraction", whole, report.ndv_fraction);
        row("sdlogj", whole, Some(report.sdlogj));
        row("jacobian_min", whole, Some(report.jacobian_min));
        row("jacobian_max", whole, Some(report.jacobian_max));
        row("ncc", whole, report.ncc);
        row("mi", whole, report.mi);
        row("nmi", whole, report.nmi);
        row("ssim", whole, report.ssim);
        out.into_bytes()
    } else {
        #[derive(serde::Serialize)]
        struct Exported<'a> {
            #[serde(flatten)]
            report: &'a EvalReport,
            #[serde(flatten)]
            affine: Option<&'a AffineStageScores>,
        }
        serde_json::to_vec_pretty(&Exported { report, affine })
            .map_err(|e| crate::Error::format(path, format!("cannot encode the metrics: {e}")))?
    };
    crate::atomic::write_bytes(path, &bytes)
}

/// `text` as one CSV field: quoted, with its quotes doubled, where it holds a comma, a quote or a
/// line break.
pub(super) fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_export_as_csv_rows_and_json_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut report = EvalReport {
            dice_mean: Some(0.8),
            hd95_mean: Some(2.5),
            fold_fraction: 0.001,
            ndv_fraction: Some(0.0005),
            ..Default::default()
        };
        report.dice.insert("17".into(), 0.8);
        report.hd95.insert("17".into(), 2.5);
        report.motion.insert(
            "17".into(),
            StructureMotion {
                voxels: 10,
                mean_mm: 1.5,
                p95_mm: 2.0,
                max_mm: 2.25,
                shift_ras_mm: [1.0, -0.5, 0.0],
                volume_change_percent: -3.5,
            },
        );
        report.dice.insert("3".into(), 0.5);
        report
            .label_names
            .insert("17".into(), "hippocampus, left \"HC\"".into());
        let mut affine_only = EvalReport {
            dice_mean: Some(0.6),
            tre_mean_mm: Some(3.25),
            ..Default::default()
        };
        affine_only.dice.insert("17".into(), 0.625);
        let affine = AffineStageScores::of(&affine_only);
        let csv = dir.path().join("m.csv");
        export(&report, Some(&affine), &csv).unwrap();
        let text = std::fs::read_to_string(&csv).unwrap();
        let name = "\"hippocampus, left \"\"HC\"\"\"";
        assert!(text.starts_with("measure,label,name,value\n"));
        assert!(text.contains(&format!("dice,17,{name},0.8\n")));
        assert!(text.contains(&format!("hd95,17,{name},2.5\n")));
        assert!(
            text.contains("dice,3,,0.5\n"),
            "an unnamed label has an empty name"
        );
        assert!(text.contains(&format!("moved_mean_mm,17,{name},1.5\n")));
        assert!(text.contains(&format!("shift_a_mm,17,{name},-0.5\n")));
        assert!(text.contains(&format!("volume_change_percent,17,{name},-3.5\n")));
        assert!(text.contains("ndv_fraction,,,0.0005\n") && !text.contains("ndv_mm3"));
        assert!(!text.contains("ncc"), "absent measures leave no row");
        assert!(text.contains("dice_affine,,,0.6\n") && text.contains("tre_affine_mm,,,3.25\n"));
        assert!(text.contains(&format!("dice_affine,17,{name},0.625\n")));
        let json = dir.path().join("m.json");
        export(&report, Some(&affine), &json).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        assert_eq!(v["hd95"]["17"], 2.5);
        assert_eq!(v["fold_fraction"], 0.001);
        assert_eq!(v["motion"]["17"]["p95_mm"], 2.0);
        assert_eq!(v["motion"]["17"]["volume_change_percent"], -3.5);
        assert_eq!(v["label_names"]["17"], "hippocampus, left \"HC\"");
        assert_eq!(v["dice_affine"], 0.6);
        assert_eq!(v["dice_affine_per_label"]["17"], 0.625);
        assert_eq!(v["tre_affine_mm"], 3.25);
        export(&report, None, &json).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        assert!(
            v.get("dice_affine").is_none(),
            "no affine stage scored, no key"
        );
    }
}
