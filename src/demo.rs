//! The built-in demo case: an MNI152 2009a brain (fixed) and a moving image made from it by a known
//! smooth deformation, a different grid and orientation, and an inverted, non-linear contrast.
//!
//! `generate` rebuilds it deterministically from `../shared/data/mni152-2009a/`
//! (`warpbench make-demo`); `load_builtin` reads the copy embedded in the binary from `assets/demo/`.
//! The same case at 1 mm is the contrast-change acceptance case of the multimodal registration
//! (`tests/contrast_change.rs`, `benches/ct_mr.py`).
//!
//! - fixed: the T1 template averaged over 2×2×2 blocks of its 1 mm voxels, sampled every
//!   [`DEMO_SPACING_MM`] (RAS grid);
//! - moving: on an LPS grid of the same spacing with a shifted field of view; intensity at world point `y` is
//!   `contrast(T1(φ(y)))`, with `φ` = [`DemoDeformation::fixed_from_moving`] (a rotation of about 7°,
//!   a translation of 5 mm and three Gaussian bumps of up to 6 mm) and a T2-like contrast (CSF bright,
//!   white matter dark) times a gentle bias field;
//! - labels: left/right grey and white matter from the template's probability maps, warped alike;
//! - landmarks: points on a 14 mm lattice inside the fixed labels, and their exact images
//!   `φ⁻¹(x)` in the moving image.

use crate::error::{Error, Result};
use crate::volume::landmarks::LandmarkFormat;
use crate::volume::nifti_io::{
    read_labels_bytes, read_scalar, read_scalar_bytes, write_labels, write_scalar_u8,
};
use crate::volume::resample::sample_world;
use crate::volume::{Affine, Grid, LabelVolume, Landmark, LandmarkSet, ScalarVolume};
use std::path::Path;

/// Names of the demo's label ids.
pub const LABEL_NAMES: [(i32, &str); 4] = [
    (1, "left grey matter"),
    (2, "right grey matter"),
    (3, "left white matter"),
    (4, "right white matter"),
];

const MNI_T1: &str = "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz";
const MNI_GM: &str = "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz";
const MNI_WM: &str = "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz";
/// The built-in demo's voxel size.
pub const DEMO_SPACING_MM: f64 = 2.0;
const LANDMARK_STEP_MM: f64 = 14.0;

/// The demo's files in `assets/demo/`.
pub mod files {
    pub const FIXED: &str = "fixed_t1.nii.gz";
    pub const MOVING: &str = "moving_t2like.nii.gz";
    pub const FIXED_LABELS: &str = "fixed_labels.nii.gz";
    pub const MOVING_LABELS: &str = "moving_labels.nii.gz";
    pub const FIXED_LANDMARKS: &str = "fixed_landmarks.csv";
    pub const MOVING_LANDMARKS: &str = "moving_landmarks.csv";
    pub const LABEL_NAMES: &str = "labels.txt";
}

/// A fixed/moving pair with labels and landmarks.
#[derive(Clone, Debug)]
pub struct DemoCase {
    pub fixed: ScalarVolume,
    pub moving: ScalarVolume,
    pub fixed_labels: LabelVolume,
    pub moving_labels: LabelVolume,
    pub fixed_landmarks: LandmarkSet,
    pub moving_landmarks: LandmarkSet,
}

/// The known mapping between the demo's moving and fixed world spaces (mm).
pub struct DemoDeformation {
    centre: [f64; 3],
    rotation: [[f64; 3]; 3],
    translation: [f64; 3],
    /// `(centre, amplitude vector, sigma)` of each Gaussian bump.
    bumps: [([f64; 3], [f64; 3], f64); 3],
}

impl Default for DemoDeformation {
    fn default() -> Self {
        let (az, ax) = (6f64.to_radians(), 3f64.to_radians());
        let rz = [
            [az.cos(), -az.sin(), 0.0],
            [az.sin(), az.cos(), 0.0],
            [0.0, 0.0, 1.0],
        ];
        let rx = [
            [1.0, 0.0, 0.0],
            [0.0, ax.cos(), -ax.sin()],
            [0.0, ax.sin(), ax.cos()],
        ];
        let rotation = std::array::from_fn(|r| {
            std::array::from_fn(|c| (0..3).map(|k| rz[r][k] * rx[k][c]).sum())
        });
        DemoDeformation {
            centre: [0.0, -18.0, 18.0],
            rotation,
            translation: [4.0, -3.0, 2.0],
            bumps: [
                ([-30.0, -20.0, 30.0], [5.0, 2.0, -3.0], 22.0),
                ([35.0, 10.0, 10.0], [-4.0, 4.0, 2.0], 20.0),
                ([0.0, -60.0, 20.0], [0.0, -3.0, 4.0], 18.0),
            ],
        }
    }
}

/// A smooth displacement (mm) at world point `p`: the sum of Gaussian bumps, each
/// `(centre mm, amplitude mm, σ mm)`. The demo's deformation, and the tests' known ones.
pub fn gaussian_bumps(p: [f64; 3], bumps: &[([f64; 3], [f64; 3], f64)]) -> [f64; 3] {
    let mut u = [0.0; 3];
    for (c, a, sigma) in bumps {
        let d2: f64 = (0..3).map(|i| (p[i] - c[i]).powi(2)).sum();
        let g = (-d2 / (2.0 * sigma * sigma)).exp();
        for i in 0..3 {
            u[i] += a[i] * g;
        }
    }
    u
}

impl DemoDeformation {
    fn bumps_at(&self, p: [f64; 3]) -> [f64; 3] {
        gaussian_bumps(p, &self.bumps)
    }

    /// `φ(y)`: the fixed-space point that moving-space point `y` shows.
    pub fn fixed_from_moving(&self, y: [f64; 3]) -> [f64; 3] {
        let (c, r, t) = (self.centre, self.rotation, self.translation);
        let u = self.bumps_at(y);
        std::array::from_fn(|i| {
            c[i] + (0..3).map(|k| r[i][k] * (y[k] - c[k])).sum::<f64>() + t[i] + u[i]
        })
    }

    /// `φ⁻¹(x)` by fixed-point iteration (the bumps' gradients are well below 1, so it contracts).
    pub fn moving_from_fixed(&self, x: [f64; 3]) -> [f64; 3] {
        let (c, r, t) = (self.centre, self.rotation, self.translation);
        let mut y = x;
        for _ in 0..100 {
            let u = self.bumps_at(y);
            let q: [f64; 3] = std::array::from_fn(|i| x[i] - t[i] - u[i] - c[i]);
            y = std::array::from_fn(|i| c[i] + (0..3).map(|k| r[k][i] * q[k]).sum::<f64>());
        }
        y
    }
}

/// T2-like contrast of a T1 value in `0..=255`: rises to CSF's level, then falls through grey to
/// white matter (non-monotonic, so only multimodal metrics align it).
fn t2_like(t1: f64) -> f64 {
    let v = t1 / 255.0 / 0.3;
    255.0 * v * (1.0 - v).exp()
}

/// Mean of the 2×2×2 block of 1 mm voxels around `p` (trilinear at the block centre is that mean).
fn block_mean(volume: &ScalarVolume, p: [f64; 3]) -> f64 {
    sample_world(volume, p).unwrap_or(0.0) as f64
}

/// Builds the case from the MNI152 2009a folder, with voxels of `spacing_mm` (the built-in demo:
/// [`DEMO_SPACING_MM`]).
pub fn generate(mni_dir: &Path, spacing_mm: f64) -> Result<DemoCase> {
    if !(spacing_mm.is_finite() && (0.5..=8.0).contains(&spacing_mm)) {
        return Err(Error::Config(format!(
            "demo voxel size {spacing_mm} mm: expected 0.5 to 8 mm"
        )));
    }
    let t1 = read_scalar(&mni_dir.join(MNI_T1))?;
    let gm = read_scalar(&mni_dir.join(MNI_GM))?;
    let wm = read_scalar(&mni_dir.join(MNI_WM))?;
    for other in [&gm, &wm] {
        if !other.grid().same_as(t1.grid(), 1e-4) {
            return Err(Error::Mismatch(
                "MNI probability maps are not on the T1's grid".into(),
            ));
        }
    }
    let (lo, hi) = t1.grid().world_bounds_mm();
    let dims: [usize; 3] = std::array::from_fn(|a| ((hi[a] - lo[a]) / spacing_mm).floor() as usize);
    let origin: [f64; 3] = std::array::from_fn(|a| lo[a] + 0.5);
    let fixed_grid = Grid::axis_aligned(dims, [spacing_mm; 3], origin)?;

    let fixed_values: Vec<f32> = grid_points(&fixed_grid)
        .map(|p| block_mean(&t1, p) as f32)
        .collect();
    let fixed = ScalarVolume::new(fixed_grid.clone(), fixed_values)?;
    let labels: Vec<i32> = grid_points(&fixed_grid)
        .map(|p| tissue_label(p, block_mean(&gm, p), block_mean(&wm, p)))
        .collect();
    let fixed_labels = LabelVolume::new(fixed_grid.clone(), labels)?;

    let deformation = DemoDeformation::default();
    let moving_grid = moving_grid(&fixed_grid, spacing_mm)?;
    let mut moving_values = Vec::with_capacity(moving_grid.voxel_count());
    let mut moving_labels = Vec::with_capacity(moving_grid.voxel_count());
    for y in grid_points(&moving_grid) {
        let x = deformation.fixed_from_moving(y);
        let bias = 1.0 + 0.08 * (y[0] / 80.0).clamp(-1.0, 1.0);
        let t1_value = sub_voxel_mean(&t1, &deformation, y);
        moving_values.push((t2_like(t1_value) * bias).clamp(0.0, 255.0) as f32);
        moving_labels.push(tissue_label(x, block_mean(&gm, x), block_mean(&wm, x)));
    }
    let moving = ScalarVolume::new(moving_grid.clone(), moving_values)?;
    let moving_labels = LabelVolume::new(moving_grid, moving_labels)?;

    let fixed_landmarks = lattice_landmarks(&fixed_labels);
    let moving_landmarks = LandmarkSet {
        points: fixed_landmarks
            .points
            .iter()
            .map(|p| Landmark {
                name: p.name.clone(),
                world_mm: deformation.moving_from_fixed(p.world_mm),
            })
            .collect(),
    };
    Ok(DemoCase {
        fixed,
        moving,
        fixed_labels,
        moving_labels,
        fixed_landmarks,
        moving_landmarks,
    })
}

/// The moving image's own grid: LPS orientation, field of view shifted by a few voxels.
fn moving_grid(fixed: &Grid, spacing_mm: f64) -> Result<Grid> {
    let [nx, ny, nz] = fixed.dims();
    let (lo, hi) = fixed.world_bounds_mm();
    let linear = [
        [-spacing_mm, 0.0, 0.0],
        [0.0, -spacing_mm, 0.0],
        [0.0, 0.0, spacing_mm],
    ];
    let origin = [hi[0] - 6.0, hi[1] + 4.0, lo[2] - 8.0];
    Grid::new(
        [nx - 2, ny + 2, nz + 2],
        Affine::from_linear_translation(linear, origin),
    )
    .map_err(Error::Mismatch)
}

/// Mean of the 1 mm T1 over eight points 1 mm apart around a moving voxel centre, each mapped
/// through `φ` (the fixed image's 2×2×2 block mean, seen through the deformation).
fn sub_voxel_mean(t1: &ScalarVolume, deformation: &DemoDeformation, y: [f64; 3]) -> f64 {
    let mut sum = 0.0;
    for corner in 0..8 {
        let q: [f64; 3] =
            std::array::from_fn(|a| y[a] + if corner >> a & 1 == 1 { 0.5 } else { -0.5 });
        sum += sample_world(t1, deformation.fixed_from_moving(q)).unwrap_or(0.0) as f64;
    }
    sum / 8.0
}

/// Left/right grey/white matter from probability maps stored as `0..=255`.
fn tissue_label(p: [f64; 3], gm: f64, wm: f64) -> i32 {
    let right = p[0] > 0.0;
    if wm >= 127.5 && wm >= gm {
        if right { 4 } else { 3 }
    } else if gm >= 127.5 {
        if right { 2 } else { 1 }
    } else {
        0
    }
}

fn grid_points(grid: &Grid) -> impl Iterator<Item = [f64; 3]> + '_ {
    let [nx, ny, nz] = grid.dims();
    (0..nz).flat_map(move |k| {
        (0..ny).flat_map(move |j| {
            (0..nx).map(move |i| grid.voxel_to_world([i as f64, j as f64, k as f64]))
        })
    })
}

fn lattice_landmarks(labels: &LabelVolume) -> LandmarkSet {
    let (lo, hi) = labels.grid().world_bounds_mm();
    let steps: [usize; 3] = std::array::from_fn(|a| ((hi[a] - lo[a]) / LANDMARK_STEP_MM) as usize);
    let mut points = Vec::new();
    for k in 0..=steps[2] {
        for j in 0..=steps[1] {
            for i in 0..=steps[0] {
                let p = [
                    lo[0] + 7.0 + i as f64 * LANDMARK_STEP_MM,
                    lo[1] + 7.0 + j as f64 * LANDMARK_STEP_MM,
                    lo[2] + 7.0 + k as f64 * LANDMARK_STEP_MM,
                ];
                let v = labels.grid().world_to_voxel(p).map(|c| c.round());
                let inside = (0..3).all(|a| v[a] >= 0.0 && v[a] < labels.grid().dims()[a] as f64);
                if inside && labels.at(v[0] as usize, v[1] as usize, v[2] as usize) != 0 {
                    points.push(Landmark {
                        name: Some(format!("P{:03}", points.len() + 1)),
                        world_mm: p,
                    });
                }
            }
        }
    }
    LandmarkSet { points }
}

impl DemoCase {
    /// Writes the case into `dir` (atomically, file by file).
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        write_scalar_u8(&dir.join(files::FIXED), &self.fixed)?;
        write_scalar_u8(&dir.join(files::MOVING), &self.moving)?;
        write_labels(&dir.join(files::FIXED_LABELS), &self.fixed_labels)?;
        write_labels(&dir.join(files::MOVING_LABELS), &self.moving_labels)?;
        self.fixed_landmarks
            .write(&dir.join(files::FIXED_LANDMARKS), None)?;
        self.moving_landmarks
            .write(&dir.join(files::MOVING_LANDMARKS), None)?;
        let names: String = LABEL_NAMES
            .iter()
            .map(|(id, name)| format!("{id} {name}\n"))
            .collect();
        crate::atomic::write_bytes(&dir.join(files::LABEL_NAMES), names.as_bytes())
    }
}

macro_rules! asset {
    ($name:literal) => {
        (
            Path::new(concat!("assets/demo/", $name)),
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo/", $name)).as_slice(),
        )
    };
}

/// Writes the demo files embedded in the binary into `dir` as they are (atomically, file by
/// file), for a command line to read.
pub fn write_builtin(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for (path, bytes) in [
        asset!("fixed_t1.nii.gz"),
        asset!("moving_t2like.nii.gz"),
        asset!("fixed_labels.nii.gz"),
        asset!("moving_labels.nii.gz"),
        asset!("fixed_landmarks.csv"),
        asset!("moving_landmarks.csv"),
        asset!("labels.txt"),
    ] {
        let name = path.file_name().expect("asset paths name files");
        crate::atomic::write_bytes(&dir.join(name), bytes)?;
    }
    Ok(())
}

/// The demo case embedded in the binary.
pub fn load_builtin() -> Result<DemoCase> {
    let (p, b) = asset!("fixed_t1.nii.gz");
    let fixed = read_scalar_bytes(p, b)?;
    let (p, b) = asset!("moving_t2like.nii.gz");
    let moving = read_scalar_bytes(p, b)?;
    let (p, b) = asset!("fixed_labels.nii.gz");
    let fixed_labels = read_labels_bytes(p, b)?;
    let (p, b) = asset!("moving_labels.nii.gz");
    let moving_labels = read_labels_bytes(p, b)?;
    let (p, b) = asset!("fixed_landmarks.csv");
    let fixed_landmarks = LandmarkSet::parse(p, LandmarkFormat::Csv, b, None)?;
    let (p, b) = asset!("moving_landmarks.csv");
    let moving_landmarks = LandmarkSet::parse(p, LandmarkFormat::Csv, b, None)?;
    Ok(DemoCase {
        fixed,
        moving,
        fixed_labels,
        moving_labels,
        fixed_landmarks,
        moving_landmarks,
    })
}
