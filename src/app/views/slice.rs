//! One slice plane through world space (RAS mm): its pixel lattice, sampling, and screen mapping.
//!
//! Views are in world orientation whatever the voxel order of the image: radiological convention
//! (patient right on the screen's left), anterior or superior at the top.

use crate::volume::ScalarVolume;
use crate::volume::resample::sample_world;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plane {
    Axial,
    Coronal,
    Sagittal,
}

impl Plane {
    pub const ALL: [Plane; 3] = [Plane::Axial, Plane::Coronal, Plane::Sagittal];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Plane::Axial => "axial",
            Plane::Coronal => "coronal",
            Plane::Sagittal => "sagittal",
        }
    }

    /// The world axis the plane is perpendicular to.
    pub fn normal_axis(self) -> usize {
        match self {
            Plane::Axial => 2,
            Plane::Coronal => 1,
            Plane::Sagittal => 0,
        }
    }

    /// World axes shown left→right and top→bottom; both run towards decreasing coordinates
    /// (R→L, A→P, S→I), which is the radiological layout.
    fn screen_axes(self) -> (usize, usize) {
        match self {
            Plane::Axial => (0, 1),
            Plane::Coronal => (0, 2),
            Plane::Sagittal => (1, 2),
        }
    }

    /// Orientation letters at the left, right, top and bottom edges.
    pub fn edge_letters(self) -> [&'static str; 4] {
        match self {
            Plane::Axial => ["R", "L", "A", "P"],
            Plane::Coronal => ["R", "L", "S", "I"],
            Plane::Sagittal => ["A", "P", "S", "I"],
        }
    }
}

/// Intensity window: values map linearly from `lo` (black) to `hi` (white).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    pub lo: f32,
    pub hi: f32,
}

impl Window {
    /// Window between two quantiles of the image's values (e.g. 1 % and 99.5 %).
    pub fn from_percentiles(volume: &ScalarVolume, lo: f64, hi: f64) -> Window {
        let [lo, hi] = volume.quantiles([lo, hi]);
        Window {
            lo,
            hi: if hi > lo { hi } else { lo + 1.0 },
        }
    }

    pub fn unit(&self, v: f32) -> f32 {
        ((v - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0)
    }
}

/// The pixel lattice of one plane through the cursor, covering a grid's world bounds.
pub struct PlaneView {
    plane: Plane,
    pixel_mm: f64,
    /// World point of the top-left pixel's corner.
    corner_mm: [f64; 3],
    pub width: usize,
    pub height: usize,
}

impl PlaneView {
    pub fn new(plane: Plane, grid: &crate::volume::Grid, cursor_mm: [f64; 3]) -> PlaneView {
        let spacing = grid.spacing_mm();
        let pixel_mm = grid.min_spacing_mm();
        let (lo, hi) = grid.world_bounds_mm();
        let (u, v) = plane.screen_axes();
        let half = spacing.iter().copied().fold(0.0, f64::max) / 2.0;
        let mut corner_mm = cursor_mm;
        corner_mm[u] = hi[u] + half;
        corner_mm[v] = hi[v] + half;
        let extent = |a: usize| ((hi[a] - lo[a] + 2.0 * half) / pixel_mm).ceil().max(1.0) as usize;
        PlaneView {
            plane,
            pixel_mm,
            corner_mm,
            width: extent(u),
            height: extent(v),
        }
    }

    /// World point at continuous pixel coordinates `(x, y)` (pixel units from the top-left corner).
    fn world_at(&self, x: f64, y: f64) -> [f64; 3] {
        let (u, v) = self.plane.screen_axes();
        let mut p = self.corner_mm;
        p[u] -= x * self.pixel_mm;
        p[v] -= y * self.pixel_mm;
        p
    }

    /// Trilinear samples at every pixel centre, row by row; `NaN` outside the volume.
    pub fn sample(&self, volume: &ScalarVolume) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.width * self.height);
        for y in 0..self.height {
            for x in 0..self.width {
                let p = self.world_at(x as f64 + 0.5, y as f64 + 0.5);
                out.push(sample_world(volume, p).unwrap_or(f32::NAN));
            }
        }
        out
    }

    pub fn grey_image(&self, values: &[f32], window: Window) -> egui::ColorImage {
        let rgb: Vec<u8> = values
            .iter()
            .flat_map(|&v| {
                let g = if v.is_nan() {
                    0
                } else {
                    (window.unit(v) * 255.0) as u8
                };
                [g, g, g]
            })
            .collect();
        egui::ColorImage::from_rgb([self.width, self.height], &rgb)
    }

    /// Fixed in magenta, moving in green: aligned structures look grey, misalignment shows colour.
    pub fn fusion_image(
        &self,
        fixed: &[f32],
        fw: Window,
        moving: &[f32],
        mw: Window,
    ) -> egui::ColorImage {
        let rgb: Vec<u8> = fixed
            .iter()
            .zip(moving)
            .flat_map(|(&f, &m)| {
                let f = if f.is_nan() {
                    0
                } else {
                    (fw.unit(f) * 255.0) as u8
                };
                let m = if m.is_nan() {
                    0
                } else {
                    (mw.unit(m) * 255.0) as u8
                };
                [f, m, f]
            })
            .collect();
        egui::ColorImage::from_rgb([self.width, self.height], &rgb)
    }

    /// The largest rectangle inside `rect` with the slice's physical aspect ratio, centred.
    pub fn fit(&self, rect: egui::Rect) -> egui::Rect {
        let aspect = self.width as f32 / self.height as f32;
        let size = if rect.width() / rect.height() > aspect {
            egui::vec2(rect.height() * aspect, rect.height())
        } else {
            egui::vec2(rect.width(), rect.width() / aspect)
        };
        egui::Rect::from_center_size(rect.center(), size)
    }

    pub fn screen_of(&self, fitted: egui::Rect, world_mm: [f64; 3]) -> egui::Pos2 {
        let (u, v) = self.plane.screen_axes();
        let x = (self.corner_mm[u] - world_mm[u]) / self.pixel_mm / self.width as f64;
        let y = (self.corner_mm[v] - world_mm[v]) / self.pixel_mm / self.height as f64;
        fitted.min + egui::vec2(x as f32 * fitted.width(), y as f32 * fitted.height())
    }

    pub fn world_of(&self, fitted: egui::Rect, pos: egui::Pos2) -> [f64; 3] {
        let rel = (pos - fitted.min) / fitted.size();
        self.world_at(
            rel.x as f64 * self.width as f64,
            rel.y as f64 * self.height as f64,
        )
    }
}
