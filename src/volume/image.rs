//! Volumes on a `Grid`: scalar images (f32), label maps (integer ids) and vector fields (mm, RAS).

use super::grid::Grid;
use crate::error::{Error, Result};
use std::collections::BTreeMap;

fn check_len(what: &str, grid: &Grid, len: usize) -> Result<()> {
    if len != grid.voxel_count() {
        return Err(Error::Mismatch(format!(
            "{what}: {len} values for a grid of {:?} ({} voxels)",
            grid.dims(),
            grid.voxel_count()
        )));
    }
    Ok(())
}

/// A scalar image; intensities are computed as f32 whatever the file stored.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalarVolume {
    grid: Grid,
    data: Vec<f32>,
}

impl ScalarVolume {
    pub fn new(grid: Grid, data: Vec<f32>) -> Result<Self> {
        check_len("scalar volume", &grid, data.len())?;
        Ok(ScalarVolume { grid, data })
    }

    pub fn filled(grid: Grid, value: f32) -> Self {
        let data = vec![value; grid.voxel_count()];
        ScalarVolume { grid, data }
    }

    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    pub fn data(&self) -> &[f32] {
        &self.data
    }

    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    pub fn at(&self, i: usize, j: usize, k: usize) -> f32 {
        self.data[self.grid.index(i, j, k)]
    }

    /// The values in the box of `dims` voxels from `lo`, on [`Grid::crop`]'s grid.
    pub fn crop(&self, lo: [usize; 3], dims: [usize; 3]) -> ScalarVolume {
        let grid = self.grid.crop(lo, dims);
        let mut data = Vec::with_capacity(grid.voxel_count());
        for k in lo[2]..lo[2] + dims[2] {
            for j in lo[1]..lo[1] + dims[1] {
                let start = self.grid.index(lo[0], j, k);
                data.extend_from_slice(&self.data[start..start + dims[0]]);
            }
        }
        ScalarVolume { grid, data }
    }

    /// An evenly strided sample of about 200 000 voxel values: enough for display windows,
    /// intensity normalisation and telling the modality.
    pub fn sample(&self) -> impl Iterator<Item = f32> + '_ {
        let step = (self.data.len() / 200_000).max(1);
        self.data.iter().step_by(step).copied()
    }

    /// Approximate quantiles (each `q` in `0..=1`, nearest rank) of [`ScalarVolume::sample`].
    pub fn quantiles<const N: usize>(&self, qs: [f64; N]) -> [f32; N] {
        let mut sample: Vec<f32> = self.sample().collect();
        sample.sort_by(f32::total_cmp);
        qs.map(|q| sample[((sample.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize])
    }

    /// Smallest and largest value; `(0, 0)` never happens since a grid has at least one voxel.
    pub fn min_max(&self) -> (f32, f32) {
        self.data
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            })
    }
}

/// What [`LabelVolume::merge_channels`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelMerge {
    pub channels: usize,
    /// Whether the ids became channel numbers (1, 2, …) because channels shared ids.
    pub renumbered: bool,
    /// Voxels in more than one channel, each now with its last channel's id.
    pub overlapping_voxels: usize,
}

/// A label map: integer structure ids per voxel, 0 for background.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelVolume {
    grid: Grid,
    data: Vec<i32>,
}

impl LabelVolume {
    pub fn new(grid: Grid, data: Vec<i32>) -> Result<Self> {
        check_len("label volume", &grid, data.len())?;
        Ok(LabelVolume { grid, data })
    }

    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    pub fn data(&self) -> &[i32] {
        &self.data
    }

    pub fn data_mut(&mut self) -> &mut [i32] {
        &mut self.data
    }

    pub fn at(&self, i: usize, j: usize, k: usize) -> i32 {
        self.data[self.grid.index(i, j, k)]
    }

    /// One map from the channels of a 4D label file (each a structure or a few, as DeepReg and
    /// one-hot files store them), all on one grid. Where the channels' ids are apart, each voxel
    /// keeps its id; where two channels share an id (binary masks all say 1), channel `c`'s
    /// voxels become id `c + 1`. A voxel in several channels takes the last one's id.
    pub fn merge_channels(channels: Vec<LabelVolume>) -> Result<(LabelVolume, ChannelMerge)> {
        let mut channels = channels.into_iter();
        let Some(mut merged) = channels.next() else {
            return Err(Error::Mismatch("no label channels to merge".into()));
        };
        let rest: Vec<LabelVolume> = channels.collect();
        if let Some(other) = rest.iter().find(|c| c.grid != merged.grid) {
            return Err(Error::Mismatch(format!(
                "label channels on different grids: {:?} and {:?}",
                merged.grid.dims(),
                other.grid.dims()
            )));
        }
        let mut seen: Vec<i32> = merged.ids();
        let mut renumbered = false;
        for c in &rest {
            let ids = c.ids();
            renumbered |= ids.iter().any(|id| seen.binary_search(id).is_ok());
            seen.extend(ids);
            seen.sort_unstable();
        }
        if renumbered {
            merged.data.iter_mut().for_each(|v| *v = (*v != 0) as i32);
        }
        let mut overlapping_voxels = 0;
        for (c, channel) in rest.iter().enumerate() {
            let channel_id = c as i32 + 2;
            for (m, &v) in merged.data.iter_mut().zip(&channel.data) {
                if v != 0 {
                    overlapping_voxels += (*m != 0) as usize;
                    *m = if renumbered { channel_id } else { v };
                }
            }
        }
        Ok((
            merged,
            ChannelMerge {
                channels: rest.len() + 1,
                renumbered,
                overlapping_voxels,
            },
        ))
    }

    /// Label ids present, sorted, background (0) excluded.
    pub fn ids(&self) -> Vec<i32> {
        let mut ids: Vec<i32> = self.data.iter().copied().filter(|&v| v != 0).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// For each label id (background excluded): a point inside it and its size.
    pub fn sites(&self) -> BTreeMap<i32, LabelSite> {
        let mut sums: BTreeMap<i32, ([f64; 3], usize)> = BTreeMap::new();
        for (n, &id) in self.data.iter().enumerate() {
            if id != 0 {
                let p = self.grid.index_to_world(n);
                let (sum, count) = sums.entry(id).or_insert(([0.0; 3], 0));
                (0..3).for_each(|a| sum[a] += p[a]);
                *count += 1;
            }
        }
        let centroids: BTreeMap<i32, [f64; 3]> = sums
            .iter()
            .map(|(&id, &(sum, count))| (id, sum.map(|v| v / count as f64)))
            .collect();
        let mut nearest: BTreeMap<i32, ([f64; 3], f64)> = BTreeMap::new();
        for (n, &id) in self.data.iter().enumerate() {
            if let Some(c) = centroids.get(&id) {
                let p = self.grid.index_to_world(n);
                let d2: f64 = (0..3).map(|a| (p[a] - c[a]).powi(2)).sum();
                let best = nearest.entry(id).or_insert((p, f64::INFINITY));
                if d2 < best.1 {
                    *best = (p, d2);
                }
            }
        }
        let voxel_mm3 = self.grid.voxel_volume_mm3();
        nearest
            .into_iter()
            .map(|(id, (p, _))| {
                let voxels = sums[&id].1;
                let site = LabelSite {
                    inner_point_mm: p,
                    voxels,
                    volume_mm3: voxels as f64 * voxel_mm3,
                };
                (id, site)
            })
            .collect()
    }
}

/// Where a label is and how big it is.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelSite {
    /// The world point (RAS mm) of the label's voxel nearest its centroid: a point inside the
    /// structure to bring the views to, where the centroid of a ribbon or a ring (cortex, a
    /// ventricle's horn) lies outside it.
    pub inner_point_mm: [f64; 3],
    pub voxels: usize,
    pub volume_mm3: f64,
}

/// A 3-vector per voxel, in world (RAS) millimetres; a displacement field when used as a transform.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorField {
    grid: Grid,
    data: Vec<[f32; 3]>,
}

impl VectorField {
    pub fn new(grid: Grid, data: Vec<[f32; 3]>) -> Result<Self> {
        check_len("vector field", &grid, data.len())?;
        Ok(VectorField { grid, data })
    }

    pub fn zeros(grid: Grid) -> Self {
        let data = vec![[0.0; 3]; grid.voxel_count()];
        VectorField { grid, data }
    }

    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    pub fn data(&self) -> &[[f32; 3]] {
        &self.data
    }

    pub fn data_mut(&mut self) -> &mut [[f32; 3]] {
        &mut self.data
    }

    pub fn at(&self, i: usize, j: usize, k: usize) -> [f32; 3] {
        self.data[self.grid.index(i, j, k)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_merge_keeping_ids_that_are_apart_and_numbering_masks_that_share_one() {
        let grid = Grid::axis_aligned([4, 1, 1], [1.0; 3], [0.0; 3]).unwrap();
        let map = |v: [i32; 4]| LabelVolume::new(grid.clone(), v.to_vec()).unwrap();
        let (apart, merge) =
            LabelVolume::merge_channels(vec![map([3, 0, 0, 0]), map([0, 0, 7, 8])]).unwrap();
        assert_eq!(apart.data(), [3, 0, 7, 8]);
        assert_eq!(
            merge,
            ChannelMerge {
                channels: 2,
                renumbered: false,
                overlapping_voxels: 0
            }
        );
        let masks = vec![map([1, 1, 0, 0]), map([0, 1, 1, 0]), map([0, 0, 0, 0])];
        let (numbered, merge) = LabelVolume::merge_channels(masks).unwrap();
        assert_eq!(
            numbered.data(),
            [1, 2, 2, 0],
            "the later channel wins an overlap"
        );
        assert!(merge.renumbered);
        assert_eq!(merge.overlapping_voxels, 1);
        let other = Grid::axis_aligned([2, 2, 1], [1.0; 3], [0.0; 3]).unwrap();
        let square = LabelVolume::new(other, vec![1; 4]).unwrap();
        assert!(LabelVolume::merge_channels(vec![map([1; 4]), square]).is_err());
        assert!(LabelVolume::merge_channels(Vec::new()).is_err());
    }

    #[test]
    fn label_sites_lie_inside_rings_and_at_the_centre_of_blocks_and_measure_them() {
        let grid = Grid::axis_aligned([21, 21, 5], [1.0, 1.0, 2.0], [-10.0, -10.0, 0.0]).unwrap();
        let data = (0..grid.voxel_count())
            .map(|n| {
                let p = grid.index_to_world(n);
                let r = p[0].hypot(p[1]);
                if (6.0..=8.0).contains(&r) {
                    1
                } else if p[0].abs() <= 1.0 && p[1].abs() <= 1.0 && p[2] == 4.0 {
                    2
                } else {
                    0
                }
            })
            .collect();
        let labels = LabelVolume::new(grid.clone(), data).unwrap();
        let sites = labels.sites();
        assert_eq!(sites.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
        // The ring's centroid is its empty middle; its point is on the ring.
        let ring = sites[&1].inner_point_mm;
        let r = ring[0].hypot(ring[1]);
        assert!((6.0..=8.0).contains(&r), "{ring:?}");
        assert_eq!(sites[&2].inner_point_mm, [0.0, 0.0, 4.0]);
        // The block is 3 × 3 voxels on one slice of 1 × 1 × 2 mm voxels.
        assert_eq!(sites[&2].voxels, 9);
        assert_eq!(sites[&2].volume_mm3, 18.0);
    }
}
