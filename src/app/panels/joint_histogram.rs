//! The Images tab's joint histogram: the fixed image's intensity against the moving image's as the
//! views show it (as loaded, through the affine stage, or through the whole transform), with its
//! mutual information. In a multimodal pair its clusters tighten as the images come into line, so
//! it shows alignment where a difference image cannot. It is recomputed on a helper thread for each
//! new transform while the tab is open, live during a run.

use super::history_plot::significant;
use crate::app::views::colour::ColourMap;
use crate::eval::joint_histogram::JointHistogram;

/// Bins along each axis.
pub const BINS: usize = 64;
/// Fixed voxels sampled (on an even lattice): enough to fill the bins the anatomy reaches, and a
/// few tens of milliseconds on one core.
pub const SAMPLES: usize = 250_000;
const SIDE: f32 = 240.0;

/// What a joint histogram is of: one of the document's transforms, seen through one of the views'
/// pulls ([`crate::app::pull::Pull::name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JointKey {
    pub generation: u64,
    pub pull: &'static str,
}

/// The histogram shown, and the one computing.
#[derive(Default)]
pub struct JointPanel {
    /// The newest request's number: a result for an older one is dropped.
    requests: u64,
    computing: Option<(u64, JointKey)>,
    shown: Option<Shown>,
}

struct Shown {
    key: JointKey,
    histogram: JointHistogram,
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
    pub fn receive(&mut self, ctx: &egui::Context, number: u64, histogram: JointHistogram) {
        let Some((computing, key)) = self.computing else {
            return;
        };
        if computing != number {
            return;
        }
        self.computing = None;
        let texture = ctx.load_texture(
            "joint histogram",
            image_of(&histogram),
            egui::TextureOptions::NEAREST,
        );
        self.shown = Some(Shown {
            key,
            histogram,
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
            .map(|s| &s.histogram)
    }

    /// Draws the histogram, saying when it is of an older transform than `now`'s.
    pub fn ui(&self, ui: &mut egui::Ui, now: JointKey) {
        ui.horizontal(|ui| {
            ui.label(egui::RichText::new("joint histogram").strong())
                .on_hover_text(
                    "each fixed voxel's value (across) against the moving image's value at the \
                     same point as the views show it (up), in log counts. Aligned images make \
                     tight clusters; misaligned ones smear them.",
                );
            if self.shown.as_ref().is_none_or(|s| s.key != now) {
                ui.spinner();
            }
        });
        let Some(shown) = &self.shown else {
            return;
        };
        let h = &shown.histogram;
        let [(flo, fhi), (mlo, mhi)] = h.ranges;
        let side = ui.available_width().min(SIDE);
        let (rect, response) = ui.allocate_exact_size(egui::vec2(side, side), egui::Sense::hover());
        response.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::Image, ui.is_enabled(), "joint histogram")
        });
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, egui::Color32::BLACK);
        painter.image(
            shown.texture.id(),
            rect,
            egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
            egui::Color32::WHITE,
        );
        if let Some(pos) = response.hover_pos() {
            let bin = |t: f32| ((t * h.bins as f32) as usize).min(h.bins - 1);
            let f = bin((pos.x - rect.left()) / rect.width());
            let m = bin((rect.bottom() - pos.y) / rect.height());
            let edge = |(lo, hi): (f64, f64), b: usize| lo + (hi - lo) * b as f64 / h.bins as f64;
            response.on_hover_text_at_pointer(format!(
                "fixed {} to {}, moving {} to {}: {} voxels",
                significant(edge(h.ranges[0], f)),
                significant(edge(h.ranges[0], f + 1)),
                significant(edge(h.ranges[1], m)),
                significant(edge(h.ranges[1], m + 1)),
                h.counts[m * h.bins + f]
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
