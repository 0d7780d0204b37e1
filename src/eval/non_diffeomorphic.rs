//! Non-diffeomorphic volume (NDV; Liu et al., "On finite difference Jacobian computation in
//! deformable image registration", IJCV 2024). Central-difference det J never reads a voxel's own
//! displacement, so a voxel can jump past its neighbours unseen: a checkerboard of ±0.8 voxel
//! along x has det J = 1 everywhere. NDV instead measures the volume of the tetrahedra between
//! voxel centres that the mapping `x ↦ x + u(x)` turns inside out.
//!
//! Each cube between eight neighbouring voxel centres splits into five tetrahedra in two ways
//! (a central one on the even or on the odd corners, and the four corner ones cut off around
//! it); a tetrahedron whose mapped signed volume has the opposite sign of its unmapped one is
//! folded. NDV is the folded tetrahedra's mapped volume (mm³) averaged over the two splits; its
//! fraction is over the cubes' unmapped volume, so a mirrored field gives 1. Only cubes inside the
//! grid count.

use crate::volume::grid::det3;
use crate::volume::{Grid, ScalarVolume, VectorField};
use serde::{Deserialize, Serialize};

/// What the NDV is, for people reading it.
pub const DEFINITION: &str = "The volume of the tetrahedra between voxel centres that the \
mapping turns inside out (Liu et al. 2024): it sees the folds central-difference det J misses, \
such as a voxel jumping past its neighbours.";

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NonDiffeomorphicVolume {
    pub mm3: f64,
    pub fraction: f64,
}

/// The ten tetrahedra of a cube's two five-way splits, by corner (bit 0: +x, bit 1: +y, bit 2: +z).
pub const TETRAHEDRA: [[usize; 4]; 10] = [
    // A corner and its three neighbours along the cube's edges.
    [0, 1, 2, 4],
    [1, 0, 3, 5],
    [2, 3, 0, 6],
    [3, 2, 1, 7],
    [4, 5, 6, 0],
    [5, 4, 7, 1],
    [6, 7, 4, 2],
    [7, 6, 5, 3],
    // The central tetrahedra of the even and of the odd corners.
    [0, 3, 5, 6],
    [7, 4, 2, 1],
];

/// Corner `c` of a cube in voxel steps along i, j and k (bit 0: +i, bit 1: +j, bit 2: +k).
pub fn corner_offset(c: usize) -> [usize; 3] {
    [c & 1, (c >> 1) & 1, c >> 2]
}

/// The cube between eight neighbouring voxel centres of a grid, before any mapping.
pub struct CubeShape {
    /// Its corners relative to the first one (world mm).
    pub corners: [[f64; 3]; 8],
    /// The sign (±1) of each of [`TETRAHEDRA`]' volumes: a mapped tetrahedron of the other sign
    /// is folded.
    pub orientation: [f64; 10],
    pub volume_mm3: f64,
}

impl CubeShape {
    /// The cube whose edges are the columns of `world_from_voxel` (a grid's linear part; the
    /// identity for voxel units).
    pub fn new(world_from_voxel: &[[f64; 3]; 3]) -> CubeShape {
        let corners = std::array::from_fn(|c| {
            let o = corner_offset(c).map(|v| v as f64);
            std::array::from_fn(|r| (0..3).map(|k| world_from_voxel[r][k] * o[k]).sum())
        });
        CubeShape {
            corners,
            orientation: TETRAHEDRA.map(|t| signed_volume6(&corners, &t).signum()),
            volume_mm3: det3(world_from_voxel).abs(),
        }
    }

    pub fn of(grid: &Grid) -> CubeShape {
        CubeShape::new(&grid.world_from_voxel().linear())
    }
}

/// Six times the signed volume of tetrahedron `t` with corner positions `p`.
pub fn signed_volume6(p: &[[f64; 3]; 8], t: &[usize; 4]) -> f64 {
    let e = |c: usize| std::array::from_fn(|a| p[t[c]][a] - p[t[0]][a]);
    det3(&[e(1), e(2), e(3)])
}

/// The NDV of `field` (world mm, on its grid).
pub fn non_diffeomorphic_volume(field: &VectorField) -> NonDiffeomorphicVolume {
    folded_cubes(field).1
}

/// Where the NDV lies: at each voxel, the folded fraction of the cube between its centre and its
/// neighbours' along +i, +j and +k (0 where that cube is outside the grid), with the NDV; one
/// pass over the field.
pub fn folded_cubes(field: &VectorField) -> (ScalarVolume, NonDiffeomorphicVolume) {
    let grid = field.grid();
    let dims = grid.dims();
    if dims.iter().any(|&d| d < 2) {
        let map = ScalarVolume::filled(grid.clone(), 0.0);
        return (map, NonDiffeomorphicVolume::default());
    }
    let shape = CubeShape::of(grid);
    let (orientation, cube_mm3) = (shape.orientation, shape.volume_mm3);
    let u = field.data();
    let plane = dims[0] * dims[1];
    // The mapped positions of one plane of voxel centres.
    let mapped_plane = |k: usize| -> Vec<[f64; 3]> {
        (0..plane)
            .map(|n| {
                let x = grid.voxel_to_world([(n % dims[0]) as f64, (n / dims[0]) as f64, k as f64]);
                let d = u[k * plane + n];
                std::array::from_fn(|a| x[a] + d[a] as f64)
            })
            .collect()
    };
    // Per slab of cubes: its folded volume (mm³, summed in f64) and its plane of the map.
    let mut slabs = vec![(0f64, Vec::new()); dims[2] - 1];
    crate::parallel::for_each_slice(&mut slabs, 1, |k, slab| {
        let (folded_mm3, map) = &mut slab[0];
        *map = vec![0f32; plane];
        let planes = [mapped_plane(k), mapped_plane(k + 1)];
        for j in 0..dims[1] - 1 {
            for i in 0..dims[0] - 1 {
                let mapped: [[f64; 3]; 8] = std::array::from_fn(|c| {
                    let [di, dj, dk] = corner_offset(c);
                    planes[dk][(j + dj) * dims[0] + i + di]
                });
                // Each split covers the cube once: the ten tetrahedra cover it twice.
                let cube: f64 = TETRAHEDRA
                    .iter()
                    .zip(orientation)
                    .map(|(t, sign)| (-sign * signed_volume6(&mapped, t)).max(0.0) / 12.0)
                    .sum();
                *folded_mm3 += cube;
                map[j * dims[0] + i] = (cube / cube_mm3) as f32;
            }
        }
    });
    let mm3: f64 = slabs.iter().map(|(v, _)| v).sum();
    let mut map: Vec<f32> = slabs.into_iter().flat_map(|(_, m)| m).collect();
    map.resize(grid.voxel_count(), 0.0);
    let cubes = ((dims[0] - 1) * (dims[1] - 1) * (dims[2] - 1)) as f64;
    let ndv = NonDiffeomorphicVolume {
        mm3,
        fraction: mm3 / (cubes * cube_mm3),
    };
    let map = ScalarVolume::new(grid.clone(), map).expect("sized from the grid");
    (map, ndv)
}

/// The value of a [`folded_cubes`] map for the cube a world point (mm) lies in; `None` outside
/// the cubes.
pub fn folded_at_world(map: &ScalarVolume, world_mm: [f64; 3]) -> Option<f32> {
    let grid = map.grid();
    let dims = grid.dims();
    let v = grid.world_to_voxel(world_mm);
    let mut index = [0usize; 3];
    for a in 0..3 {
        let f = v[a].floor();
        if !(f >= 0.0 && f + 1.0 < dims[a] as f64) {
            return None;
        }
        index[a] = f as usize;
    }
    Some(map.data()[grid.index(index[0], index[1], index[2])])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::jacobian::jacobian_determinant;
    use crate::volume::Grid;

    fn field(spacing_mm: [f64; 3], u: impl Fn([usize; 3], [f64; 3]) -> [f64; 3]) -> VectorField {
        let grid = Grid::axis_aligned([7, 6, 5], spacing_mm, [10.0, -4.0, 2.0]).unwrap();
        let data = (0..grid.voxel_count())
            .map(|n| u(grid.voxel_of(n), grid.index_to_world(n)).map(|v| v as f32))
            .collect();
        VectorField::new(grid, data).unwrap()
    }

    #[test]
    fn smooth_fields_have_none_on_either_orientation_of_the_grid() {
        for spacing in [[1.0, 2.0, 1.5], [-1.0, 2.0, 1.5]] {
            let ndv = non_diffeomorphic_volume(&field(spacing, |_, x| {
                [0.3 * (x[1] * 0.2).sin(), 0.1 * x[0] - 0.2, 0.05 * x[2]]
            }));
            assert_eq!(
                ndv,
                NonDiffeomorphicVolume::default(),
                "spacing {spacing:?}"
            );
        }
    }

    #[test]
    fn a_mirror_turns_all_the_volume_inside_out() {
        for spacing in [[1.0, 2.0, 1.5], [-1.0, 2.0, 1.5]] {
            // x ↦ (−x, y, z) about x = 13 mm.
            let ndv =
                non_diffeomorphic_volume(&field(spacing, |_, x| [26.0 - 2.0 * x[0], 0.0, 0.0]));
            assert!((ndv.fraction - 1.0).abs() < 1e-9, "{ndv:?}");
            assert!((ndv.mm3 - 6.0 * 5.0 * 4.0 * 3.0).abs() < 1e-6, "{ndv:?}");
        }
    }

    #[test]
    fn a_checkerboard_that_central_differences_miss_is_caught() {
        // Every other voxel column 0.8 voxel to the right, the others 0.8 to the left: they pass
        // each other, yet central differences see no change along x.
        let checkerboard = field([1.0, 1.0, 1.0], |v, _| {
            [if v[0] % 2 == 0 { 0.8 } else { -0.8 }, 0.0, 0.0]
        });
        let det = jacobian_determinant(&checkerboard);
        let inner = |n: usize| (1..6).contains(&det.grid().voxel_of(n)[0]);
        assert!(
            det.data()
                .iter()
                .enumerate()
                .all(|(n, &d)| !inner(n) || (d - 1.0).abs() < 1e-6),
            "central differences see no fold inside"
        );
        let ndv = non_diffeomorphic_volume(&checkerboard);
        assert!(ndv.fraction > 0.05, "{ndv:?}");
    }

    #[test]
    fn the_map_places_the_volume_in_the_cubes_that_fold() {
        // One voxel pushed 1.6 voxels along +x, past its neighbour: only the cubes it is a
        // corner of fold.
        let f = field([1.0, 2.0, 1.5], |v, _| {
            [if v == [3, 2, 2] { 1.6 } else { 0.0 }, 0.0, 0.0]
        });
        let (map, ndv) = folded_cubes(&f);
        assert_eq!(ndv, non_diffeomorphic_volume(&f));
        assert!(ndv.mm3 > 0.0);
        let grid = map.grid();
        let mut sum = 0.0;
        for (n, &m) in map.data().iter().enumerate() {
            let [i, j, k] = grid.voxel_of(n);
            let corner = (2..=3).contains(&i) && (1..=2).contains(&j) && (1..=2).contains(&k);
            assert!(corner || m == 0.0, "voxel {:?} folds {m}", [i, j, k]);
            sum += m as f64 * 3.0;
        }
        assert!((sum - ndv.mm3).abs() < 1e-5, "{sum} vs {ndv:?}");
        // A point inside the cube at voxel (3, 2, 2) reads it; the grid's far faces read nothing.
        let inside = grid.voxel_to_world([3.5, 2.5, 2.5]);
        assert_eq!(
            folded_at_world(&map, inside),
            Some(map.data()[grid.index(3, 2, 2)])
        );
        assert!(map.data()[grid.index(3, 2, 2)] > 0.0);
        assert_eq!(
            folded_at_world(&map, grid.voxel_to_world([6.2, 2.0, 2.0])),
            None
        );
        assert_eq!(
            folded_at_world(&map, grid.voxel_to_world([-0.2, 2.0, 2.0])),
            None
        );
    }
}
