//! Intensity histograms of scalar images: what a window is set against.

/// Counts of values in equal bins from `start`, each `width` wide. Integer-valued images (CT in
/// HU, most MR) get bins of a whole number of levels centred on them, so that no bin falls between
/// two levels and shows as a false gap.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// The smallest and largest finite value.
    pub min: f32,
    pub max: f32,
    pub start: f64,
    pub width: f64,
    pub counts: Vec<u64>,
}

impl Histogram {
    /// At most `bins` bins (at least one) over the finite values; NaNs and infinities are not
    /// counted. With no finite value the histogram is empty (`total() == 0`).
    pub fn of(values: &[f32], bins: usize) -> Histogram {
        let bins = bins.max(1);
        let finite = || values.iter().copied().filter(|v| v.is_finite());
        let (min, max) = finite().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if min > max {
            return Histogram {
                min: 0.0,
                max: 0.0,
                start: -0.5,
                width: 1.0,
                counts: vec![0],
            };
        }
        let (lo, hi) = (min as f64, max as f64);
        let (start, width, n) = if finite().all(|v| v.fract() == 0.0) {
            let levels = hi - lo + 1.0;
            let width = (levels / bins as f64).ceil();
            (lo - 0.5, width, (levels / width).ceil() as usize)
        } else if hi > lo {
            (lo, (hi - lo) / bins as f64, bins)
        } else {
            (lo - 0.5, 1.0, 1)
        };
        let mut counts = vec![0u64; n];
        for v in finite() {
            let bin = ((v as f64 - start) / width) as usize;
            counts[bin.min(n - 1)] += 1;
        }
        Histogram {
            min,
            max,
            start,
            width,
            counts,
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The far edge of the last bin.
    pub fn end(&self) -> f64 {
        self.start + self.width * self.counts.len() as f64
    }

    /// The value range `[start, end)` of bin `i` (the last bin also holds its end).
    pub fn bin_range(&self, i: usize) -> (f64, f64) {
        let a = self.start + self.width * i as f64;
        (a, a + self.width)
    }

    /// The bin holding `value`, if it lies within the bins.
    pub fn bin_of(&self, value: f64) -> Option<usize> {
        if !(self.start..=self.end()).contains(&value) {
            return None;
        }
        let bin = ((value - self.start) / self.width) as usize;
        Some(bin.min(self.counts.len() - 1))
    }

    /// How many values lie in `lo..=hi`, counting the bins it cuts in proportion.
    pub fn count_between(&self, lo: f64, hi: f64) -> f64 {
        (0..self.counts.len())
            .map(|i| {
                let (a, b) = self.bin_range(i);
                let overlap = (b.min(hi) - a.max(lo)).max(0.0);
                self.counts[i] as f64 * overlap / self.width
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_values_land_in_their_bins_and_the_largest_in_the_last() {
        let h = Histogram::of(
            &[
                0.0,
                0.5,
                1.0,
                2.4,
                2.5,
                9.99,
                10.0,
                0.25,
                f32::NAN,
                f32::INFINITY,
            ],
            4,
        );
        assert_eq!((h.min, h.max, h.start, h.width), (0.0, 10.0, 0.0, 2.5));
        assert_eq!(h.counts, vec![5, 1, 0, 2]);
        assert_eq!(h.total(), 8);
        assert_eq!(h.bin_range(1), (2.5, 5.0));
        assert_eq!(h.bin_of(2.5), Some(1));
        assert_eq!(h.bin_of(10.0), Some(3));
        assert_eq!(h.bin_of(10.5), None);
    }

    #[test]
    fn integer_levels_each_fill_whole_bins_with_no_gaps_between() {
        // 0..=125 over at most 256 bins: one bin per level, centred on it.
        let levels: Vec<f32> = (0..=125).map(|v| v as f32).collect();
        let h = Histogram::of(&levels, 256);
        assert_eq!((h.start, h.width, h.counts.len()), (-0.5, 1.0, 126));
        assert!(h.counts.iter().all(|&c| c == 1));
        // CT's -1024..=3071 over at most 256 bins: 16 levels a bin, 256 bins.
        let ct: Vec<f32> = (-1024..=3071).map(|v| v as f32).collect();
        let h = Histogram::of(&ct, 256);
        assert_eq!((h.start, h.width, h.counts.len()), (-1024.5, 16.0, 256));
        assert!(h.counts.iter().all(|&c| c == 16));
    }

    #[test]
    fn a_constant_image_has_one_full_bin() {
        for value in [3.0, 0.25] {
            let h = Histogram::of(&[value; 5], 8);
            assert_eq!((h.min, h.max), (value, value));
            assert_eq!(h.counts, vec![5]);
            assert_eq!(h.bin_of(value as f64), Some(0));
            assert_eq!(h.count_between(value as f64 - 1.0, value as f64 + 1.0), 5.0);
        }
    }

    #[test]
    fn no_finite_value_gives_an_empty_histogram() {
        let h = Histogram::of(&[f32::NAN, f32::NEG_INFINITY], 3);
        assert_eq!(h.total(), 0);
    }

    #[test]
    fn counts_between_two_values_share_the_bins_they_cut() {
        let h = Histogram::of(&[0.0, 1.0, 2.0, 3.0, 4.0], 8);
        assert_eq!(h.counts, vec![1, 1, 1, 1, 1]);
        assert!((h.count_between(-0.5, 4.5) - 5.0).abs() < 1e-9);
        assert!((h.count_between(0.5, 1.5) - 1.0).abs() < 1e-9);
        assert!((h.count_between(3.0, 9.0) - 1.5).abs() < 1e-9);
        assert!((h.count_between(f64::NEG_INFINITY, 0.0) - 0.5).abs() < 1e-9);
    }
}
