//! The images tab: the crosshair in each image's voxels (typed to go there), each layer's grid and
//! file header, each image's histogram under its window, how the two images lie in the world, and
//! their joint histogram as the views show them.

use super::history_plot::significant;
use super::joint_histogram::{JointKey, JointPanel};
use crate::app::pull::Pull;
use crate::app::state::Document;
use crate::app::views::colour::Window;
use crate::app::views::display::{Display, LayerLook};
use crate::volume::histogram::Histogram;
use crate::volume::nifti_io::{AffineSource, NiftiInfo};
use crate::volume::resample::{label_at_world, sample_world};
use crate::volume::{Grid, LabelSite, LabelVolume, ScalarVolume};
use std::collections::BTreeMap;
use std::path::Path;

/// The tab; typing a voxel index or a world coordinate moves `cursor_mm` (world mm).
pub fn images_ui(
    ui: &mut egui::Ui,
    d: &mut Display,
    cursor_mm: &mut [f64; 3],
    doc: &Document,
    (joint, joint_now): (&mut JointPanel, JointKey),
) {
    let crosshair = crosshair_ui(ui, d, cursor_mm, doc);
    ui.separator();
    let case = &doc.case;
    let headers = &doc.facts.headers;
    let files = &case.files;
    let layers = [
        (
            "fixed",
            &case.fixed,
            &doc.facts.fixed_histogram,
            &mut d.fixed,
            files.fixed.as_deref(),
            headers.fixed.as_ref(),
        ),
        (
            "moving",
            &case.moving,
            &doc.facts.moving_histogram,
            &mut d.moving,
            files.moving.as_deref(),
            headers.moving.as_ref(),
        ),
    ];
    let labels = [
        (
            case.fixed_labels.is_some(),
            &doc.facts.fixed_label_sites,
            files.fixed_labels.as_deref(),
            headers.fixed_labels.as_ref(),
        ),
        (
            case.moving_labels.is_some(),
            &doc.facts.moving_label_sites,
            files.moving_labels.as_deref(),
            headers.moving_labels.as_ref(),
        ),
    ];
    for ((name, image, histogram, look, path, header), labels) in layers.into_iter().zip(labels) {
        image_ui(ui, name, image, histogram, look, path, header);
        if let (true, sites, path, header) = labels {
            label_layer_ui(ui, name, sites, path, header);
        }
        ui.separator();
    }
    placement_ui(ui, case.fixed.grid(), case.moving.grid());
    ui.separator();
    joint.ui(ui, joint_now, d, (cursor_mm, crosshair), doc);
}

/// Where the crosshair is: world mm, and the nearest voxel (0-based, as NIfTI counts) of each
/// image with its value; the moving image's through the transform the views show. Returns the
/// two values, where both images have one.
fn crosshair_ui(
    ui: &mut egui::Ui,
    d: &Display,
    cursor_mm: &mut [f64; 3],
    doc: &Document,
) -> Option<[f64; 2]> {
    ui.label(egui::RichText::new("crosshair").strong());
    let case = &doc.case;
    let pull = Pull::of(doc, d);
    egui::Grid::new("crosshair")
        .num_columns(2)
        .spacing([8.0, 4.0])
        .show(ui, |ui| {
            let label = ui.label("RAS mm").id;
            ui.horizontal(|ui| {
                for (a, axis) in ["R", "A", "S"].into_iter().enumerate() {
                    ui.add(
                        egui::DragValue::new(&mut cursor_mm[a])
                            .speed(0.5)
                            .max_decimals(2)
                            .prefix(format!("{axis} ")),
                    )
                    .labelled_by(label);
                }
            });
            ui.end_row();

            let fixed_at = *cursor_mm;
            if let Some(voxel) = voxel_ui(ui, "fixed voxel", case.fixed.grid(), fixed_at) {
                *cursor_mm = case.fixed.grid().voxel_to_world(voxel);
            }
            ui.end_row();
            let moving_at = pull.moving_point(*cursor_mm);
            let moving_caption = if pull.is_warped() {
                "moving voxel (through the transform)"
            } else {
                "moving voxel"
            };
            if let Some(voxel) = voxel_ui(ui, moving_caption, case.moving.grid(), moving_at) {
                *cursor_mm = pull.shown_point(case.moving.grid().voxel_to_world(voxel));
            }
            ui.end_row();
        });
    let moving_at = pull.moving_point(*cursor_mm);
    let fixed_value = sample_world(&case.fixed, *cursor_mm);
    let moving_value = sample_world(&case.moving, moving_at);
    ui.label(format!(
        "fixed value {}; moving value {}",
        value_text(fixed_value, *cursor_mm, case.fixed_labels.as_deref(), doc),
        value_text(moving_value, moving_at, case.moving_labels.as_deref(), doc),
    ));
    fixed_value
        .zip(moving_value)
        .map(|(f, m)| [f as f64, m as f64])
}

/// The nearest voxel of `grid` to `world_mm`, as three indices to type into; returns the voxel
/// typed. Outside the image it says so instead.
fn voxel_ui(ui: &mut egui::Ui, caption: &str, grid: &Grid, world_mm: [f64; 3]) -> Option<[f64; 3]> {
    let label = ui.label(caption).id;
    if !grid.contains_world_mm(world_mm) {
        ui.label("outside the image");
        return None;
    }
    let dims = grid.dims();
    let at = grid.world_to_voxel(world_mm);
    let mut voxel: [usize; 3] =
        std::array::from_fn(|a| (at[a].round().max(0.0) as usize).min(dims[a] - 1));
    let mut typed = false;
    ui.horizontal(|ui| {
        for (a, axis) in ["i", "j", "k"].into_iter().enumerate() {
            typed |= ui
                .add(
                    egui::DragValue::new(&mut voxel[a])
                        .range(0..=dims[a] - 1)
                        .speed(0.2)
                        .prefix(format!("{axis} ")),
                )
                .labelled_by(label)
                .changed();
        }
    });
    typed.then(|| voxel.map(|v| v as f64))
}

/// An image's `value` at `at_mm`, with the label there when the image has `labels`.
fn value_text(
    value: Option<f32>,
    at_mm: [f64; 3],
    labels: Option<&LabelVolume>,
    doc: &Document,
) -> String {
    let Some(v) = value else {
        return "–".into();
    };
    match labels {
        Some(l) => format!(
            "{} ({})",
            significant(v as f64),
            doc.case.label_table.title(label_at_world(l, at_mm))
        ),
        None => significant(v as f64),
    }
}

fn image_ui(
    ui: &mut egui::Ui,
    name: &str,
    image: &ScalarVolume,
    histogram: &Histogram,
    look: &mut LayerLook,
    path: Option<&Path>,
    header: Option<&NiftiInfo>,
) {
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new(format!("{name} image")).strong());
        file_name_ui(ui, path);
    });
    grid_lines_ui(ui, image.grid());
    if let Some(h) = header {
        ui.label(header_text(h));
    }
    let response = super::window_histogram::window_histogram_ui(
        ui,
        &format!("{name} histogram"),
        histogram,
        &mut look.window,
        look.colour_map,
    );
    if response.double_clicked() {
        look.window = Window::auto(image);
    }
    ui.label(window_share_text(histogram, &look.window))
        .on_hover_text("how many voxels the window clips to its lowest and its highest colour");
}

/// The file's name, its folder on hover; the demo has none.
fn file_name_ui(ui: &mut egui::Ui, path: Option<&Path>) {
    match path {
        Some(p) => {
            let name = p
                .file_name()
                .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into());
            ui.add(egui::Label::new(name).truncate())
                .on_hover_text(p.display().to_string());
        }
        None => {
            ui.weak("built-in demo");
        }
    }
}

/// Size, spacing, orientation and extent: what a header check starts with.
fn grid_lines_ui(ui: &mut egui::Ui, grid: &Grid) {
    let [ni, nj, nk] = grid.dims();
    let [si, sj, sk] = grid.spacing_mm();
    ui.label(format!(
        "{ni} × {nj} × {nk} voxels of {} × {} × {} mm",
        significant(si),
        significant(sj),
        significant(sk)
    ));
    let code = grid.orientation();
    let towards: Vec<String> = code
        .chars()
        .zip(["i", "j", "k"])
        .map(|(c, axis)| format!("{axis} towards {}", direction_name(c)))
        .collect();
    ui.label(format!("orientation {code}"))
        .on_hover_text(format!("as nibabel's axis codes: {}", towards.join(", ")));
    let extent: Vec<String> = (0..3)
        .map(|a| significant(grid.dims()[a] as f64 * grid.spacing_mm()[a]))
        .collect();
    let c = grid.centre_mm();
    ui.label(format!(
        "field of view {} mm, centre at R {:.1}, A {:.1}, S {:.1} mm",
        extent.join(" × "),
        c[0],
        c[1],
        c[2]
    ));
}

fn direction_name(code: char) -> &'static str {
    match code {
        'R' => "right",
        'L' => "left",
        'A' => "anterior",
        'P' => "posterior",
        'S' => "superior",
        _ => "inferior",
    }
}

fn header_text(h: &NiftiInfo) -> String {
    let affine = match h.affine_source {
        AffineSource::Sform => "the sform",
        AffineSource::Qform => "the qform (no sform)",
        AffineSource::Pixdim => "pixdim alone (no sform or qform: orientation unknown)",
    };
    let scaling = h
        .scaling
        .map(|(slope, inter)| format!(", values × {slope} + {inter}"))
        .unwrap_or_default();
    format!(
        "stored as {}{scaling}; placed in the world by {affine}",
        h.dtype.name()
    )
}

/// What the window does to the voxels: how many it clips below and above.
fn window_share_text(histogram: &Histogram, window: &Window) -> String {
    let total = histogram.total() as f64;
    if total == 0.0 {
        return "no finite values".into();
    }
    let below = histogram.count_between(f64::NEG_INFINITY, window.lo as f64) / total;
    let above = histogram.count_between(window.hi as f64, f64::INFINITY) / total;
    format!(
        "values {} to {}; the window clips {:.1} % of the voxels below, {:.1} % above",
        significant(histogram.min as f64),
        significant(histogram.max as f64),
        100.0 * below,
        100.0 * above
    )
}

fn label_layer_ui(
    ui: &mut egui::Ui,
    name: &str,
    sites: &BTreeMap<i32, LabelSite>,
    path: Option<&Path>,
    header: Option<&NiftiInfo>,
) {
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new(format!("{name} labels")).strong());
        file_name_ui(ui, path);
    });
    let labelled: f64 = sites.values().map(|s| s.volume_mm3).sum();
    let stored = header.map_or(String::new(), |h| format!(", stored as {}", h.dtype.name()));
    ui.label(format!(
        "{} labels, {} labelled{stored}; on the image's grid",
        sites.len(),
        super::display::volume_text(labelled)
    ));
}

/// Where the two images lie relative to each other as their headers place them.
fn placement_ui(ui: &mut egui::Ui, fixed: &Grid, moving: &Grid) {
    ui.label(egui::RichText::new("fixed and moving, as loaded").strong());
    let (a, b) = (fixed.centre_mm(), moving.centre_mm());
    let apart = (0..3).map(|i| (a[i] - b[i]).powi(2)).sum::<f64>().sqrt();
    let covered = fixed.box_covered_by(moving);
    ui.label(format!(
        "centres {apart:.1} mm apart; the moving image covers {:.0} % of the fixed image's box",
        100.0 * covered
    ));
    if covered == 0.0 {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            "the images do not overlap as loaded: their headers disagree about where the \
             patient is. The presets' affine stage starts by matching the centres of mass (or by \
             a translation search), which brings them together; until a run, the views show \
             them apart.",
        );
    }
}
