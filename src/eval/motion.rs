//! How far each structure moved: the length of the displacement over each fixed label's voxels,
//! in mm, from its place in the fixed image to its place in the moving one ("the tumour moved
//! 9 mm, the cord 0.4 mm"), and how its volume changed on the way (the mean det J over it: "the
//! tumour grew 12 %"). Needs the fixed label map only.

use super::surface::percentile;
use crate::error::{Error, Result};
use crate::volume::{LabelVolume, ScalarVolume, VectorField};
use serde::Serialize;
use std::collections::BTreeMap;

/// The motion of one structure.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StructureMotion {
    pub voxels: usize,
    /// Mean of `|d|` over the structure's voxels (mm).
    pub mean_mm: f64,
    pub p95_mm: f64,
    pub max_mm: f64,
    /// The mean displacement (RAS mm): where the structure went as a whole; shorter than
    /// `mean_mm` where its parts moved apart (a rotation, a stretch).
    pub shift_ras_mm: [f64; 3],
    /// How much larger (positive) or smaller the structure is in the moving image than in the
    /// fixed one, as the mapping has it: (mean det J over its voxels − 1) · 100.
    pub volume_change_percent: f64,
}

/// The motion of every non-zero label of `fixed_labels`, which must be on `field`'s grid;
/// `det_j` is the field's [`super::jacobian::jacobian_determinant`].
pub fn motion_per_label(
    fixed_labels: &LabelVolume,
    field: &VectorField,
    det_j: &ScalarVolume,
) -> Result<BTreeMap<i32, StructureMotion>> {
    if !fixed_labels.grid().same_as(field.grid(), 1e-3) {
        return Err(Error::Mismatch(
            "the fixed labels are not on the displacement field's grid".into(),
        ));
    }
    if !det_j.grid().same_as(field.grid(), 1e-3) {
        return Err(Error::Mismatch(
            "the det J map is not on the displacement field's grid".into(),
        ));
    }
    #[derive(Default)]
    struct Sums {
        lengths: Vec<f64>,
        shift: [f64; 3],
        det_j: f64,
    }
    let mut sums: BTreeMap<i32, Sums> = BTreeMap::new();
    let voxels = fixed_labels
        .data()
        .iter()
        .zip(field.data())
        .zip(det_j.data());
    for ((&id, d), &det) in voxels {
        if id == 0 {
            continue;
        }
        let s = sums.entry(id).or_default();
        let d = d.map(f64::from);
        s.lengths
            .push((d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt());
        for a in 0..3 {
            s.shift[a] += d[a];
        }
        s.det_j += f64::from(det);
    }
    Ok(sums
        .into_iter()
        .map(|(id, mut s)| {
            let n = s.lengths.len() as f64;
            let motion = StructureMotion {
                voxels: s.lengths.len(),
                mean_mm: s.lengths.iter().sum::<f64>() / n,
                max_mm: s.lengths.iter().copied().fold(0.0, f64::max),
                p95_mm: percentile(&mut s.lengths, 95.0),
                shift_ras_mm: s.shift.map(|v| v / n),
                volume_change_percent: (s.det_j / n - 1.0) * 100.0,
            };
            (id, motion)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::jacobian::jacobian_determinant;
    use crate::volume::Grid;

    fn grid() -> Grid {
        Grid::axis_aligned([6, 5, 4], [2.0, 1.0, 3.0], [0.0; 3]).unwrap()
    }

    fn motion(labels: &LabelVolume, field: &VectorField) -> Result<BTreeMap<i32, StructureMotion>> {
        motion_per_label(labels, field, &jacobian_determinant(field))
    }

    #[test]
    fn a_translated_structure_moved_its_length_and_a_still_one_nothing() {
        let g = grid();
        // Label 1 in the lower half (k < 2) moves by (3, 4, 0) mm; label 2 above stays.
        let labels: Vec<i32> = (0..g.voxel_count())
            .map(|n| if g.voxel_of(n)[2] < 2 { 1 } else { 2 })
            .collect();
        let field: Vec<[f32; 3]> = (0..g.voxel_count())
            .map(|n| {
                if g.voxel_of(n)[2] < 2 {
                    [3.0, 4.0, 0.0]
                } else {
                    [0.0; 3]
                }
            })
            .collect();
        let labels = LabelVolume::new(g.clone(), labels).unwrap();
        let m = motion(&labels, &VectorField::new(g, field).unwrap()).unwrap();
        assert_eq!(m.len(), 2);
        let one = &m[&1];
        assert_eq!(one.voxels, 60);
        for v in [one.mean_mm, one.p95_mm, one.max_mm] {
            assert!((v - 5.0).abs() < 1e-9, "{one:?}");
        }
        assert_eq!(one.shift_ras_mm, [3.0, 4.0, 0.0]);
        assert_eq!(m[&2].max_mm, 0.0);
        // Translations keep volumes, even where the two halves meet.
        assert!(m[&1].volume_change_percent.abs() < 1e-9, "{one:?}");
    }

    #[test]
    fn a_stretched_structure_grew_by_the_stretch() {
        let g = grid();
        // Everything stretched by 10 % along y about its centre; label 3 is one plane of it.
        let labels: Vec<i32> = (0..g.voxel_count())
            .map(|n| if g.voxel_of(n)[2] == 1 { 3 } else { 0 })
            .collect();
        let field: Vec<[f32; 3]> = (0..g.voxel_count())
            .map(|n| [0.0, 0.1 * (g.index_to_world(n)[1] - 2.0) as f32, 0.0])
            .collect();
        let labels = LabelVolume::new(g.clone(), labels).unwrap();
        let m = motion(&labels, &VectorField::new(g, field).unwrap()).unwrap();
        assert!(
            (m[&3].volume_change_percent - 10.0).abs() < 1e-4,
            "{:?}",
            m[&3]
        );
    }

    #[test]
    fn a_spread_structure_has_a_short_shift_and_background_is_not_a_structure() {
        let g = grid();
        // Label 5 at i = 1 and i = 4 moves apart: −2 and +2 mm along x; the rest is background.
        let side = |n: usize| match g.voxel_of(n)[0] {
            1 => Some(-2.0),
            4 => Some(2.0),
            _ => None,
        };
        let labels: Vec<i32> = (0..g.voxel_count())
            .map(|n| if side(n).is_some() { 5 } else { 0 })
            .collect();
        let field: Vec<[f32; 3]> = (0..g.voxel_count())
            .map(|n| [side(n).unwrap_or(9.0), 0.0, 0.0])
            .collect();
        let labels = LabelVolume::new(g.clone(), labels).unwrap();
        let m = motion(&labels, &VectorField::new(g, field).unwrap()).unwrap();
        assert_eq!(m.keys().copied().collect::<Vec<_>>(), vec![5]);
        assert!((m[&5].mean_mm - 2.0).abs() < 1e-9);
        assert!(m[&5].shift_ras_mm[0].abs() < 1e-9);
    }

    #[test]
    fn labels_off_the_field_grid_are_refused() {
        let labels = LabelVolume::new(grid(), vec![1; grid().voxel_count()]).unwrap();
        let other = Grid::axis_aligned([6, 5, 3], [2.0, 1.0, 3.0], [0.0; 3]).unwrap();
        assert!(motion(&labels, &VectorField::zeros(other)).is_err());
    }
}
