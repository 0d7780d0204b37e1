//! Joint intensity histograms of a fixed and a moving image, and the mutual information they hold:
//! how well one image's intensity predicts the other's, which a multimodal registration tightens.

use crate::volume::ScalarVolume;
use crate::volume::resample::sample_world;

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

    fn bin(&self, v: f64, (lo, hi): (f64, f64)) -> usize {
        if hi > lo {
            // A negative quotient saturates to bin 0.
            (((v - lo) / (hi - lo)) * self.bins as f64).min(self.bins as f64 - 1.0) as usize
        } else {
            0
        }
    }

    pub fn add(&mut self, fixed: f64, moving: f64) {
        let f = self.bin(fixed, self.ranges[0]);
        let m = self.bin(moving, self.ranges[1]);
        self.counts[m * self.bins + f] += 1;
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

/// The joint histogram of `fixed` against `moving` seen through `moving_point` (fixed world mm ↦
/// moving world mm), from fixed voxels on an even lattice of about `samples` voxels. Voxels whose
/// moving point falls outside the moving image, and NaNs, are left out.
pub fn joint_histogram_through(
    fixed: &ScalarVolume,
    moving: &ScalarVolume,
    moving_point: impl Fn([f64; 3]) -> [f64; 3],
    samples: usize,
    mut joint: JointHistogram,
) -> JointHistogram {
    let grid = fixed.grid();
    let dims = grid.dims();
    let stride = ((grid.voxel_count() as f64 / samples.max(1) as f64)
        .cbrt()
        .ceil() as usize)
        .max(1);
    for k in (0..dims[2]).step_by(stride) {
        for j in (0..dims[1]).step_by(stride) {
            for i in (0..dims[0]).step_by(stride) {
                let f = fixed.at(i, j, k);
                if !f.is_finite() {
                    continue;
                }
                let p = grid.voxel_to_world([i as f64, j as f64, k as f64]);
                if let Some(m) = sample_world(moving, moving_point(p))
                    && m.is_finite()
                {
                    joint.add(f as f64, m as f64);
                }
            }
        }
    }
    joint
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::{Affine, Grid};

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
        let same = joint_histogram_through(&image, &image, |p| p, 100_000, empty.clone());
        assert_eq!(same.total(), 24 * 24 * 24);
        let off_diagonal: u64 = (0..16)
            .flat_map(|m| (0..16).filter(move |&f| f != m).map(move |f| (m, f)))
            .map(|(m, f)| same.counts[m * 16 + f])
            .sum();
        assert_eq!(off_diagonal, 0);
        let (mi, nmi) = same.information().unwrap();
        assert!((nmi - 2.0).abs() < 1e-9, "{nmi}");

        // Shifted by 1.5 voxels along i: fewer voxels overlap, and the pairs spread.
        let shifted =
            joint_histogram_through(&image, &image, |p| [p[0] + 1.5, p[1], p[2]], 100_000, empty);
        assert!(shifted.total() < same.total() && shifted.total() > 0);
        let (shifted_mi, shifted_nmi) = shifted.information().unwrap();
        assert!(shifted_mi < mi && shifted_nmi < nmi - 0.1, "{shifted_nmi}");
    }

    #[test]
    fn sampling_thins_evenly_and_nothing_overlapping_has_no_information() {
        let image = ramp([20, 20, 20]);
        let empty = JointHistogram::new(8, [(-60.0, 80.0); 2]);
        let thin = joint_histogram_through(&image, &image, |p| p, 1000, empty.clone());
        // 8000 voxels for 1000 samples: every second voxel along each axis.
        assert_eq!(thin.total(), 1000);
        let apart =
            joint_histogram_through(&image, &image, |p| [p[0] + 500.0, p[1], p[2]], 1000, empty);
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
}
