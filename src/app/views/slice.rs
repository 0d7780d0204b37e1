//! One slice plane through world space (RAS mm): its pixel lattice, sampling, and screen mapping.
//!
//! Views are in world orientation whatever the voxel order of the image: anterior or superior at
//! the top, and patient right on the screen's left (radiological) or on its right (neurological).

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

    /// World axes shown left→right and top→bottom. Top→bottom runs towards decreasing coordinates
    /// (A→P, S→I); left→right too in the radiological layout (R→L, or A→P in sagittal views).
    pub fn screen_axes(self) -> (usize, usize) {
        match self {
            Plane::Axial => (0, 1),
            Plane::Coronal => (0, 2),
            Plane::Sagittal => (1, 2),
        }
    }

    /// Whether the screen's x axis runs towards increasing world coordinates: only the
    /// neurological layout of axial and coronal views (L→R).
    fn x_increases(self, radiological: bool) -> bool {
        !radiological && self != Plane::Sagittal
    }

    /// Orientation letters at the left, right, top and bottom edges.
    pub fn edge_letters(self, radiological: bool) -> [&'static str; 4] {
        let [left, right] = match self {
            Plane::Sagittal => ["A", "P"],
            _ if radiological => ["R", "L"],
            _ => ["L", "R"],
        };
        let [top, bottom] = match self {
            Plane::Axial => ["A", "P"],
            _ => ["S", "I"],
        };
        [left, right, top, bottom]
    }
}

/// The pixel lattice of one plane through the cursor, covering a grid's world bounds, with square
/// pixels as small as the grid's finest spacing (so anisotropic voxels keep their physical aspect).
#[derive(Clone, Debug, PartialEq)]
pub struct PlaneView {
    pub plane: Plane,
    pub pixel_mm: f64,
    /// World point of the top-left pixel's corner.
    corner_mm: [f64; 3],
    /// World direction (±1) of the screen's x axis along the plane's horizontal world axis.
    x_sign: f64,
    pub width: usize,
    pub height: usize,
}

impl PlaneView {
    pub fn new(
        plane: Plane,
        grid: &crate::volume::Grid,
        cursor_mm: [f64; 3],
        radiological: bool,
    ) -> PlaneView {
        let spacing = grid.spacing_mm();
        let pixel_mm = grid.min_spacing_mm();
        let (lo, hi) = grid.world_bounds_mm();
        let (u, v) = plane.screen_axes();
        let half = spacing.iter().copied().fold(0.0, f64::max) / 2.0;
        let x_increases = plane.x_increases(radiological);
        let mut corner_mm = cursor_mm;
        corner_mm[u] = if x_increases {
            lo[u] - half
        } else {
            hi[u] + half
        };
        corner_mm[v] = hi[v] + half;
        let extent = |a: usize| ((hi[a] - lo[a] + 2.0 * half) / pixel_mm).ceil().max(1.0) as usize;
        PlaneView {
            plane,
            pixel_mm,
            corner_mm,
            x_sign: if x_increases { 1.0 } else { -1.0 },
            width: extent(u),
            height: extent(v),
        }
    }

    /// World point at continuous pixel coordinates `(x, y)` (pixel units from the top-left corner).
    pub fn world_at(&self, x: f64, y: f64) -> [f64; 3] {
        let (u, v) = self.plane.screen_axes();
        let mut p = self.corner_mm;
        p[u] += self.x_sign * x * self.pixel_mm;
        p[v] -= y * self.pixel_mm;
        p
    }

    /// Continuous pixel coordinates of a world point projected onto the plane.
    pub fn pixel_of(&self, world_mm: [f64; 3]) -> [f64; 2] {
        let (u, v) = self.plane.screen_axes();
        [
            self.x_sign * (world_mm[u] - self.corner_mm[u]) / self.pixel_mm,
            (self.corner_mm[v] - world_mm[v]) / self.pixel_mm,
        ]
    }

    /// Calls `f(world point of the pixel centre)` for every pixel, row by row, filling
    /// `width · height` values on all cores.
    pub fn map_pixels<T: Send + Clone>(&self, fill: T, f: impl Fn([f64; 3]) -> T + Sync) -> Vec<T> {
        self.map_indexed_pixels(fill, |_, p| f(p))
    }

    /// [`map_pixels`](Self::map_pixels) with each pixel's index (`x + width · y`), for values
    /// found earlier on the same lattice.
    pub fn map_indexed_pixels<T: Send + Clone>(
        &self,
        fill: T,
        f: impl Fn(usize, [f64; 3]) -> T + Sync,
    ) -> Vec<T> {
        let mut out = vec![fill; self.width * self.height];
        crate::parallel::for_each_slice(&mut out, self.width, |y, row| {
            for (x, o) in row.iter_mut().enumerate() {
                *o = f(
                    x + self.width * y,
                    self.world_at(x as f64 + 0.5, y as f64 + 0.5),
                );
            }
        });
        out
    }

    /// The largest rectangle inside `rect` with the slice's physical aspect ratio, centred, then
    /// zoomed by `zoom` about the centre and shifted by `pan` (points).
    pub fn fit(&self, rect: egui::Rect, zoom: f32, pan: egui::Vec2) -> egui::Rect {
        let aspect = self.width as f32 / self.height as f32;
        let size = if rect.width() / rect.height() > aspect {
            egui::vec2(rect.height() * aspect, rect.height())
        } else {
            egui::vec2(rect.width(), rect.width() / aspect)
        };
        egui::Rect::from_center_size(rect.center() + pan, size * zoom)
    }

    pub fn screen_of(&self, fitted: egui::Rect, world_mm: [f64; 3]) -> egui::Pos2 {
        let [x, y] = self.pixel_of(world_mm);
        fitted.min
            + egui::vec2(
                (x / self.width as f64) as f32 * fitted.width(),
                (y / self.height as f64) as f32 * fitted.height(),
            )
    }

    pub fn world_of(&self, fitted: egui::Rect, pos: egui::Pos2) -> [f64; 3] {
        let rel = (pos - fitted.min) / fitted.size();
        self.world_at(
            rel.x as f64 * self.width as f64,
            rel.y as f64 * self.height as f64,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::Grid;

    #[test]
    fn layouts_put_patient_right_where_they_say() {
        let grid = Grid::axis_aligned([10, 20, 5], [1.0, 1.0, 4.0], [0.0, 0.0, 0.0]).unwrap();
        let cursor = grid.centre_mm();
        for radiological in [true, false] {
            let view = PlaneView::new(Plane::Axial, &grid, cursor, radiological);
            let left = view.world_at(0.5, 0.5)[0];
            let right = view.world_at(view.width as f64 - 0.5, 0.5)[0];
            assert_eq!(left > right, radiological, "radiological {radiological}");
            let [l, r, ..] = Plane::Axial.edge_letters(radiological);
            assert_eq!((l == "R"), radiological, "{l}{r}");
            let p = [3.0, 7.0, cursor[2]];
            let [x, y] = view.pixel_of(p);
            let back = view.world_at(x, y);
            assert!((0..3).all(|a| (back[a] - p[a]).abs() < 1e-9));
        }
        let coronal = PlaneView::new(Plane::Coronal, &grid, cursor, true);
        assert_eq!(coronal.pixel_mm, 1.0);
        // Slice centres span 16 mm, plus half the largest voxel (2 mm) on both sides.
        assert_eq!(coronal.height, 20);
        assert!(coronal.world_at(0.0, 0.0)[2] > coronal.world_at(0.0, 1.0)[2]);
    }
}
