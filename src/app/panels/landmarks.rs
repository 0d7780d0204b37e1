//! The landmark panel: the tool (navigate, or place in the fixed or moving image), the pair table
//! (names editable, TRE before and now, sortable, colour coded, pairs excludable, go to, delete),
//! import and export in the landmark formats, and a revert to the files.

use super::path_field::{Dialog, PathField, ask_replace};
use super::sort::SortOrder;
use crate::app::Notice;
use crate::app::landmarks::{LandmarkEdit, Side, import, side_grid};
use crate::app::state::Document;
use crate::app::views::viewer::{Tool, Viewers};
use crate::eval::tre::PairError;
use crate::register::landmark_fit::FitModel;
use std::path::PathBuf;

/// What the panel asks the app for.
pub enum LandmarkAction {
    Notice(Notice),
    /// Show the moving image through the fit of the counted pairs.
    ShowFit(FitModel),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TreOrder {
    #[default]
    Pair,
    Before,
    After,
}

/// A table row: a pair, or a point without a partner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct RowKey {
    fixed: Option<usize>,
    moving: Option<usize>,
    /// The pair's place in the TRE table (`Document::landmark_pairs`), for a pair.
    pair: Option<usize>,
}

#[derive(Default)]
pub struct LandmarkPanel {
    pub order: SortOrder<TreOrder>,
    /// The row whose name is being typed, and the text so far.
    editing: Option<(RowKey, String)>,
    pub file: PathField,
    /// An export that would replace an existing file, waiting for a yes.
    confirm_replace: Option<(Side, PathBuf)>,
    /// What "align by the landmarks" fits.
    pub fit_model: FitModel,
}

/// Green under 2 mm, amber under 5 mm, red above: the usual reading of TRE at brain scale.
pub fn tre_colour(mm: f64) -> egui::Color32 {
    if mm < 2.0 {
        egui::Color32::from_rgb(110, 200, 110)
    } else if mm < 5.0 {
        egui::Color32::from_rgb(230, 180, 60)
    } else {
        egui::Color32::from_rgb(230, 90, 80)
    }
}

fn rows(doc: &Document) -> Vec<(RowKey, Option<&PairError>)> {
    let pairs = doc.tre.as_ref().map_or(&[][..], |t| &t.pairs[..]);
    let mut rows: Vec<(RowKey, Option<&PairError>)> = doc
        .landmark_pairs
        .iter()
        .zip(pairs)
        .enumerate()
        .map(|(n, (&(i, j), e))| {
            let key = RowKey {
                fixed: Some(i),
                moving: Some(j),
                pair: Some(n),
            };
            (key, Some(e))
        })
        .collect();
    let mut paired = [
        vec![false; doc.case.fixed_landmarks.len()],
        vec![false; doc.case.moving_landmarks.len()],
    ];
    for &(i, j) in &doc.landmark_pairs {
        paired[0][i] = true;
        paired[1][j] = true;
    }
    for k in (0..paired[0].len()).filter(|&k| !paired[0][k]) {
        let key = RowKey {
            fixed: Some(k),
            moving: None,
            pair: None,
        };
        rows.push((key, None));
    }
    for k in (0..paired[1].len()).filter(|&k| !paired[1][k]) {
        let key = RowKey {
            fixed: None,
            moving: Some(k),
            pair: None,
        };
        rows.push((key, None));
    }
    rows
}

impl LandmarkPanel {
    /// The panel; edits go to the views' queue (applied with theirs), problems and asks for a
    /// landmark fit come back.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        doc: &Document,
        viewers: &mut Viewers,
    ) -> Option<LandmarkAction> {
        ui.horizontal(|ui| {
            ui.label("tool");
            for (tool, text) in [
                (Tool::Navigate, "navigate"),
                (Tool::Landmarks(Side::Fixed), "place in fixed"),
                (Tool::Landmarks(Side::Moving), "place in moving"),
            ] {
                ui.selectable_value(&mut viewers.tool, tool, text);
            }
        });
        ui.checkbox(&mut viewers.show_landmarks, "show landmarks in the views");
        ui.small(
            "Click to place, drag a point to move it, Delete removes the selected point, \
             ctrl+Z undoes, Esc returns to navigating. Fixed points are circles, moving points \
             squares.",
        );
        ui.horizontal(|ui| {
            ui.label(format!(
                "{} fixed, {} moving points",
                doc.case.fixed_landmarks.len(),
                doc.case.moving_landmarks.len()
            ));
            let history = &doc.landmark_history;
            for (what, text, keys, edit) in [
                (history.undo_what(), "undo", "ctrl+Z", LandmarkEdit::Undo),
                (
                    history.redo_what(),
                    "redo",
                    "ctrl+shift+Z",
                    LandmarkEdit::Redo,
                ),
            ] {
                let button = ui
                    .add_enabled(what.is_some(), egui::Button::new(text))
                    .on_hover_text(format!("{text} {} ({keys})", what.unwrap_or_default()))
                    .on_disabled_hover_text(format!("nothing to {text}"));
                if button.clicked() {
                    viewers.edits.push(edit);
                }
            }
        });
        match &doc.tre {
            Some(tre) => {
                let counted = doc.counted_pairs();
                let affine = doc.tre_affine.as_ref().map_or(String::new(), |a| {
                    format!("{:.2} mm after the affine stage, ", a.mean)
                });
                ui.label(format!(
                    "TRE over {counted} of {} pairs: {:.2} mm before, {affine}{:.2} mm now \
                     (median {:.2}, max {:.2})",
                    tre.pairs.len(),
                    tre.before.mean,
                    tre.after.mean,
                    tre.after.median,
                    tre.after.max
                ));
            }
            None if !doc.case.fixed_landmarks.is_empty()
                && !doc.case.moving_landmarks.is_empty() =>
            {
                ui.colored_label(
                    egui::Color32::from_rgb(230, 180, 60),
                    "the points do not pair: name them alike, or give both images as many",
                );
            }
            None => {}
        }
        let counted = doc.counted_pairs();
        let align = ui
            .horizontal(|ui| {
                let clicked = ui
                    .add_enabled(
                        counted >= 3 && !doc.run.is_running(),
                        egui::Button::new("align by the landmarks"),
                    )
                    .on_hover_text(
                        "the moving image through the transform that best fits the counted \
                         pairs, with no intensity registration (a fiducial registration): \
                         \"now\" then reads each pair's fit error; it saves and exports as a \
                         run's result does",
                    )
                    .on_disabled_hover_text("needs three counted pairs or more, and no run going")
                    .clicked();
                for model in FitModel::ALL {
                    ui.selectable_value(&mut self.fit_model, model, model.name());
                }
                clicked
            })
            .inner;
        self.table_ui(ui, doc, viewers);
        ui.separator();
        let notice = self.files_ui(ui, doc, viewers).map(LandmarkAction::Notice);
        if align {
            Some(LandmarkAction::ShowFit(self.fit_model))
        } else {
            notice
        }
    }

    fn table_ui(&mut self, ui: &mut egui::Ui, doc: &Document, viewers: &mut Viewers) {
        let mut rows = rows(doc);
        if rows.is_empty() {
            return;
        }
        self.order
            .arrange(&mut rows, |(key, error)| match self.order.column {
                TreOrder::Pair => key.pair.map(|p| p as f64),
                TreOrder::Before => error.map(|e| e.before_mm),
                TreOrder::After => error.map(|e| e.after_mm),
            });
        let point =
            |side: Side, k: Option<usize>| k.and_then(|k| doc.landmarks(side).points.get(k));
        // Fixed column widths, so the header lines up with rows that only exist while visible
        // (a case can have hundreds of pairs).
        const WIDTHS: [f32; 4] = [40.0, 80.0, 84.0, 84.0];
        ui.horizontal(|ui| {
            ui.add_sized([WIDTHS[0], 18.0], egui::Label::new("go to"));
            for (k, (order, title)) in [
                (TreOrder::Pair, "pair"),
                (TreOrder::Before, "before"),
                (TreOrder::After, "now"),
            ]
            .into_iter()
            .enumerate()
            {
                self.order.header(ui, order, title, WIDTHS[k + 1]);
            }
            ui.label("use");
        })
        .response
        .on_hover_text("TRE in mm, before registration and under the current transform");
        let row_height = ui.spacing().interact_size.y;
        egui::ScrollArea::vertical()
            .id_salt("landmark table")
            .max_height(300.0)
            .show_rows(ui, row_height, rows.len(), |ui, range| {
                for &(key, error) in &rows[range] {
                    ui.horizontal(|ui| {
                        let fixed = point(Side::Fixed, key.fixed);
                        let moving = point(Side::Moving, key.moving);
                        let number = match key {
                            RowKey { fixed: Some(i), .. } => format!("{}", i + 1),
                            RowKey {
                                moving: Some(j), ..
                            } => format!("m{}", j + 1),
                            _ => String::new(),
                        };
                        let go = ui
                            .add_sized([WIDTHS[0], row_height], egui::Button::new(number).small())
                            .on_hover_text("move the crosshair here");
                        let row = go.id;
                        let name = fixed
                            .or(moving)
                            .and_then(|p| p.name.clone())
                            .or_else(|| error.map(|e| e.name.clone()))
                            .unwrap_or_default();
                        self.name_ui(ui, key, &name, row, viewers);
                        let excluded = error.is_some_and(|e| doc.excluded_pairs.contains(&e.name));
                        for (k, mm) in [error.map(|e| e.before_mm), error.map(|e| e.after_mm)]
                            .into_iter()
                            .enumerate()
                        {
                            let text = match mm {
                                Some(mm) if excluded => {
                                    egui::RichText::new(format!("{mm:.2}")).weak()
                                }
                                Some(mm) => {
                                    egui::RichText::new(format!("{mm:.2}")).color(tre_colour(mm))
                                }
                                None if fixed.is_some() => egui::RichText::new("no moving").weak(),
                                None => egui::RichText::new("no fixed").weak(),
                            };
                            let cell =
                                ui.add_sized([WIDTHS[k + 2], row_height], egui::Label::new(text));
                            // The affine stage's error has no column of its own (the table
                            // would push the views aside): it is the "now" cell's hover.
                            if k == 1
                                && let Some(mm) = key.pair.and_then(|n| doc.tre_affine_mm.get(n))
                            {
                                cell.on_hover_text(format!("{mm:.2} mm after the affine stage"));
                            }
                        }
                        match error {
                            Some(e) => {
                                let mut used = !excluded;
                                if ui
                                    .add(egui::Checkbox::without_text(&mut used))
                                    .labelled_by(row)
                                    .on_hover_text("count this pair")
                                    .changed()
                                {
                                    viewers.edits.push(LandmarkEdit::Exclude {
                                        pair: e.name.clone(),
                                        excluded: !used,
                                    });
                                }
                            }
                            None => {
                                ui.add_space(ui.spacing().interact_size.y);
                            }
                        }
                        if go.clicked() {
                            viewers.cursor_mm = match (fixed, moving) {
                                (Some(f), _) => f.world_mm,
                                (None, Some(m)) => {
                                    viewers.shown_position(Side::Moving, m.world_mm, doc)
                                }
                                (None, None) => viewers.cursor_mm,
                            };
                            viewers.selected = key
                                .fixed
                                .map(|k| (Side::Fixed, k))
                                .or(key.moving.map(|k| (Side::Moving, k)));
                        }
                        if ui
                            .small_button("del")
                            .on_hover_text("delete this row's points")
                            .clicked()
                        {
                            for (side, k) in [(Side::Moving, key.moving), (Side::Fixed, key.fixed)]
                            {
                                if let Some(index) = k {
                                    viewers.edits.push(LandmarkEdit::Delete { side, index });
                                }
                            }
                            viewers.selected = None;
                        }
                    });
                }
            });
    }

    /// A row's name, editable; the new name goes to both points of a pair when typing ends, so
    /// the pair stays a pair.
    fn name_ui(
        &mut self,
        ui: &mut egui::Ui,
        key: RowKey,
        name: &str,
        row: egui::Id,
        viewers: &mut Viewers,
    ) {
        let editing_here = self.editing.as_ref().is_some_and(|(k, _)| *k == key);
        let mut text = match &self.editing {
            Some((k, t)) if *k == key => t.clone(),
            _ => name.to_string(),
        };
        let selected = [(Side::Fixed, key.fixed), (Side::Moving, key.moving)]
            .iter()
            .any(|&(side, k)| k.is_some_and(|k| viewers.selected == Some((side, k))));
        let response = ui
            .add(
                egui::TextEdit::singleline(&mut text)
                    .desired_width(90.0)
                    .text_color_opt(selected.then_some(egui::Color32::from_rgb(0, 220, 255))),
            )
            .labelled_by(row);
        if response.has_focus() {
            self.editing = Some((key, text.clone()));
        }
        if response.lost_focus() && editing_here {
            self.editing = None;
            if text.trim() != name {
                for (side, k) in [(Side::Fixed, key.fixed), (Side::Moving, key.moving)] {
                    if let Some(index) = k {
                        viewers.edits.push(LandmarkEdit::Rename {
                            side,
                            index,
                            name: text.clone(),
                        });
                    }
                }
            }
        }
    }

    fn files_ui(
        &mut self,
        ui: &mut egui::Ui,
        doc: &Document,
        viewers: &mut Viewers,
    ) -> Option<Notice> {
        let mut notice = None;
        self.file.ui(
            ui,
            "landmark file",
            ".csv, .fcsv, .mrk.json or .txt (voxel indices)",
            Dialog::Open,
        );
        let path = self.file.path();
        ui.horizontal_wrapped(|ui| {
            for side in [Side::Fixed, Side::Moving] {
                if ui
                    .add_enabled(
                        path.is_some(),
                        egui::Button::new(format!("import to {}", side.name())),
                    )
                    .on_hover_text("replaces this image's points; the file is only read")
                    .clicked()
                    && let Some(path) = &path
                {
                    match import(doc, side, path) {
                        Ok(set) => {
                            notice = Some(Notice {
                                text: format!(
                                    "{} {} points read from {}",
                                    set.len(),
                                    side.name(),
                                    path.display()
                                ),
                                error: false,
                            });
                            viewers.edits.push(LandmarkEdit::Replace { side, set });
                            viewers.selected = None;
                        }
                        Err(e) => {
                            notice = Some(Notice {
                                text: format!("cannot import landmarks: {e}"),
                                error: true,
                            })
                        }
                    }
                }
            }
            for side in [Side::Fixed, Side::Moving] {
                if ui
                    .add_enabled(
                        path.is_some(),
                        egui::Button::new(format!("export {}", side.name())),
                    )
                    .clicked()
                    && let Some(path) = &path
                {
                    if path.exists() {
                        self.confirm_replace = Some((side, path.clone()));
                    } else {
                        notice = Some(export(doc, side, path));
                    }
                }
            }
        });
        if let Some((side, path)) = self.confirm_replace.clone()
            && let Some(replace) = ask_replace(ui, &format!("{} exists.", path.display()))
        {
            if replace {
                notice = Some(export(doc, side, &path));
            }
            self.confirm_replace = None;
        }
        let (f, m) = &doc.landmark_files;
        let edited = *f != doc.case.fixed_landmarks || *m != doc.case.moving_landmarks;
        if ui
            .add_enabled(edited, egui::Button::new("revert to the case's files"))
            .on_hover_text("drops every edit since the case was opened")
            .clicked()
        {
            for (side, set) in [(Side::Fixed, f), (Side::Moving, m)] {
                viewers.edits.push(LandmarkEdit::Replace {
                    side,
                    set: set.clone(),
                });
            }
            viewers.selected = None;
        }
        ui.small("Edits are autosaved beside the recent cases and restored when the case is opened again.");
        notice
    }
}

fn export(doc: &Document, side: Side, path: &std::path::Path) -> Notice {
    Notice::outcome(
        doc.landmarks(side).write(path, Some(side_grid(doc, side))),
        || {
            format!(
                "{} {} points written to {}",
                doc.landmarks(side).len(),
                side.name(),
                path.display()
            )
        },
        "export landmarks",
    )
}
