//! Intensity histograms of scalar images: what a window is set against.

/// The most levels [`level_step`] looks for a lattice among.
const MAX_LEVELS: f64 = 65_536.0;

/// Counts of values in equal bins from `start`, each `width` wide. Images of discrete levels (CT
/// in HU, most MR, 8-bit data stored as floats in 0..1) get bins of a whole number of levels
/// centred on them ([`level_step`]), so that no bin falls between two levels and shows as a false
/// gap.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// The smallest and largest finite value.
    pub min: f32,
    pub max: f32,
    pub start: f64,
    pub width: f64,
    pub counts: Vec<u64>,
    /// The step between the values' levels ([`level_step`]), `None` for continuous values.
    pub step: Option<f64>,
}

/// Bins of whole levels over `lo..=hi` (levels `step` apart), at most `bins` of them: the first
/// bin's start, each bin's width, and how many there are.
pub fn level_bins(lo: f64, hi: f64, step: f64, bins: usize) -> (f64, f64, usize) {
    let levels = ((hi - lo) / step).round() + 1.0;
    let per_bin = (levels / bins.max(1) as f64).ceil();
    (
        lo - step / 2.0,
        per_bin * step,
        (levels / per_bin).ceil() as usize,
    )
}

/// The step between an image's levels when all its finite values lie on one lattice
/// `min + k · step` of at most 65 536 levels: 1 for whole numbers, 1/255 for 8-bit data scaled to
/// 0..1. `None` for continuous values (or none finite).
pub fn level_step(values: &[f32]) -> Option<f64> {
    let finite = || values.iter().copied().filter(|v| v.is_finite());
    let lo = finite().fold(f32::INFINITY, f32::min) as f64;
    if lo.is_infinite() {
        return None;
    }
    if finite().all(|v| v.fract() == 0.0) {
        return Some(1.0);
    }
    // The step is the smallest gap between the levels of an even sample; every value must then
    // lie on its lattice, which a sample missing some levels fails safely.
    let stride = (values.len() / 200_000).max(1);
    let mut sample: Vec<f32> = finite().step_by(stride).collect();
    sample.sort_by(f32::total_cmp);
    sample.dedup();
    if sample.len() as f64 > MAX_LEVELS {
        return None;
    }
    let step = sample
        .windows(2)
        .map(|w| (w[1] - w[0]) as f64)
        .fold(f64::INFINITY, f64::min);
    if !step.is_finite() {
        return None;
    }
    // A gap between two large f32 values is rounded: the whole range over the level count is not.
    let hi = sample[sample.len() - 1] as f64;
    let step = (hi - lo) / ((hi - lo) / step).round();
    let on_lattice = |v: f32| {
        let k = (v as f64 - lo) / step;
        k <= MAX_LEVELS && (k - k.round()).abs() <= 1e-3
    };
    finite().all(on_lattice).then_some(step)
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
                step: None,
            };
        }
        let (lo, hi) = (min as f64, max as f64);
        let step = level_step(values);
        let (start, width, n) = match step {
            Some(step) => level_bins(lo, hi, step, bins),
            None if hi > lo => (lo, (hi - lo) / bins as f64, bins),
            None => (lo - 0.5, 1.0, 1),
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
            step,
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
                2.41421,
                2.5,
                9.987654,
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
    fn levels_stored_as_floats_fill_whole_bins_too() {
        // 8-bit data scaled to 0..1 (as the brain pair's T1s are), every level once but 7.
        let levels: Vec<f32> = (0..=255)
            .filter(|&k| k != 7)
            .map(|k| k as f32 / 255.0)
            .collect();
        let step = level_step(&levels).unwrap();
        assert!((step - 1.0 / 255.0).abs() < 1e-6, "{step}");
        let h = Histogram::of(&levels, 256);
        assert_eq!(h.counts.len(), 256);
        assert!((h.width - 1.0 / 255.0).abs() < 1e-6);
        let empty: Vec<usize> = (0..256).filter(|&i| h.counts[i] == 0).collect();
        assert_eq!(empty, vec![7]);
        // Over 64 bins: four levels a bin.
        let h = Histogram::of(&levels, 64);
        assert_eq!(h.counts.len(), 64);
        assert_eq!(h.counts[1], 3);
        assert!(h.counts.iter().enumerate().all(|(i, &c)| i == 1 || c == 4));
        // Values off any lattice are continuous; hundredths are levels.
        assert_eq!(level_step(&[0.0, 0.1, 0.25, 1.0 / 3.0]), None);
        let hundredths = level_step(&[0.0, 2.4, 9.99, 10.0]).unwrap();
        assert!((hundredths - 0.01).abs() < 1e-9, "{hundredths}");
        assert_eq!(level_step(&[2.0, -7.0, f32::NAN]), Some(1.0));
        assert_eq!(level_step(&[f32::NAN]), None);
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
