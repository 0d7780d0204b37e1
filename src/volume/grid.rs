//! `Grid`: the sampling lattice of a volume in world space (RAS+, millimetres).
//!
//! Conventions, used everywhere in Warpbench:
//! - voxel index `(i, j, k)` with `i` fastest in memory (NIfTI order), voxel centres at integer indices;
//! - world coordinates are RAS+ millimetres (x to the right, y anterior, z superior), as in NIfTI;
//! - `world_from_voxel` maps a (continuous) voxel index to a world point; its columns need not be
//!   axis-aligned, and the spacing is the length of each column.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// A 4×4 affine transform in f64, row-major, last row `[0, 0, 0, 1]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Affine(pub [[f64; 4]; 4]);

impl Affine {
    pub const IDENTITY: Affine = Affine([
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ]);

    /// Affine from a 3×3 linear part and a translation.
    pub fn from_linear_translation(m: [[f64; 3]; 3], t: [f64; 3]) -> Affine {
        let mut a = Affine::IDENTITY;
        for r in 0..3 {
            a.0[r][..3].copy_from_slice(&m[r]);
            a.0[r][3] = t[r];
        }
        a
    }

    pub fn linear(&self) -> [[f64; 3]; 3] {
        let m = &self.0;
        [
            [m[0][0], m[0][1], m[0][2]],
            [m[1][0], m[1][1], m[1][2]],
            [m[2][0], m[2][1], m[2][2]],
        ]
    }

    pub fn translation(&self) -> [f64; 3] {
        [self.0[0][3], self.0[1][3], self.0[2][3]]
    }

    pub fn apply(&self, p: [f64; 3]) -> [f64; 3] {
        let m = &self.0;
        std::array::from_fn(|r| m[r][0] * p[0] + m[r][1] * p[1] + m[r][2] * p[2] + m[r][3])
    }

    /// `self * rhs`: apply `rhs` first, then `self`.
    pub fn then_after(&self, rhs: &Affine) -> Affine {
        let (a, b) = (&self.0, &rhs.0);
        Affine(std::array::from_fn(|r| {
            std::array::from_fn(|c| (0..4).map(|k| a[r][k] * b[k][c]).sum())
        }))
    }

    /// Inverse, or `None` when the linear part is singular or not finite.
    pub fn inverse(&self) -> Option<Affine> {
        let m = self.linear();
        let det = det3(&m);
        if !det.is_finite() || det.abs() < 1e-12 {
            return None;
        }
        let inv = [
            [
                (m[1][1] * m[2][2] - m[1][2] * m[2][1]) / det,
                (m[0][2] * m[2][1] - m[0][1] * m[2][2]) / det,
                (m[0][1] * m[1][2] - m[0][2] * m[1][1]) / det,
            ],
            [
                (m[1][2] * m[2][0] - m[1][0] * m[2][2]) / det,
                (m[0][0] * m[2][2] - m[0][2] * m[2][0]) / det,
                (m[0][2] * m[1][0] - m[0][0] * m[1][2]) / det,
            ],
            [
                (m[1][0] * m[2][1] - m[1][1] * m[2][0]) / det,
                (m[0][1] * m[2][0] - m[0][0] * m[2][1]) / det,
                (m[0][0] * m[1][1] - m[0][1] * m[1][0]) / det,
            ],
        ];
        let t = self.translation();
        let it = std::array::from_fn(|r| -(inv[r][0] * t[0] + inv[r][1] * t[1] + inv[r][2] * t[2]));
        Some(Affine::from_linear_translation(inv, it))
    }

    pub fn is_finite(&self) -> bool {
        self.0.iter().flatten().all(|v| v.is_finite())
    }

    pub fn max_abs_diff(&self, other: &Affine) -> f64 {
        self.0
            .iter()
            .flatten()
            .zip(other.0.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
    }
}

/// Determinant of a 3×3 matrix.
pub fn det3(m: &[[f64; 3]; 3]) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

/// The lattice of a 3D volume: dimensions and the voxel-to-world (RAS mm) affine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    dims: [usize; 3],
    world_from_voxel: Affine,
    voxel_from_world: Affine,
}

impl Grid {
    /// Validates that every dimension is positive, the voxel count fits in memory addressing, and the
    /// affine is finite and invertible.
    pub fn new(dims: [usize; 3], world_from_voxel: Affine) -> Result<Grid, String> {
        if dims.contains(&0) {
            return Err(format!("zero dimension in {dims:?}"));
        }
        dims.iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| format!("dimensions {dims:?} overflow the voxel count"))?;
        if !world_from_voxel.is_finite() {
            return Err("the voxel-to-world affine has NaN or infinite entries".into());
        }
        let voxel_from_world = world_from_voxel
            .inverse()
            .ok_or("the voxel-to-world affine is singular (zero spacing?)")?;
        Ok(Grid {
            dims,
            world_from_voxel,
            voxel_from_world,
        })
    }

    /// Axis-aligned RAS grid with the given spacing (mm) and the world position of voxel (0,0,0).
    pub fn axis_aligned(
        dims: [usize; 3],
        spacing_mm: [f64; 3],
        origin_mm: [f64; 3],
    ) -> Result<Grid> {
        let m = [
            [spacing_mm[0], 0.0, 0.0],
            [0.0, spacing_mm[1], 0.0],
            [0.0, 0.0, spacing_mm[2]],
        ];
        Grid::new(dims, Affine::from_linear_translation(m, origin_mm)).map_err(Error::Mismatch)
    }

    pub fn dims(&self) -> [usize; 3] {
        self.dims
    }

    /// The box of `dims` voxels starting at voxel `lo`, as a grid of its own in the same world
    /// space (its voxel 0 is this grid's voxel `lo`). The box must lie inside this grid.
    pub fn crop(&self, lo: [usize; 3], dims: [usize; 3]) -> Grid {
        assert!(
            (0..3).all(|a| dims[a] > 0 && lo[a] + dims[a] <= self.dims[a]),
            "crop {lo:?} + {dims:?} outside {:?}",
            self.dims
        );
        self.lattice_box(lo.map(|v| v as i64), dims)
            .expect("a sub-box of a valid grid")
    }

    /// The box of `dims` voxels of this grid's lattice starting at voxel `first`, inside the grid
    /// or beyond it: same axes and spacing, its voxel 0 at this grid's voxel `first`.
    pub fn lattice_box(&self, first: [i64; 3], dims: [usize; 3]) -> Result<Grid> {
        let shift =
            Affine::from_linear_translation(Affine::IDENTITY.linear(), first.map(|v| v as f64));
        Grid::new(dims, self.world_from_voxel.then_after(&shift)).map_err(Error::Mismatch)
    }

    pub fn voxel_count(&self) -> usize {
        self.dims.iter().product()
    }

    pub fn world_from_voxel(&self) -> &Affine {
        &self.world_from_voxel
    }

    pub fn voxel_from_world(&self) -> &Affine {
        &self.voxel_from_world
    }

    /// Voxel size in mm along each voxel axis (length of the affine's columns).
    pub fn spacing_mm(&self) -> [f64; 3] {
        let m = &self.world_from_voxel.0;
        std::array::from_fn(|c| (0..3).map(|r| m[r][c] * m[r][c]).sum::<f64>().sqrt())
    }

    /// A voxel's volume (mm³).
    pub fn voxel_volume_mm3(&self) -> f64 {
        det3(&self.world_from_voxel.linear()).abs()
    }

    /// The smallest voxel size (mm).
    pub fn min_spacing_mm(&self) -> f64 {
        self.spacing_mm().into_iter().fold(f64::INFINITY, f64::min)
    }

    /// World position (mm) of the voxel with linear index `n` (`i` fastest).
    pub fn index_to_world(&self, n: usize) -> [f64; 3] {
        self.voxel_to_world(self.voxel_of(n).map(|v| v as f64))
    }

    /// Voxel `(i, j, k)` of linear index `n`: the inverse of [`Grid::index`].
    #[inline]
    pub fn voxel_of(&self, n: usize) -> [usize; 3] {
        let [nx, ny, _] = self.dims;
        [n % nx, (n / nx) % ny, n / (nx * ny)]
    }

    /// Linear index of voxel `(i, j, k)`, `i` fastest.
    #[inline]
    pub fn index(&self, i: usize, j: usize, k: usize) -> usize {
        i + self.dims[0] * (j + self.dims[1] * k)
    }

    pub fn voxel_to_world(&self, voxel: [f64; 3]) -> [f64; 3] {
        self.world_from_voxel.apply(voxel)
    }

    pub fn world_to_voxel(&self, world_mm: [f64; 3]) -> [f64; 3] {
        self.voxel_from_world.apply(world_mm)
    }

    /// Orientation code: for each voxel axis, the world direction its index increases towards
    /// (`R`/`L`, `A`/`P`, `S`/`I`), as nibabel's `aff2axcodes`. Each world axis is used once;
    /// axes are assigned greedily by the largest normalised direction cosine.
    pub fn orientation(&self) -> String {
        let m = self.world_from_voxel.linear();
        let spacing = self.spacing_mm();
        let mut cos = [[0.0f64; 3]; 3];
        for r in 0..3 {
            for c in 0..3 {
                cos[r][c] = m[r][c] / spacing[c];
            }
        }
        let mut letters = [' '; 3];
        let mut row_used = [false; 3];
        let mut col_used = [false; 3];
        for _ in 0..3 {
            let mut best = (0, 0, -1.0);
            for r in (0..3).filter(|&r| !row_used[r]) {
                for c in (0..3).filter(|&c| !col_used[c]) {
                    if cos[r][c].abs() > best.2 {
                        best = (r, c, cos[r][c].abs());
                    }
                }
            }
            let (r, c, _) = best;
            row_used[r] = true;
            col_used[c] = true;
            let positive = cos[r][c] >= 0.0;
            letters[c] = match (r, positive) {
                (0, true) => 'R',
                (0, false) => 'L',
                (1, true) => 'A',
                (1, false) => 'P',
                (2, true) => 'S',
                _ => 'I',
            };
        }
        letters.iter().collect()
    }

    /// World-space (RAS mm) axis-aligned bounds of the voxel centres: `(min, max)`.
    pub fn world_bounds_mm(&self) -> ([f64; 3], [f64; 3]) {
        let mut lo = [f64::INFINITY; 3];
        let mut hi = [f64::NEG_INFINITY; 3];
        for corner in 0..8 {
            let v: [f64; 3] = std::array::from_fn(|a| {
                if corner >> a & 1 == 1 {
                    (self.dims[a] - 1) as f64
                } else {
                    0.0
                }
            });
            let w = self.voxel_to_world(v);
            for a in 0..3 {
                lo[a] = lo[a].min(w[a]);
                hi[a] = hi[a].max(w[a]);
            }
        }
        (lo, hi)
    }

    /// World position of the grid's centre (mm).
    pub fn centre_mm(&self) -> [f64; 3] {
        self.voxel_to_world(std::array::from_fn(|a| (self.dims[a] as f64 - 1.0) / 2.0))
    }

    /// Whether a world point lies within the volume's extent: half a voxel beyond the outermost
    /// voxel centres, the same extent resampling treats as inside.
    pub fn contains_world_mm(&self, world_mm: [f64; 3]) -> bool {
        let c = self.world_to_voxel(world_mm);
        (0..3).all(|a| c[a] >= -0.5 && c[a] <= self.dims[a] as f64 - 0.5)
    }

    /// The share (0 to 1) of this grid's world box (the axis-aligned bounds of its voxel
    /// centres) that `other`'s box covers: near 1 when the headers put two images over each
    /// other, 0 when they lie apart and only an initialisation can bring them together.
    pub fn box_covered_by(&self, other: &Grid) -> f64 {
        let (lo, hi) = self.world_bounds_mm();
        let (other_lo, other_hi) = other.world_bounds_mm();
        let mut covered = 1.0;
        let mut whole = 1.0;
        for a in 0..3 {
            // A single slice has no extent along its axis: count it as covered when it lies in
            // the other's range.
            let side = (hi[a] - lo[a]).max(1e-9);
            covered *= (hi[a].min(other_hi[a]) - lo[a].max(other_lo[a]) + 1e-9).clamp(0.0, side);
            whole *= side;
        }
        covered / whole
    }

    /// Whether two grids sample the same points (dims equal, affines within `tol_mm`).
    pub fn same_as(&self, other: &Grid, tol_mm: f64) -> bool {
        self.dims == other.dims
            && self.world_from_voxel.max_abs_diff(&other.world_from_voxel) <= tol_mm
    }
}
