//! The Images tab's joint histogram: the fixed image's intensity against the moving image's as the
//! views show it (as loaded, through the affine stage, or through the whole transform), with its
//! mutual information. In a multimodal pair its clusters tighten as the images come into line, so
//! it shows alignment where a difference image cannot. It is recomputed on a helper thread for each
//! new transform while the tab is open, live during a run. Bins picked in it (a click, or a drag
//! over several) highlight in the views the places whose value pairs fall in them, and a ring marks
//! the crosshair's pair: together they tell where in the anatomy a cluster comes from.

use super::history_plot::significant;
use crate::app::state::Document;
use crate::app::style::label_swatch;
use crate::app::views::colour::ColourMap;
use crate::app::views::compose::JOINT_BOX_COLOUR;
use crate::app::views::display::Display;
use crate::eval::joint_histogram::{BinBox, JointHistogram, JointSample, Region};

/// Bins along each axis.
pub const BINS: usize = 64;
/// Fixed voxels sampled (on an even lattice): enough to fill the bins the anatomy reaches, and a
/// few tens of milliseconds on one core.
pub const SAMPLES: usize = 250_000;
const SIDE: f32 = 240.0;

/// What a joint histogram is of: one of the document's transforms, seen through one of the views'
/// pulls ([`crate::app::pull::Pull::name`]), over a region of the fixed image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JointKey {
    pub generation: u64,
    pub pull: &'static str,
    pub region: Region,
}

/// The histogram shown and the one computing (the region counted is the display's, which the
/// views' highlight keeps to).
#[derive(Default)]
pub struct JointPanel {
    /// The newest request's number: a result for an older one is dropped.
    requests: u64,
    computing: Option<(u64, JointKey)>,
    shown: Option<Shown>,
}

struct Shown {
    key: JointKey,
    sample: JointSample,
    texture: egui::TextureHandle,
}

impl JointPanel {
    /// A request number when `key` is neither shown nor computing, and nothing else computes
    /// (which keeps it to one helper at a time, however fast snapshots come).
    pub fn request(&mut self, key: JointKey) -> Option<u64> {
        if self.computing.is_some() || self.shown.as_ref().is_some_and(|s| s.key == key) {
            return None;
        }
        self.requests += 1;
        self.computing = Some((self.requests, key));
        Some(self.requests)
    }

    /// Takes in request `number`'s result.
    pub fn receive(&mut self, ctx: &egui::Context, number: u64, sample: JointSample) {
        let Some((computing, key)) = self.computing else {
            return;
        };
        if computing != number {
            return;
        }
        self.computing = None;
        let texture = ctx.load_texture(
            "joint histogram",
            image_of(&sample.histogram),
            egui::TextureOptions::NEAREST,
        );
        self.shown = Some(Shown {
            key,
            sample,
            texture,
        });
    }

    /// Forgets the request that could not start, so the next frame asks again.
    pub fn not_started(&mut self) {
        self.computing = None;
    }

    /// Forgets everything (another case): a result still computing is dropped when it comes.
    pub fn forget(&mut self) {
        self.computing = None;
        self.shown = None;
    }

    /// The histogram shown, if it is of `key`.
    pub fn histogram(&self, key: JointKey) -> Option<&JointHistogram> {
        self.shown
            .as_ref()
            .filter(|s| s.key == key)
            .map(|s| &s.sample.histogram)
    }

    /// Draws the histogram, saying when it is of an older transform than `now`'s, with a ring at
    /// the crosshair's `[fixed, moving]` values; a click or a drag picks bins into `d.joint_box`,
    /// and "go to the nearest" moves `cursor_mm` (world mm) to a voxel counted in them. With
    /// fixed labels, a choice of region restricts the voxels counted.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        now: JointKey,
        d: &mut Display,
        (cursor_mm, crosshair): (&mut [f64; 3], Option<[f64; 2]>),
        doc: &Document,
    ) {
        ui.horizontal(|ui| {
            ui.label(egui::RichText::new("joint histogram").strong())
                .on_hover_text(
                    "each fixed voxel's value (across) against the moving image's value at the \
                     same point as the views show it (up), in log counts. Aligned images make \
                     tight clusters; misaligned ones smear them. Click a bin, or drag over \
                     several, to highlight in the views where their values lie; right click \
                     clears. The ring is the crosshair's values.",
                );
            if self.shown.as_ref().is_none_or(|s| s.key != now) {
                ui.spinner();
            }
        });
        if doc.case.fixed_labels.is_some() {
            region_ui(ui, &mut d.joint_region, doc);
        }
        let Some(shown) = &self.shown else {
            return;
        };
        let h = &shown.sample.histogram;
        let [(flo, fhi), (mlo, mhi)] = h.ranges;
        let side = ui.available_width().min(SIDE);
        let (rect, response) =
            ui.allocate_exact_size(egui::vec2(side, side), egui::Sense::click_and_drag());
        response.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::Image, ui.is_enabled(), "joint histogram")
        });
        let bin_at = |pos: egui::Pos2| {
            // Outside the plot (a drag that left it) stops at the end bins.
            let bin = |t: f32| ((t * h.bins as f32) as usize).min(h.bins - 1);
            [
                bin((pos.x - rect.left()) / rect.width()),
                bin((rect.bottom() - pos.y) / rect.height()),
            ]
        };
        pick(ui, &response, h, bin_at, d);
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, egui::Color32::BLACK);
        painter.image(
            shown.texture.id(),
            rect,
            egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
            egui::Color32::WHITE,
        );
        let [r, g, b] = JOINT_BOX_COLOUR;
        let box_colour = egui::Color32::from_rgb(r, g, b);
        let picked = d.joint_box.clone().filter(|b| b.fits(h));
        if let Some(b) = &picked {
            let x = |f: usize| rect.left() + rect.width() * f as f32 / h.bins as f32;
            let y = |m: usize| rect.bottom() - rect.height() * m as f32 / h.bins as f32;
            painter.rect_stroke(
                egui::Rect::from_x_y_ranges(
                    x(b.fixed[0])..=x(b.fixed[1] + 1),
                    y(b.moving[1] + 1)..=y(b.moving[0]),
                ),
                0.0,
                egui::Stroke::new(2.0, box_colour),
                egui::StrokeKind::Middle,
            );
        }
        if let Some([f, m]) = crosshair {
            let t = |v: f64, (lo, hi): (f64, f64)| {
                (if hi > lo { (v - lo) / (hi - lo) } else { 0.0 }).clamp(0.0, 1.0) as f32
            };
            let at = egui::pos2(
                rect.left() + rect.width() * t(f, h.ranges[0]),
                rect.bottom() - rect.height() * t(m, h.ranges[1]),
            );
            painter.circle_stroke(at, 5.0, egui::Stroke::new(3.0, egui::Color32::BLACK));
            painter.circle_stroke(at, 5.0, egui::Stroke::new(1.5, egui::Color32::WHITE));
        }
        if let Some(pos) = response.hover_pos() {
            let bin = bin_at(pos);
            let one = BinBox::between(h, bin, bin);
            response.on_hover_text_at_pointer(format!(
                "{}: {} voxels",
                ranges_text(&one),
                one.count(h)
            ));
        }
        ui.label(format!(
            "fixed {} to {} across, moving {} to {} up",
            significant(flo),
            significant(fhi),
            significant(mlo),
            significant(mhi)
        ));
        let through = match shown.key.pull {
            "affine" => "through the affine stage alone",
            "whole" => "through the whole transform",
            _ => "as loaded",
        };
        let through = format!("{through}{}", within(shown.key.region, doc));
        match h.information() {
            Some((mi, nmi)) => ui.label(format!(
                "NMI {nmi:.3} · MI {mi:.3} nats · {} voxels sampled, {through}",
                h.total()
            )),
            None => ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("the moving image does not overlap the fixed image {through}"),
            ),
        };
        if let Some(b) = picked {
            let count = b.count(h);
            ui.horizontal_wrapped(|ui| {
                label_swatch(ui, JOINT_BOX_COLOUR);
                ui.label(format!(
                    "picked: {}: {count} voxels sampled ({:.1} %)",
                    ranges_text(&b),
                    100.0 * count as f64 / h.total().max(1) as f64
                ))
                .on_hover_text(
                    "highlighted in the views where the fixed and the moving value both fall in \
                     these bins (the end bins also take the values beyond the range)",
                );
                let go = ui
                    .add_enabled(count > 0, egui::Button::new("go to the nearest"))
                    .on_hover_text(
                        "moves the crosshair to the voxel counted in these bins nearest it, so \
                         the views show the place",
                    );
                // A pass over every voxel counted: only on a click, not every frame.
                if go.clicked()
                    && let Some(to) = shown
                        .sample
                        .nearest_in(&b, doc.case.fixed.grid(), *cursor_mm)
                {
                    *cursor_mm = to;
                }
                if ui.button("clear picked bins").clicked() {
                    d.joint_box = None;
                }
            });
        }
    }
}

/// "fixed a to b, moving c to d": the values a box's bins span.
fn ranges_text(b: &BinBox) -> String {
    let range = |axis: usize| {
        let (lo, hi) = b.value_range(axis);
        format!("{} to {}", significant(lo), significant(hi))
    };
    format!("fixed {}, moving {}", range(0), range(1))
}

/// The region's choice: everywhere, inside any fixed label, or inside one.
fn region_ui(ui: &mut egui::Ui, region: &mut Region, doc: &Document) {
    egui::ComboBox::from_label("voxels counted")
        .selected_text(region_name(*region, doc))
        .show_ui(ui, |ui| {
            let choices = [Region::Everywhere, Region::Labelled].into_iter().chain(
                doc.facts
                    .fixed_label_sites
                    .keys()
                    .map(|&id| Region::Label(id)),
            );
            for choice in choices {
                ui.selectable_value(region, choice, region_name(choice, doc));
            }
        })
        .response
        .on_hover_text(
            "count only the fixed voxels inside the fixed labels, or inside one: the histogram \
             of one structure shows how well it alone is aligned. Picked bins then highlight \
             their places inside it alone.",
        );
}

/// ", inside …" for a region of the fixed labels; nothing where every voxel counts (as it does
/// without fixed labels).
pub fn within(region: Region, doc: &Document) -> String {
    match region {
        Region::Everywhere => String::new(),
        _ if doc.case.fixed_labels.is_none() => String::new(),
        region => format!(", {}", region_name(region, doc)),
    }
}

/// "everywhere", "inside the fixed labels" or "inside <label>".
fn region_name(region: Region, doc: &Document) -> String {
    match region {
        Region::Everywhere => "everywhere".into(),
        Region::Labelled => "inside the fixed labels".into(),
        Region::Label(id) => format!("inside {}", doc.case.label_table.title(id)),
    }
}

/// A drag picks the bins between where it started and the pointer; a click picks one bin, or
/// clears it when it is the one picked; a right click clears.
fn pick(
    ui: &egui::Ui,
    response: &egui::Response,
    h: &JointHistogram,
    bin_at: impl Fn(egui::Pos2) -> [usize; 2],
    d: &mut Display,
) {
    if response.secondary_clicked() {
        d.joint_box = None;
    } else if response.dragged() {
        let origin = ui.input(|i| i.pointer.press_origin());
        if let (Some(origin), Some(pos)) = (origin, response.interact_pointer_pos()) {
            d.joint_box = Some(BinBox::between(h, bin_at(origin), bin_at(pos)));
        }
    } else if response.clicked()
        && let Some(pos) = response.interact_pointer_pos()
    {
        let bin = bin_at(pos);
        let one = BinBox::between(h, bin, bin);
        d.joint_box = (d.joint_box.as_ref() != Some(&one)).then_some(one);
    }
}

/// Log counts in viridis, empty bins black; moving values run up the image.
fn image_of(h: &JointHistogram) -> egui::ColorImage {
    let most = h.counts.iter().copied().max().unwrap_or(0);
    let scale = ((most as f32) + 1.0).ln().max(f32::MIN_POSITIVE);
    let mut pixels = Vec::with_capacity(h.bins * h.bins);
    for row in 0..h.bins {
        let m = h.bins - 1 - row;
        for f in 0..h.bins {
            let c = h.counts[m * h.bins + f];
            pixels.push(if c == 0 {
                egui::Color32::BLACK
            } else {
                let [r, g, b] = ColourMap::Viridis.rgb(((c as f32) + 1.0).ln() / scale);
                egui::Color32::from_rgb(r, g, b)
            });
        }
    }
    egui::ColorImage::new([h.bins, h.bins], pixels)
}
