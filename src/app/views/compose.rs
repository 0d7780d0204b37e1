//! Slice images on the CPU: sample every layer on a plane's pixel lattice, then compose them into
//! one RGB image for the current compare mode and overlays.
//!
//! Composing here rather than in a fragment shader is deliberate: on the machines we must serve
//! (lavapipe) the GPU is the CPU anyway, a slice is at most a few hundred thousand pixels, the
//! result is cached until a setting or the data changes, and the code is plain Rust that tests
//! check pixel by pixel. Sampling (trilinear, through the deformation) is kept apart from
//! colouring, so a window or mode change recolours cached samples without resampling.

use super::colour::{ColourMap, label_colour};
use super::display::{CompareMode, Display, FieldMap};
use super::slice::PlaneView;
use crate::app::pull::Pull;
use crate::eval::joint_histogram::Region;
use crate::eval::non_diffeomorphic::folded_at_world;
use crate::volume::resample::{label_at_world, nearest_at_world, sample_world};
use crate::volume::warp::displacement_at;
use crate::volume::{LabelTable, LabelVolume, ScalarVolume, VectorField};
use std::sync::Arc;

/// What a slice can show.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    pub fixed: &'a ScalarVolume,
    pub moving: &'a ScalarVolume,
    pub fixed_labels: Option<&'a LabelVolume>,
    pub moving_labels: Option<&'a LabelVolume>,
    /// How the moving layers are brought into the fixed space.
    pub pull: Pull<'a>,
    /// How a kept result brings the moving image in, when its warped image stands in for the
    /// fixed one ([`Wanted::against`] names it).
    pub against: Option<Pull<'a>>,
    /// The displacement (fixed world → moving world, mm) whose magnitude the |u| map shows.
    pub field: Option<&'a VectorField>,
    /// `det J` of that displacement on the field's grid.
    pub jacobian: Option<&'a ScalarVolume>,
    /// Its folded cubes ([`folded_cubes`](crate::eval::non_diffeomorphic::folded_cubes)).
    pub folded_cubes: Option<&'a ScalarVolume>,
}

/// Every layer sampled at a plane's pixel centres, row by row; `NaN` outside an image.
///
/// The layers that do not depend on the transform (the fixed image, the fixed labels, the
/// region) are shared, so the samples of the next snapshot can take them over (see [`sample`]).
pub struct SliceSamples {
    pub view: PlaneView,
    /// What was sampled besides the two images.
    pub wanted: Wanted,
    pub fixed: Arc<[f32]>,
    pub moving: Vec<f32>,
    /// The moving image through the kept result [`Wanted::against`] names: it does not change
    /// with a run's snapshots, so it is shared like the fixed layers.
    pub against: Option<Arc<[f32]>>,
    pub labels: Option<Arc<[i32]>>,
    /// |u|, or with [`FieldMap::Disagreement`] the distance between the two transforms' points.
    pub magnitude_mm: Option<Vec<f32>>,
    pub jacobian: Option<Vec<f32>>,
    /// The folded fraction of the cube between voxel centres at each pixel (with `jacobian`).
    pub folded: Option<Vec<f32>>,
    /// Whether each pixel lies in the joint histogram's region (with a region of the fixed
    /// labels).
    pub in_region: Option<Arc<[bool]>>,
}

/// Which optional layers a slice needs (sampling the rest would only cost time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wanted {
    /// `Some(moving)`: the label map to show, `None`: no labels.
    pub labels: Option<bool>,
    pub map: FieldMap,
    /// The region the joint histogram's highlight keeps to (`Everywhere`: none to sample).
    pub region: Region,
    /// The kept result whose warped image stands in for the fixed one.
    pub against: Option<Against>,
}

/// A kept result compared with the shown transform: its number, and whether its affine stage
/// alone brings the moving image in (as for the shown one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Against {
    pub number: usize,
    pub affine_only: bool,
}

/// Samples the layers on `view`; the moving image and labels go through the sources' pull.
///
/// `earlier` is the plane's previous samples of the same fixed image and labels, if any: what of
/// them does not depend on the transform and was sampled on the same view is taken over rather
/// than sampled again, so a new snapshot of a running registration costs only its moving side.
pub fn sample(
    view: PlaneView,
    sources: &Sources,
    wanted: Wanted,
    earlier: Option<&SliceSamples>,
) -> SliceSamples {
    let earlier = earlier.filter(|e| e.view == view);
    // Found once for the moving image and its labels: through a field, finding a pixel's point
    // costs as much as sampling an image there.
    let moved = view.map_pixels([0.0; 3], |p| sources.pull.moving_point(p));
    let fixed = earlier.map_or_else(
        || {
            view.map_pixels(f32::NAN, |p| {
                sample_world(sources.fixed, p).unwrap_or(f32::NAN)
            })
            .into()
        },
        |e| e.fixed.clone(),
    );
    let moving = map_points(&moved, view.width, f32::NAN, |p| {
        sample_world(sources.moving, p).unwrap_or(f32::NAN)
    });
    let against = sources
        .against
        .filter(|_| wanted.against.is_some())
        .map(|pull| {
            earlier
                .filter(|e| e.wanted.against == wanted.against)
                .and_then(|e| e.against.clone())
                .unwrap_or_else(|| {
                    view.map_pixels(f32::NAN, |p| {
                        sample_world(sources.moving, pull.moving_point(p)).unwrap_or(f32::NAN)
                    })
                    .into()
                })
        });
    let labels = match (wanted.labels, sources.fixed_labels, sources.moving_labels) {
        (Some(false), Some(l), _) => earlier
            .filter(|e| e.wanted.labels == Some(false))
            .and_then(|e| e.labels.clone())
            .or_else(|| Some(view.map_pixels(0, |p| label_at_world(l, p)).into())),
        (Some(true), _, Some(l)) => {
            Some(map_points(&moved, view.width, 0, |p| label_at_world(l, p)).into())
        }
        _ => None,
    };
    let length = |u: [f64; 3]| (u[0] * u[0] + u[1] * u[1] + u[2] * u[2]).sqrt() as f32;
    let magnitude_mm = match (wanted.map, sources.field, sources.against) {
        (FieldMap::Magnitude, Some(f), _) => {
            Some(view.map_pixels(f32::NAN, |p| length(displacement_at(f, p))))
        }
        // The shown transform's points are `moved` already; only the other's are found here.
        (FieldMap::Disagreement, Some(_), Some(against)) => {
            Some(view.map_indexed_pixels(f32::NAN, |n, p| {
                let (a, b) = (moved[n], against.moving_point(p));
                length(std::array::from_fn(|i| a[i] - b[i]))
            }))
        }
        _ => None,
    };
    let jacobian = sources
        .jacobian
        .filter(|_| wanted.map == FieldMap::Jacobian)
        .map(|j| view.map_pixels(f32::NAN, |p| nearest_at_world(j, p).unwrap_or(f32::NAN)));
    let folded = sources
        .folded_cubes
        .filter(|_| wanted.map == FieldMap::Jacobian)
        .map(|f| view.map_pixels(0.0, |p| folded_at_world(f, p).unwrap_or(0.0)));
    let in_region = sources
        .fixed_labels
        .filter(|_| wanted.region != Region::Everywhere)
        .map(|l| {
            earlier
                .filter(|e| e.wanted.region == wanted.region)
                .and_then(|e| e.in_region.clone())
                .unwrap_or_else(|| {
                    view.map_pixels(false, |p| wanted.region.keeps(label_at_world(l, p)))
                        .into()
                })
        });
    SliceSamples {
        view,
        wanted,
        fixed,
        moving,
        against,
        labels,
        magnitude_mm,
        jacobian,
        folded,
        in_region,
    }
}

/// `f` of each point, rows of `width` in parallel.
fn map_points<T: Send + Clone>(
    points: &[[f64; 3]],
    width: usize,
    fill: T,
    f: impl Fn([f64; 3]) -> T + Sync,
) -> Vec<T> {
    let mut out = vec![fill; points.len()];
    crate::parallel::for_each_slice(&mut out, width, |y, row| {
        for (o, &p) in row.iter_mut().zip(&points[y * width..]) {
            *o = f(p);
        }
    });
    out
}

/// The colour of folds (det J ≤ 0) in the Jacobian map.
pub const FOLD_COLOUR: [u8; 3] = [255, 235, 0];
/// The colour of folds that det J misses: det J > 0, yet tetrahedra between voxel centres fold.
pub const HIDDEN_FOLD_COLOUR: [u8; 3] = [0, 255, 255];
const EDGE_COLOUR: [u8; 3] = [255, 220, 0];
/// The colour of pixels whose value pair lies in the bins picked in the joint histogram: apart
/// from the fold colours, the grey of images and the fusion's magenta.
pub const JOINT_BOX_COLOUR: [u8; 3] = [255, 60, 20];

/// det J's place on the diverging map: log₂ from −2 (¼, blue) through 0 (1, grey) to 2 (4, red).
pub fn jacobian_unit(j: f32) -> f32 {
    0.5 + j.max(1e-6).log2() / 4.0
}

/// The RGB image of one slice. `flicker_moving` says which image a flicker shows now.
pub fn compose(
    s: &SliceSamples,
    d: &Display,
    flicker_moving: bool,
    table: &LabelTable,
) -> egui::ColorImage {
    let (w, h) = (s.view.width, s.view.height);
    let colour = |v: f32, look: &super::display::LayerLook| -> [u8; 3] {
        if v.is_nan() {
            [0, 0, 0]
        } else {
            look.colour_map.rgb(look.window.unit(v))
        }
    };
    let unit = |v: f32, look: &super::display::LayerLook| {
        if v.is_nan() { 0.0 } else { look.window.unit(v) }
    };
    // A kept result stands in for the fixed image: it is the moving image, in the moving look,
    // so the modes then compare two transforms of the same image.
    let (reference, reference_look) = match &s.against {
        Some(against) => (&against[..], &d.moving),
        None => (&s.fixed[..], &d.fixed),
    };
    let fixed_unit = |n: usize| unit(reference[n], reference_look);
    let moving_unit = |n: usize| unit(s.moving[n], &d.moving);
    let edges = (d.mode == CompareMode::Contours).then(|| edge_mask(w, h, fixed_unit));
    let tile_px = (d.checker_mm as f64 / s.view.pixel_mm).max(1.0);
    let wipe_x = d.wipe * w as f32;
    let mut rgb = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let n = x + w * y;
            let fixed = || colour(reference[n], reference_look);
            let moving = || colour(s.moving[n], &d.moving);
            let c = match d.mode {
                CompareMode::Fixed => fixed(),
                CompareMode::Moving => moving(),
                CompareMode::Blend => mix(fixed(), moving(), d.blend),
                CompareMode::Fusion => {
                    let (f, m) = (
                        (fixed_unit(n) * 255.0) as u8,
                        (moving_unit(n) * 255.0) as u8,
                    );
                    [f, m, f]
                }
                CompareMode::Checkerboard => {
                    let (tx, ty) = ((x as f64 / tile_px) as usize, (y as f64 / tile_px) as usize);
                    if (tx + ty) % 2 == 0 {
                        fixed()
                    } else {
                        moving()
                    }
                }
                CompareMode::Difference => {
                    ColourMap::Diverging.rgb(0.5 + (fixed_unit(n) - moving_unit(n)) / 2.0)
                }
                CompareMode::Contours => {
                    if edges.as_ref().is_some_and(|e| e[n]) {
                        EDGE_COLOUR
                    } else {
                        moving()
                    }
                }
                CompareMode::Flicker => {
                    if flicker_moving {
                        moving()
                    } else {
                        fixed()
                    }
                }
                CompareMode::Wipe => {
                    if (x as f32 + 0.5) < wipe_x {
                        fixed()
                    } else {
                        moving()
                    }
                }
            };
            rgb.extend_from_slice(&c);
        }
    }
    overlay_field(s, d, &mut rgb);
    overlay_labels(s, d, table, &mut rgb);
    overlay_joint_box(s, d, &mut rgb);
    egui::ColorImage::from_rgb([w, h], &rgb)
}

fn mix(a: [u8; 3], b: [u8; 3], t: f32) -> [u8; 3] {
    std::array::from_fn(|c| (a[c] as f32 * (1.0 - t) + b[c] as f32 * t + 0.5) as u8)
}

/// Pixels where the windowed image's Sobel gradient exceeds a fifth of its range.
fn edge_mask(w: usize, h: usize, unit: impl Fn(usize) -> f32) -> Vec<bool> {
    let mut out = vec![false; w * h];
    if w < 3 || h < 3 {
        return out;
    }
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let v = |dx: isize, dy: isize| {
                unit((x as isize + dx) as usize + w * (y as isize + dy) as usize)
            };
            let gx = v(1, -1) + 2.0 * v(1, 0) + v(1, 1) - v(-1, -1) - 2.0 * v(-1, 0) - v(-1, 1);
            let gy = v(-1, 1) + 2.0 * v(0, 1) + v(1, 1) - v(-1, -1) - 2.0 * v(0, -1) - v(1, -1);
            out[x + w * y] = (gx * gx + gy * gy).sqrt() > 0.8;
        }
    }
    out
}

fn overlay_field(s: &SliceSamples, d: &Display, rgb: &mut [u8]) {
    let look = &d.deformation;
    let a = look.map_opacity;
    match look.map {
        FieldMap::None => {}
        FieldMap::Magnitude | FieldMap::Disagreement => {
            let Some(mag) = &s.magnitude_mm else { return };
            let w = s.view.width;
            let band = |v: f32| (v / look.contour_mm.max(1e-3)).floor();
            for (n, &m) in mag.iter().enumerate() {
                if m.is_nan() {
                    continue;
                }
                let iso = look.contour_mm > 0.0
                    && [n + 1, n + w].iter().any(|&k| {
                        k < mag.len() && (k != n + 1 || (n + 1) % w != 0) && band(mag[k]) != band(m)
                    });
                let c = if iso {
                    [255, 255, 255]
                } else {
                    ColourMap::Viridis.rgb(m / look.magnitude_max_mm.max(1e-3))
                };
                blend_pixel(rgb, n, c, if iso { 1.0 } else { a });
            }
        }
        FieldMap::Jacobian => {
            let Some(jac) = &s.jacobian else { return };
            for (n, &j) in jac.iter().enumerate() {
                if j.is_nan() {
                    continue;
                }
                let folded = s.folded.as_ref().map_or(0.0, |f| f[n]);
                if j <= 0.0 {
                    blend_pixel(rgb, n, FOLD_COLOUR, 1.0);
                } else if folded > 0.0 {
                    // A fold of one voxel's noise turns a sliver of many cubes inside out: the
                    // colour is faint for a sliver and solid from a tenth of the cube on, so the
                    // severe places stand out.
                    let a = 0.35 + 0.65 * (folded / 0.1).min(1.0);
                    blend_pixel(rgb, n, HIDDEN_FOLD_COLOUR, a);
                } else {
                    // Volume-preserving places (det J ≈ 1) stay see-through, so the map marks
                    // only where the deformation compresses or stretches.
                    let strength = (j.log2().abs() * 2.0).min(1.0);
                    let c = ColourMap::Diverging.rgb(jacobian_unit(j));
                    blend_pixel(rgb, n, c, a * strength);
                }
            }
        }
    }
}

fn overlay_labels(s: &SliceSamples, d: &Display, table: &LabelTable, rgb: &mut [u8]) {
    let look = &d.labels;
    let Some(labels) = s.labels.as_ref().filter(|_| look.visible) else {
        return;
    };
    let w = s.view.width;
    for (n, &id) in labels.iter().enumerate() {
        if id == 0 || look.hidden.contains(&id) {
            continue;
        }
        if look.outline {
            let (x, y) = (n % w, n / w);
            let differs = |k: usize| labels[k] != id;
            let border = x == 0
                || y == 0
                || x + 1 == w
                || n + w >= labels.len()
                || differs(n - 1)
                || differs(n + 1)
                || differs(n - w)
                || differs(n + w);
            if !border {
                continue;
            }
        }
        let opacity = look.opacity * table.opacity(id);
        blend_pixel(rgb, n, label_colour(table, id), opacity);
    }
}

/// Last, over labels and maps: it answers the question the user is asking now.
fn overlay_joint_box(s: &SliceSamples, d: &Display, rgb: &mut [u8]) {
    let Some(b) = &d.joint_box else { return };
    let in_region = |n: usize| s.in_region.as_ref().is_none_or(|r| r[n]);
    for (n, (&f, &m)) in s.fixed.iter().zip(&s.moving).enumerate() {
        if in_region(n) && b.contains(f as f64, m as f64) {
            blend_pixel(rgb, n, JOINT_BOX_COLOUR, 0.75);
        }
    }
}

fn blend_pixel(rgb: &mut [u8], n: usize, c: [u8; 3], a: f32) {
    let px = &mut rgb[3 * n..3 * n + 3];
    let mixed = mix([px[0], px[1], px[2]], c, a);
    px.copy_from_slice(&mixed);
}

#[cfg(test)]
mod tests {
    use super::super::colour::Window;
    use super::super::slice::Plane;
    use super::*;
    use crate::volume::Grid;

    fn case() -> (ScalarVolume, ScalarVolume) {
        let grid = Grid::axis_aligned([16, 16, 4], [1.0, 1.0, 2.0], [0.0, 0.0, 0.0]).unwrap();
        let n = grid.voxel_count();
        let fixed = ScalarVolume::new(grid.clone(), vec![100.0; n]).unwrap();
        let moving = ScalarVolume::new(grid, vec![0.0; n]).unwrap();
        (fixed, moving)
    }

    /// The case with the fixed image dark from x = 8 mm on.
    fn half_dark_case() -> (ScalarVolume, ScalarVolume) {
        let (mut fixed, moving) = case();
        let grid = fixed.grid().clone();
        for n in 0..grid.voxel_count() {
            if grid.voxel_of(n)[0] >= 8 {
                fixed.data_mut()[n] = 0.0;
            }
        }
        (fixed, moving)
    }

    /// A label map on `grid` whose labels are a function of the voxel index.
    fn labels_of(grid: &Grid, label: impl Fn([usize; 3]) -> i32) -> LabelVolume {
        let labels = (0..grid.voxel_count()).map(|n| label(grid.voxel_of(n)));
        LabelVolume::new(grid.clone(), labels.collect()).unwrap()
    }

    fn images_only<'a>(fixed: &'a ScalarVolume, moving: &'a ScalarVolume) -> Sources<'a> {
        Sources {
            fixed,
            moving,
            fixed_labels: None,
            moving_labels: None,
            pull: Pull::AsLoaded,
            field: None,
            jacobian: None,
            folded_cubes: None,
            against: None,
        }
    }

    fn pixel(image: &egui::ColorImage, x: usize, y: usize) -> [u8; 3] {
        let c = image.pixels[x + image.size[0] * y];
        [c.r(), c.g(), c.b()]
    }

    #[test]
    fn every_mode_shows_what_it_says() {
        let (fixed, moving) = case();
        let sources = images_only(&fixed, &moving);
        let view = PlaneView::new(Plane::Axial, fixed.grid(), fixed.grid().centre_mm(), true);
        let s = sample(
            view,
            &sources,
            Wanted {
                labels: None,
                map: FieldMap::None,
                region: Region::Everywhere,
                against: None,
            },
            None,
        );
        let mut d = Display::new(Window::new(0.0, 100.0), Window::new(0.0, 100.0));
        let (white, black) = ([255, 255, 255], [0, 0, 0]);
        let at = |d: &Display, flicker: bool, x: usize, y: usize| {
            pixel(&compose(&s, d, flicker, &LabelTable::default()), x, y)
        };
        d.mode = CompareMode::Fixed;
        assert_eq!(at(&d, false, 5, 5), white);
        d.mode = CompareMode::Moving;
        assert_eq!(at(&d, false, 5, 5), black);
        d.mode = CompareMode::Blend;
        assert_eq!(at(&d, false, 5, 5), [128, 128, 128]);
        d.mode = CompareMode::Fusion;
        assert_eq!(at(&d, false, 5, 5), [255, 0, 255]);
        d.mode = CompareMode::Difference;
        assert_eq!(at(&d, false, 5, 5), ColourMap::Diverging.rgb(1.0));
        d.mode = CompareMode::Flicker;
        assert_eq!((at(&d, false, 5, 5), at(&d, true, 5, 5)), (white, black));
        d.mode = CompareMode::Wipe;
        d.wipe = 0.5;
        assert_eq!((at(&d, false, 2, 5), at(&d, false, 13, 5)), (white, black));
        d.mode = CompareMode::Checkerboard;
        d.checker_mm = 4.0;
        // Tiles of 4 one-millimetre pixels from the slice's corner (half a 2 mm voxel outside).
        assert_eq!(
            (
                at(&d, false, 1, 1),
                at(&d, false, 5, 1),
                at(&d, false, 5, 5)
            ),
            (white, black, white)
        );
    }

    #[test]
    fn contours_and_labels_and_folds() {
        let (fixed, moving) = half_dark_case();
        let grid = fixed.grid().clone();
        let labels = labels_of(&grid, |[_, j, _]| (j >= 8) as i32 * 3);
        let field = VectorField::zeros(grid.clone());
        let mut jac = ScalarVolume::filled(grid.clone(), 1.0);
        jac.data_mut()[grid.index(3, 3, 2)] = -0.5;
        let mut folded_cubes = ScalarVolume::filled(grid.clone(), 0.0);
        folded_cubes.data_mut()[grid.index(10, 3, 2)] = 0.2;
        folded_cubes.data_mut()[grid.index(12, 3, 2)] = 0.01;
        let sources = Sources {
            fixed: &fixed,
            moving: &moving,
            fixed_labels: Some(&labels),
            moving_labels: None,
            pull: Pull::Whole(&field),
            field: Some(&field),
            jacobian: Some(&jac),
            folded_cubes: Some(&folded_cubes),
            against: None,
        };
        let view = PlaneView::new(Plane::Axial, &grid, [8.0, 8.0, 4.0], true);
        let all = |map| Wanted {
            labels: Some(false),
            map,
            region: Region::Everywhere,
            against: None,
        };
        let s = sample(view.clone(), &sources, all(FieldMap::None), None);
        let mut d = Display::new(Window::new(0.0, 100.0), Window::new(0.0, 100.0));
        let freesurfer = LabelTable::freesurfer();
        d.mode = CompareMode::Contours;
        let image = compose(&s, &d, false, &freesurfer);
        // The edge between x = 7 and x = 8 (mm) is at pixel column 16.5 − 8 from the right.
        let [edge_x, _] = view.pixel_of([7.5, 4.0, 4.0]);
        assert_eq!(pixel(&image, edge_x as usize, 6), EDGE_COLOUR);
        assert_eq!(pixel(&image, 2, 6), [0, 0, 0]);
        d.mode = CompareMode::Moving;
        d.labels.visible = true;
        d.labels.outline = false;
        d.labels.opacity = 1.0;
        let [lx, ly] = view.pixel_of([4.0, 12.0, 4.0]);
        assert_eq!(
            pixel(
                &compose(&s, &d, false, &freesurfer),
                lx as usize,
                ly as usize
            ),
            [205, 62, 78]
        );
        // A table's per-label opacity (ITK-SNAP's A column) scales the overlay's.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("half.txt");
        std::fs::write(&path, "3 205 62 78 0.5 1 1 \"half\"\n").unwrap();
        let half = LabelTable::read(&path).unwrap();
        assert_eq!(
            pixel(&compose(&s, &d, false, &half), lx as usize, ly as usize),
            [103, 31, 39]
        );
        d.labels.hidden.insert(3);
        assert_eq!(
            pixel(
                &compose(&s, &d, false, &freesurfer),
                lx as usize,
                ly as usize
            ),
            [0, 0, 0]
        );
        let s = sample(view.clone(), &sources, all(FieldMap::Jacobian), None);
        d.deformation.map = FieldMap::Jacobian;
        let [fx, fy] = view.pixel_of([3.0, 3.0, 4.0]);
        assert_eq!(
            pixel(
                &compose(&s, &d, false, &freesurfer),
                fx as usize,
                fy as usize
            ),
            FOLD_COLOUR
        );
        // The cube from voxel (10, 3, 2) to (11, 4, 3) folds though det J is 1 at its corners:
        // its inside shows the other fold colour, the voxel centre before it does not.
        let image = compose(&s, &d, false, &freesurfer);
        let [cx, cy] = view.pixel_of([10.5, 3.5, 4.0]);
        assert_eq!(pixel(&image, cx as usize, cy as usize), HIDDEN_FOLD_COLOUR);
        let [bx, by] = view.pixel_of([9.5, 3.5, 4.0]);
        let before = pixel(&image, bx as usize, by as usize);
        assert_ne!(before, HIDDEN_FOLD_COLOUR);
        // A sliver of a cube folded shows, fainter.
        let [sx, sy] = view.pixel_of([12.5, 3.5, 4.0]);
        let sliver = pixel(&image, sx as usize, sy as usize);
        assert!(sliver != before && sliver != HIDDEN_FOLD_COLOUR && sliver[2] > sliver[0]);
        assert_eq!(jacobian_unit(1.0), 0.5);
    }

    #[test]
    fn a_new_snapshot_takes_over_the_fixed_layers_and_resamples_the_moving_ones() {
        // The moving image is the one with an edge, so a shift shows in its samples.
        let (moving, fixed) = half_dark_case();
        let grid = fixed.grid().clone();
        let fixed_labels = labels_of(&grid, |[i, _, _]| match i {
            ..4 => 7,
            12.. => 2,
            _ => 0,
        });
        let moving_labels = labels_of(&grid, |[i, j, _]| (i + 16 * j) as i32 + 1);
        let shift =
            VectorField::new(grid.clone(), vec![[3.0, 0.0, 0.0]; grid.voxel_count()]).unwrap();
        let before = Sources {
            fixed_labels: Some(&fixed_labels),
            moving_labels: Some(&moving_labels),
            ..images_only(&fixed, &moving)
        };
        let after = Sources {
            pull: Pull::Whole(&shift),
            ..before
        };
        let wanted = Wanted {
            labels: Some(false),
            map: FieldMap::None,
            region: Region::Label(7),
            against: None,
        };
        let view = PlaneView::new(Plane::Axial, &grid, [8.0, 8.0, 4.0], true);
        let first = sample(view.clone(), &before, wanted, None);
        let next = sample(view.clone(), &after, wanted, Some(&first));
        let fresh = sample(view.clone(), &after, wanted, None);
        assert!(Arc::ptr_eq(&first.fixed, &next.fixed));
        assert!(Arc::ptr_eq(
            first.labels.as_ref().unwrap(),
            next.labels.as_ref().unwrap()
        ));
        assert!(Arc::ptr_eq(
            first.in_region.as_ref().unwrap(),
            next.in_region.as_ref().unwrap()
        ));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&next.moving), bits(&fresh.moving));
        assert_ne!(bits(&next.moving), bits(&first.moving));
        // Another slice, or the moving labels, must be sampled anew.
        let other = PlaneView::new(Plane::Axial, &grid, [8.0, 8.0, 0.0], true);
        let elsewhere = sample(other.clone(), &after, wanted, Some(&next));
        assert!(!Arc::ptr_eq(&next.fixed, &elsewhere.fixed));
        let moving_shown = Wanted {
            labels: Some(true),
            ..wanted
        };
        let relabelled = sample(view.clone(), &after, moving_shown, Some(&next));
        // Each pixel shows the moving image and labels at its point moved by the shift.
        let labels = relabelled.labels.unwrap();
        for (n, (&value, &label)) in next.moving.iter().zip(labels.iter()).enumerate() {
            let p = view.world_at((n % view.width) as f64 + 0.5, (n / view.width) as f64 + 0.5);
            let moved = [p[0] + 3.0, p[1], p[2]];
            let want = sample_world(&moving, moved).unwrap_or(f32::NAN);
            assert_eq!(value.to_bits(), want.to_bits(), "pixel {n}");
            assert_eq!(label, label_at_world(&moving_labels, moved), "pixel {n}");
        }
        assert!(labels.iter().any(|&l| l > 16) && !labels.contains(&1));
        let everywhere = Wanted {
            region: Region::Labelled,
            ..wanted
        };
        let regions = sample(view.clone(), &after, everywhere, Some(&next));
        let fresh_regions = sample(view.clone(), &after, everywhere, None);
        assert_eq!(regions.in_region, fresh_regions.in_region);
        assert_ne!(regions.in_region, next.in_region);
        // A kept result compared against: the moving image through its own transform, sampled
        // once for the run's snapshots, and anew for another result.
        let against = |number| Wanted {
            against: Some(Against {
                number,
                affine_only: false,
            }),
            ..wanted
        };
        let compared = Sources {
            against: Some(Pull::Whole(&shift)),
            ..before
        };
        let first = sample(view.clone(), &compared, against(1), None);
        let values = first.against.clone().unwrap();
        assert_eq!(bits(&values), bits(&next.moving));
        let next = sample(view.clone(), &compared, against(1), Some(&first));
        assert!(Arc::ptr_eq(&values, next.against.as_ref().unwrap()));
        let other = sample(view.clone(), &compared, against(2), Some(&first));
        assert!(!Arc::ptr_eq(&values, other.against.as_ref().unwrap()));
        assert!(
            sample(view, &compared, wanted, Some(&first))
                .against
                .is_none()
        );
    }

    #[test]
    fn the_disagreement_map_is_how_far_apart_two_transforms_take_each_point() {
        let (fixed, moving) = case();
        let grid = fixed.grid().clone();
        let field =
            |x: f32| VectorField::new(grid.clone(), vec![[x, 4.0, 0.0]; grid.voxel_count()]);
        let (shown, other) = (field(3.0).unwrap(), field(0.0).unwrap());
        let sources = Sources {
            pull: Pull::Whole(&shown),
            field: Some(&shown),
            against: Some(Pull::Whole(&other)),
            ..images_only(&fixed, &moving)
        };
        let view = PlaneView::new(Plane::Axial, &grid, [8.0, 8.0, 4.0], true);
        let wanted = |map| Wanted {
            labels: None,
            map,
            region: Region::Everywhere,
            against: Some(Against {
                number: 1,
                affine_only: false,
            }),
        };
        let apart = sample(view.clone(), &sources, wanted(FieldMap::Disagreement), None);
        let apart = apart.magnitude_mm.unwrap();
        assert!(apart.iter().all(|&d| (d - 3.0).abs() < 1e-5), "{apart:?}");
        // |u| is the shown transform's own.
        let own = sample(view.clone(), &sources, wanted(FieldMap::Magnitude), None);
        assert!(
            own.magnitude_mm
                .unwrap()
                .iter()
                .all(|&d| (d - 5.0).abs() < 1e-5)
        );
        // Nothing to disagree with: no map.
        let alone = Sources {
            against: None,
            ..sources
        };
        let none = sample(view, &alone, wanted(FieldMap::Disagreement), None);
        assert!(none.magnitude_mm.is_none());
    }

    #[test]
    fn pixels_whose_values_lie_in_the_joint_histograms_box_are_highlighted() {
        use crate::eval::joint_histogram::{BinBox, JointHistogram};
        let (fixed, moving) = half_dark_case();
        let grid = fixed.grid().clone();
        // Label 7 on the bright half's first four columns (x < 4 mm).
        let labels = labels_of(&grid, |[i, _, _]| (i < 4) as i32 * 7);
        let sources = Sources {
            fixed_labels: Some(&labels),
            ..images_only(&fixed, &moving)
        };
        let view = PlaneView::new(Plane::Axial, &grid, [8.0, 8.0, 4.0], true);
        let samples = |region| {
            let wanted = Wanted {
                labels: None,
                map: FieldMap::None,
                region,
                against: None,
            };
            sample(view.clone(), &sources, wanted, None)
        };
        let (everywhere, in_label) = (samples(Region::Everywhere), samples(Region::Label(7)));
        let mut d = Display::new(Window::new(0.0, 100.0), Window::new(0.0, 100.0));
        d.mode = CompareMode::Fixed;
        let joint = JointHistogram::new(10, [(0.0, 100.0), (0.0, 100.0)]);
        // The bright fixed voxels (bin 9) over a dark moving image (bin 0).
        d.joint_box = Some(BinBox::between(&joint, [9, 0], [8, 0]));
        let at = |s: &SliceSamples, d: &Display, world: [f64; 3]| {
            let [x, y] = view.pixel_of(world);
            pixel(
                &compose(s, d, false, &LabelTable::default()),
                x as usize,
                y as usize,
            )
        };
        let highlighted = mix([255; 3], JOINT_BOX_COLOUR, 0.75);
        assert_eq!(at(&everywhere, &d, [3.0, 8.0, 4.0]), highlighted);
        assert_eq!(at(&everywhere, &d, [6.0, 8.0, 4.0]), highlighted);
        assert_eq!(at(&everywhere, &d, [12.0, 8.0, 4.0]), [0, 0, 0]);
        // Inside a region, only its pixels: the counts the box shows are of them alone.
        assert!(everywhere.in_region.is_none());
        assert_eq!(at(&in_label, &d, [3.0, 8.0, 4.0]), highlighted);
        assert_eq!(at(&in_label, &d, [6.0, 8.0, 4.0]), [255; 3]);
        d.joint_box = None;
        assert_eq!(at(&everywhere, &d, [3.0, 8.0, 4.0]), [255; 3]);
    }
}
