//! Intensity windows (with CT presets and percentile auto-contrast), colour maps and label colours.

use crate::volume::{LabelTable, ScalarVolume};
use serde::{Deserialize, Serialize};

/// Intensity window: values map linearly from `lo` (first colour) to `hi` (last colour).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub lo: f32,
    pub hi: f32,
}

/// CT windows in Hounsfield units, `(name, level, width)`, as radiology workstations name them.
pub const CT_PRESETS: [(&str, f32, f32); 4] = [
    ("brain", 40.0, 80.0),
    ("soft tissue", 40.0, 400.0),
    ("lung", -600.0, 1500.0),
    ("bone", 400.0, 1800.0),
];

impl Window {
    /// Window between two quantiles of the image's values (MR auto-contrast: 1 % and 99.5 %).
    pub fn from_percentiles(volume: &ScalarVolume, lo: f64, hi: f64) -> Window {
        let [lo, hi] = volume.quantiles([lo, hi]);
        Window::new(lo, hi)
    }

    /// The default for an image: 1 % to 99.5 % of its values.
    pub fn auto(volume: &ScalarVolume) -> Window {
        Window::from_percentiles(volume, 0.01, 0.995)
    }

    pub fn new(lo: f32, hi: f32) -> Window {
        Window {
            lo,
            hi: if hi > lo { hi } else { lo + 1.0 },
        }
    }

    pub fn from_level_width(level: f32, width: f32) -> Window {
        Window::new(level - width / 2.0, level + width / 2.0)
    }

    pub fn level(&self) -> f32 {
        (self.lo + self.hi) / 2.0
    }

    pub fn width(&self) -> f32 {
        self.hi - self.lo
    }

    pub fn unit(&self, v: f32) -> f32 {
        ((v - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0)
    }

    /// Drag adjustment: `dx`, `dy` in fractions of the view; right widens, up brightens (lowers
    /// the level), as in ITK-SNAP and Slicer.
    pub fn dragged(&self, dx: f32, dy: f32) -> Window {
        let width = (self.width() * (1.0 + 2.0 * dx)).max(1e-6);
        let level = self.level() + dy * self.width();
        Window::from_level_width(level, width)
    }
}

/// Colour maps for images and scalar overlays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColourMap {
    Grey,
    Hot,
    /// Perceptually uniform (viridis).
    Viridis,
    /// Blue–white–red around the middle (cool–warm).
    Diverging,
}

impl ColourMap {
    pub const ALL: [ColourMap; 4] = [
        ColourMap::Grey,
        ColourMap::Hot,
        ColourMap::Viridis,
        ColourMap::Diverging,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ColourMap::Grey => "grey",
            ColourMap::Hot => "hot",
            ColourMap::Viridis => "viridis",
            ColourMap::Diverging => "diverging",
        }
    }

    /// The colour at `t` in [0, 1].
    pub fn rgb(self, t: f32) -> [u8; 3] {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        match self {
            ColourMap::Grey => {
                let g = (t * 255.0 + 0.5) as u8;
                [g, g, g]
            }
            ColourMap::Hot => {
                let c = |a: f32| ((t * 3.0 - a).clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
                [c(0.0), c(1.0), c(2.0)]
            }
            ColourMap::Viridis => interpolate(&VIRIDIS, t),
            ColourMap::Diverging => interpolate(&COOL_WARM, t),
        }
    }
}

/// Viridis sampled at nine evenly spaced points.
const VIRIDIS: [[u8; 3]; 9] = [
    [68, 1, 84],
    [71, 44, 122],
    [59, 81, 139],
    [44, 113, 142],
    [33, 144, 141],
    [39, 173, 129],
    [92, 200, 99],
    [170, 220, 50],
    [253, 231, 37],
];

const COOL_WARM: [[u8; 3]; 5] = [
    [59, 76, 192],
    [141, 176, 254],
    [221, 221, 221],
    [244, 154, 123],
    [180, 4, 38],
];

fn interpolate(stops: &[[u8; 3]], t: f32) -> [u8; 3] {
    let x = t * (stops.len() - 1) as f32;
    let i = (x.floor() as usize).min(stops.len() - 2);
    let f = x - i as f32;
    std::array::from_fn(|c| {
        (stops[i][c] as f32 * (1.0 - f) + stops[i + 1][c] as f32 * f + 0.5) as u8
    })
}

/// Label `id`'s colour: the table's, else a generated one.
pub fn label_colour(table: &LabelTable, id: i32) -> [u8; 3] {
    table
        .colour(id)
        .unwrap_or_else(|| generated_label_colour(id))
}

/// A distinct colour per label id: golden-ratio hue steps, so neighbouring ids differ.
fn generated_label_colour(id: i32) -> [u8; 3] {
    let h = (id as f32 * 0.618_034).fract();
    hsv([h, 0.75, 1.0])
}

fn hsv([h, s, v]: [f32; 3]) -> [u8; 3] {
    let i = (h * 6.0).floor();
    let f = h * 6.0 - i;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - f * s), v * (1.0 - (1.0 - f) * s));
    let (r, g, b) = match i as i32 % 6 {
        0 => (v, t, p),
        1 => (q, v, p),
        2 => (p, v, t),
        3 => (p, q, v),
        4 => (t, p, v),
        _ => (v, p, q),
    };
    [r, g, b].map(|c| (c * 255.0 + 0.5) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_run_from_their_first_to_their_last_stop() {
        assert_eq!(ColourMap::Grey.rgb(0.0), [0, 0, 0]);
        assert_eq!(ColourMap::Grey.rgb(1.0), [255, 255, 255]);
        assert_eq!(ColourMap::Hot.rgb(1.0), [255, 255, 255]);
        assert_eq!(ColourMap::Hot.rgb(1.0 / 3.0), [255, 0, 0]);
        assert_eq!(ColourMap::Viridis.rgb(0.0), VIRIDIS[0]);
        assert_eq!(ColourMap::Viridis.rgb(1.0), VIRIDIS[8]);
        assert_eq!(ColourMap::Diverging.rgb(0.5), [221, 221, 221]);
        assert_eq!(ColourMap::Grey.rgb(f32::NAN), [0, 0, 0]);
    }

    #[test]
    fn window_presets_and_drag() {
        let w = Window::from_level_width(40.0, 80.0);
        assert_eq!((w.lo, w.hi), (0.0, 80.0));
        assert_eq!(w.unit(40.0), 0.5);
        let wider = w.dragged(0.25, 0.0);
        assert!((wider.width() - 120.0).abs() < 1e-4 && (wider.level() - 40.0).abs() < 1e-4);
        let lower = w.dragged(0.0, -0.5);
        assert!((lower.level() - 0.0).abs() < 1e-4);
    }

    #[test]
    fn neighbouring_labels_get_different_colours() {
        for id in 1..50 {
            assert_ne!(generated_label_colour(id), generated_label_colour(id + 1));
        }
        let table = LabelTable::freesurfer();
        assert_eq!(label_colour(&table, 17), [220, 216, 20]);
        assert_eq!(label_colour(&table, 1000), generated_label_colour(1000));
    }
}
