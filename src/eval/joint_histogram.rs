//! Joint intensity histograms of a fixed and a moving image, and the mutual information they hold:
//! how well one image's intensity predicts the other's, which a multimodal registration tightens.

use crate::volume::resample::{label_at_world, sample_world};
use crate::volume::{Grid, LabelVolume, ScalarVolume};
use serde::{Deserialize, Serialize};

/// Counts of `(fixed, moving)` value pairs in `bins × bins` equal bins over `ranges`; values
/// outside a range count in its end bin.
#[derive(Clone, Debug, PartialEq)]
pub struct JointHistogram {
    pub bins: usize,
    /// The fixed then the moving value range binned.
    pub ranges: [(f64, f64); 2],
    /// Row `moving bin`, column `fixed bin`: `counts[m * bins + f]`.
    pub counts: Vec<u64>,
}

impl JointHistogram {
    /// Empty, with at least one bin; a range of zero width bins everything in bin 0.
    pub fn new(bins: usize, ranges: [(f64, f64); 2]) -> JointHistogram {
        let bins = bins.max(1);
        JointHistogram {
            bins,
            ranges,
            counts: vec![0; bins * bins],
        }
    }

    /// The pairs (finite ones) binned over their own ranges.
    pub fn of_pairs(
        pairs: impl Iterator<Item = (f64, f64)> + Clone,
        bins: usize,
    ) -> JointHistogram {
        let span = |values: &mut dyn Iterator<Item = f64>| {
            values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            })
        };
        let finite = pairs.filter(|(x, y)| x.is_finite() && y.is_finite());
        let ranges = [
            span(&mut finite.clone().map(|p| p.0)),
            span(&mut finite.clone().map(|p| p.1)),
        ];
        let mut joint = JointHistogram::new(bins, ranges);
        for (x, y) in finite {
            joint.add(x, y);
        }
        joint
    }

    /// Counts the pair; its `[fixed, moving]` bins.
    pub fn add(&mut self, fixed: f64, moving: f64) -> [usize; 2] {
        let f = bin_of(fixed, self.ranges[0], self.bins);
        let m = bin_of(moving, self.ranges[1], self.bins);
        self.counts[m * self.bins + f] += 1;
        [f, m]
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// `(MI in nats, NMI)`, NMI = `(H(F) + H(M)) / H(F,M)` (Studholme), in `[1, 2]`; `None` when
    /// nothing was counted. NMI is NaN when every pair fell in one bin.
    pub fn information(&self) -> Option<(f64, f64)> {
        let n = self.total() as f64;
        if n == 0.0 {
            return None;
        }
        let b = self.bins;
        let (mut pf, mut pm) = (vec![0f64; b], vec![0f64; b]);
        for m in 0..b {
            for f in 0..b {
                let p = self.counts[m * b + f] as f64 / n;
                pf[f] += p;
                pm[m] += p;
            }
        }
        let entropy = |p: &mut dyn Iterator<Item = f64>| {
            -p.filter(|&v| v > 0.0).map(|v| v * v.ln()).sum::<f64>()
        };
        let hf = entropy(&mut pf.iter().copied());
        let hm = entropy(&mut pm.iter().copied());
        let hfm = entropy(&mut self.counts.iter().map(|&c| c as f64 / n));
        Some((
            hf + hm - hfm,
            if hfm > 0.0 { (hf + hm) / hfm } else { f64::NAN },
        ))
    }
}

/// The bin of `v` among `bins` equal bins over `(lo, hi)`: values outside go to the end bins, and
/// a range of zero width puts everything in bin 0.
fn bin_of(v: f64, (lo, hi): (f64, f64), bins: usize) -> usize {
    if hi > lo {
        // A negative quotient saturates to bin 0.
        (((v - lo) / (hi - lo)) * bins as f64).min(bins as f64 - 1.0) as usize
    } else {
        0
    }
}

/// A box of a joint histogram's bins (first and last bin along each axis, inclusive), with the
/// binning it was picked in, so that it tells whether any value pair falls in it: a cluster picked
/// in the histogram can then be traced to the places in the images whose values make it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BinBox {
    pub bins: usize,
    /// The fixed then the moving value range binned.
    pub ranges: [(f64, f64); 2],
    /// The first and the last fixed bin.
    pub fixed: [usize; 2],
    /// The first and the last moving bin.
    pub moving: [usize; 2],
}

impl BinBox {
    /// The box with corners `a` and `b`, each a `[fixed bin, moving bin]` of `h`, in any order.
    pub fn between(h: &JointHistogram, a: [usize; 2], b: [usize; 2]) -> BinBox {
        let last = h.bins - 1;
        let span = |i: usize| [a[i].min(b[i]).min(last), a[i].max(b[i]).min(last)];
        BinBox {
            bins: h.bins,
            ranges: h.ranges,
            fixed: span(0),
            moving: span(1),
        }
    }

    /// Whether the pair's bins lie in the box; never for a NaN.
    pub fn contains(&self, fixed: f64, moving: f64) -> bool {
        !fixed.is_nan()
            && !moving.is_nan()
            && self.holds([
                bin_of(fixed, self.ranges[0], self.bins),
                bin_of(moving, self.ranges[1], self.bins),
            ])
    }

    /// Whether `[fixed bin, moving bin]` is one of its bins.
    fn holds(&self, [f, m]: [usize; 2]) -> bool {
        (self.fixed[0]..=self.fixed[1]).contains(&f)
            && (self.moving[0]..=self.moving[1]).contains(&m)
    }

    /// Whether it was picked in `h`'s binning.
    pub fn fits(&self, h: &JointHistogram) -> bool {
        self.bins == h.bins && self.ranges == h.ranges
    }

    /// The pairs of `h` it holds (none when it does not fit `h`).
    pub fn count(&self, h: &JointHistogram) -> u64 {
        if !self.fits(h) {
            return 0;
        }
        (self.moving[0]..=self.moving[1])
            .flat_map(|m| (self.fixed[0]..=self.fixed[1]).map(move |f| h.counts[m * h.bins + f]))
            .sum()
    }

    /// The value range its bins span along `axis` (0 fixed, 1 moving); the end bins also hold
    /// the values beyond.
    pub fn value_range(&self, axis: usize) -> (f64, f64) {
        let (lo, hi) = self.ranges[axis];
        let [first, last] = if axis == 0 { self.fixed } else { self.moving };
        let edge = |b: usize| lo + (hi - lo) * b as f64 / self.bins as f64;
        (edge(first), edge(last + 1))
    }
}

/// A fixed voxel a joint histogram counted, and the bins its pair fell in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Site {
    pub voxel: [u32; 3],
    /// `[fixed bin, moving bin]`.
    pub bins: [u16; 2],
}

/// A joint histogram and where its pairs were sampled, so that its bins lead back to places.
#[derive(Clone, Debug, PartialEq)]
pub struct JointSample {
    pub histogram: JointHistogram,
    pub sites: Vec<Site>,
}

impl JointSample {
    /// The world point (mm) of the voxel counted in `picked` that is nearest `to_mm`; `grid` is
    /// the fixed image's. `None` when none was, or `picked` is of another binning.
    pub fn nearest_in(&self, picked: &BinBox, grid: &Grid, to_mm: [f64; 3]) -> Option<[f64; 3]> {
        if !picked.fits(&self.histogram) {
            return None;
        }
        self.sites
            .iter()
            .filter(|s| picked.holds(s.bins.map(usize::from)))
            .map(|s| grid.voxel_to_world(s.voxel.map(|v| v as f64)))
            .min_by(|a, b| distance2(*a, to_mm).total_cmp(&distance2(*b, to_mm)))
    }
}

fn distance2(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|k| (a[k] - b[k]).powi(2)).sum()
}

/// Which fixed voxels a joint histogram counts: the whole image, or the part a label map of the
/// fixed image marks (any label, or one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Region {
    #[default]
    Everywhere,
    Labelled,
    Label(i32),
}

impl Region {
    /// Whether a voxel of label `id` (0: unlabelled) is in the region.
    pub fn keeps(self, id: i32) -> bool {
        match self {
            Region::Everywhere => true,
            Region::Labelled => id != 0,
            Region::Label(one) => id == one,
        }
    }

    /// Its volume in mm³ as `labels` mark it (`None` for the whole image).
    fn volume_mm3(self, labels: &LabelVolume) -> Option<f64> {
        (self != Region::Everywhere).then(|| {
            let voxels = labels.data().iter().filter(|&&id| self.keeps(id)).count();
            voxels as f64 * labels.grid().voxel_volume_mm3()
        })
    }
}

/// The joint histogram of `fixed` against `moving` seen through `moving_point` (fixed world mm ↦
/// moving world mm), from the fixed voxels of `region` (as `labels`, a label map of the fixed
/// image on any grid, marks it; the whole image without one) on an even lattice spaced for about
/// `samples` of them. Voxels whose moving point falls outside the moving image, and NaNs, are
/// left out.
pub fn joint_histogram_through(
    fixed: &ScalarVolume,
    moving: &ScalarVolume,
    moving_point: impl Fn([f64; 3]) -> [f64; 3],
    (region, labels): (Region, Option<&LabelVolume>),
    samples: usize,
    mut joint: JointHistogram,
) -> JointSample {
    let mut sites = Vec::new();
    let grid = fixed.grid();
    let dims = grid.dims();
    let region_voxels = labels
        .and_then(|l| region.volume_mm3(l))
        .map_or(grid.voxel_count() as f64, |mm3| {
            mm3 / grid.voxel_volume_mm3()
        });
    let stride = ((region_voxels / samples.max(1) as f64).cbrt().ceil() as usize).max(1);
    for k in (0..dims[2]).step_by(stride) {
        for j in (0..dims[1]).step_by(stride) {
            for i in (0..dims[0]).step_by(stride) {
                let f = fixed.at(i, j, k);
                if !f.is_finite() {
                    continue;
                }
                let p = grid.voxel_to_world([i as f64, j as f64, k as f64]);
                if labels.is_some_and(|l| !region.keeps(label_at_world(l, p))) {
                    continue;
                }
                if let Some(m) = sample_world(moving, moving_point(p))
                    && m.is_finite()
                {
                    let bins = joint.add(f as f64, m as f64);
                    sites.push(Site {
                        voxel: [i, j, k].map(|v| v as u32),
                        bins: bins.map(|b| b as u16),
                    });
                }
            }
        }
    }
    JointSample {
        histogram: joint,
        sites,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::{Affine, Grid};

    const ALL: (Region, Option<&LabelVolume>) = (Region::Everywhere, None);

    fn ramp(dims: [usize; 3]) -> ScalarVolume {
        let grid = Grid::new(dims, Affine::IDENTITY).unwrap();
        let data = (0..grid.voxel_count())
            .map(|n| ((n % dims[0]) as f32).sin() * 50.0 + (n / dims[0] % dims[1]) as f32)
            .collect();
        ScalarVolume::new(grid, data).unwrap()
    }

    #[test]
    fn an_image_against_itself_fills_the_diagonal_and_a_shift_spreads_it() {
        let image = ramp([24, 24, 24]);
        let (lo, hi) = image.min_max();
        let range = (lo as f64, hi as f64);
        let empty = JointHistogram::new(16, [range; 2]);
        let same =
            joint_histogram_through(&image, &image, |p| p, ALL, 100_000, empty.clone()).histogram;
        assert_eq!(same.total(), 24 * 24 * 24);
        let off_diagonal: u64 = (0..16)
            .flat_map(|m| (0..16).filter(move |&f| f != m).map(move |f| (m, f)))
            .map(|(m, f)| same.counts[m * 16 + f])
            .sum();
        assert_eq!(off_diagonal, 0);
        let (mi, nmi) = same.information().unwrap();
        assert!((nmi - 2.0).abs() < 1e-9, "{nmi}");

        // Shifted by 1.5 voxels along i: fewer voxels overlap, and the pairs spread.
        let shifted = joint_histogram_through(
            &image,
            &image,
            |p| [p[0] + 1.5, p[1], p[2]],
            ALL,
            100_000,
            empty,
        )
        .histogram;
        assert!(shifted.total() < same.total() && shifted.total() > 0);
        let (shifted_mi, shifted_nmi) = shifted.information().unwrap();
        assert!(shifted_mi < mi && shifted_nmi < nmi - 0.1, "{shifted_nmi}");
    }

    #[test]
    fn sampling_thins_evenly_and_nothing_overlapping_has_no_information() {
        let image = ramp([20, 20, 20]);
        let empty = JointHistogram::new(8, [(-60.0, 80.0); 2]);
        let thin = joint_histogram_through(&image, &image, |p| p, ALL, 1000, empty.clone());
        // 8000 voxels for 1000 samples: every second voxel along each axis.
        assert_eq!(thin.histogram.total(), 1000);
        assert_eq!(thin.sites.len(), 1000);
        assert!(
            thin.sites
                .iter()
                .all(|s| s.voxel.iter().all(|v| v % 2 == 0))
        );
        let apart = joint_histogram_through(
            &image,
            &image,
            |p| [p[0] + 500.0, p[1], p[2]],
            ALL,
            1000,
            empty,
        )
        .histogram;
        assert_eq!(apart.total(), 0);
        assert_eq!(apart.information(), None);
    }

    #[test]
    fn values_outside_the_ranges_count_in_the_end_bins() {
        let mut joint = JointHistogram::new(4, [(0.0, 4.0), (10.0, 20.0)]);
        joint.add(-3.0, 100.0);
        joint.add(2.5, 12.0);
        assert_eq!(joint.counts[3 * 4], 1);
        assert_eq!(joint.counts[2], 1);
        assert_eq!(joint.total(), 2);
    }

    #[test]
    fn a_box_of_bins_holds_the_pairs_binned_in_it_and_counts_them() {
        let mut joint = JointHistogram::new(4, [(0.0, 4.0), (10.0, 20.0)]);
        for (f, m) in [
            (0.5, 11.0),
            (1.5, 13.0),
            (1.9, 14.9),
            (3.5, 19.0),
            (-7.0, 14.0),
        ] {
            joint.add(f, m);
        }
        // Fixed bins 0..=1, moving bins 0..=1 (10 to 15), corners given in either order.
        let b = BinBox::between(&joint, [1, 0], [0, 1]);
        assert_eq!((b.fixed, b.moving), ([0, 1], [0, 1]));
        assert!(b.contains(1.5, 13.0) && b.contains(-7.0, 14.0));
        assert!(!b.contains(2.0, 13.0) && !b.contains(1.0, 15.0));
        assert!(!b.contains(f64::NAN, 12.0) && !b.contains(1.0, f64::NAN));
        assert_eq!(b.count(&joint), 4);
        assert_eq!(b.value_range(0), (0.0, 2.0));
        assert_eq!(b.value_range(1), (10.0, 15.0));
        // Corners past the last bin stop at it; another binning holds none of its counts.
        let end = BinBox::between(&joint, [9, 9], [3, 3]);
        assert_eq!(
            (end.fixed, end.moving, end.count(&joint)),
            ([3, 3], [3, 3], 1)
        );
        let other = JointHistogram::new(8, joint.ranges);
        assert!(!b.fits(&other) && b.count(&other) == 0);
    }

    #[test]
    fn a_region_of_the_fixed_labels_is_sampled_densely_enough_and_alone() {
        let image = ramp([20, 20, 20]);
        let grid = image.grid().clone();
        let cube = |v: [usize; 3]| v.iter().all(|&c| (4..10).contains(&c));
        let ids = (0..grid.voxel_count())
            .map(|n| if cube(grid.voxel_of(n)) { 5 } else { 0 })
            .collect();
        let labels = LabelVolume::new(grid, ids).unwrap();
        let empty = JointHistogram::new(8, [(-60.0, 80.0); 2]);
        let within = |region| {
            joint_histogram_through(
                &image,
                &image,
                |p| p,
                (region, Some(&labels)),
                1000,
                empty.clone(),
            )
        };
        // The cube's 216 voxels are fewer than the samples asked for: every one counts.
        for region in [Region::Label(5), Region::Labelled] {
            let sample = within(region);
            assert_eq!(sample.sites.len(), 216, "{region:?}");
            assert!(
                sample
                    .sites
                    .iter()
                    .all(|s| cube(s.voxel.map(|c| c as usize)))
            );
        }
        assert_eq!(within(Region::Label(7)).histogram.total(), 0);
        // The whole image keeps its lattice of every second voxel.
        assert_eq!(within(Region::Everywhere).histogram.total(), 1000);
    }

    #[test]
    fn the_nearest_voxel_counted_in_a_box_is_found_in_the_world() {
        // A bright cube in one corner of a dark image, registered to itself.
        let grid = Grid::axis_aligned([10, 10, 10], [2.0, 2.0, 2.0], [-10.0, 0.0, 0.0]).unwrap();
        let data = (0..grid.voxel_count())
            .map(|n| {
                let v = grid.voxel_of(n);
                if v.iter().all(|&c| c >= 7) {
                    100.0
                } else {
                    0.0
                }
            })
            .collect();
        let image = ScalarVolume::new(grid.clone(), data).unwrap();
        let sample = joint_histogram_through(
            &image,
            &image,
            |p| p,
            ALL,
            10_000,
            JointHistogram::new(4, [(0.0, 100.0); 2]),
        );
        let bright = BinBox::between(&sample.histogram, [3, 3], [3, 3]);
        assert_eq!(bright.count(&sample.histogram), 27);
        // From the far corner, the cube's nearest voxel is its corner (7, 7, 7).
        let near = sample.nearest_in(&bright, &grid, grid.voxel_to_world([0.0; 3]));
        assert_eq!(near, Some(grid.voxel_to_world([7.0; 3])));
        let dark_to_bright = BinBox::between(&sample.histogram, [0, 3], [0, 3]);
        assert_eq!(sample.nearest_in(&dark_to_bright, &grid, [0.0; 3]), None);
        let other = BinBox::between(&JointHistogram::new(8, [(0.0, 100.0); 2]), [7, 7], [7, 7]);
        assert_eq!(sample.nearest_in(&other, &grid, [0.0; 3]), None);
    }
}
