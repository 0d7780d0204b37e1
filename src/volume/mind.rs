//! Modality-independent neighbourhood descriptors on the CPU: MIND-SSC (Heinrich et al. 2013) and
//! macMIND (macJNet: multi-scale, multi-orientation self-similarity with log-polar aggregation).
//! These are the references of the GPU descriptor kernels (`gpu::kernels::mind`) and describe
//! their channels; values are interleaved per voxel (`[voxel][channel]`).

use super::filter::box_sum;
use serde::{Deserialize, Serialize};

/// Which descriptor, with every value the papers leave open exposed.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Descriptor {
    /// MIND-SSC: the 12 pairs of 6-neighbours at `distance` voxels that are √2·distance apart,
    /// patch distances by `(2 radius + 1)³` box sums, `exp(−(D − min D) / mean(D − min D))`.
    MindSsc { radius: u32, distance: u32 },
    /// macMIND: 18 connections (centre to each 6-neighbour and the 12 neighbour pairs) at two
    /// distances, `exp(−D / mean D)` per scale, mixed `alpha[0]`·small + `alpha[1]`·large, then
    /// averaged over log-polar bins (azimuth × elevation × radius) of a `(2 window + 1)³` window.
    MacMind {
        radius: u32,
        distance: u32,
        second_distance: u32,
        alpha: [f32; 2],
        window: u32,
        azimuth_bins: u32,
        elevation_bins: u32,
        radial_bins: u32,
    },
}

impl Descriptor {
    /// MIND-SSC as ConvexAdam and deeds use it: 3³ patches, neighbours 2 voxels away.
    pub const MIND_SSC: Descriptor = Descriptor::MindSsc {
        radius: 1,
        distance: 2,
    };

    /// macMIND with the paper's R1 = R2 = 5, L = 2, α = 0.7 / 0.3; the second distance (2L) and
    /// the 3D bins (4 azimuths × 2 elevations × 1 radius) are this workbench's choices, the paper
    /// giving neither.
    pub const MAC_MIND: Descriptor = Descriptor::MacMind {
        radius: 2,
        distance: 2,
        second_distance: 4,
        alpha: [0.7, 0.3],
        window: 2,
        azimuth_bins: 4,
        elevation_bins: 2,
        radial_bins: 1,
    };

    /// The connections of one scale, as pairs of voxel offsets `(a, b)`: D = Σ_box (I(x+a) − I(x+b))².
    pub fn pairs(&self, distance: i32) -> Vec<([i32; 3], [i32; 3])> {
        let d = distance;
        let six = [
            [d, 0, 0],
            [-d, 0, 0],
            [0, d, 0],
            [0, -d, 0],
            [0, 0, d],
            [0, 0, -d],
        ];
        let mut pairs = Vec::new();
        if matches!(self, Descriptor::MacMind { .. }) {
            pairs.extend(six.iter().map(|&n| ([0; 3], n)));
        }
        for a in 0..6 {
            for b in a + 1..6 {
                // Opposite neighbours (0–1, 2–3, 4–5) are not a connection.
                if a / 2 != b / 2 {
                    pairs.push((six[a], six[b]));
                }
            }
        }
        pairs
    }

    /// The distances of the scales.
    pub fn distances(&self) -> Vec<i32> {
        match *self {
            Descriptor::MindSsc { distance, .. } => vec![distance as i32],
            Descriptor::MacMind {
                distance,
                second_distance,
                ..
            } => vec![distance as i32, second_distance as i32],
        }
    }

    pub fn box_radius(&self) -> u32 {
        match *self {
            Descriptor::MindSsc { radius, .. } | Descriptor::MacMind { radius, .. } => radius,
        }
    }

    /// Channels before aggregation (12 or 18).
    pub fn connections(&self) -> usize {
        self.pairs(1).len()
    }

    /// The log-polar bins: for each, the window offsets it averages (empty bins dropped). MIND-SSC
    /// has one bin, the centre voxel.
    pub fn bins(&self) -> Vec<Vec<[i32; 3]>> {
        let Descriptor::MacMind {
            window,
            azimuth_bins,
            elevation_bins,
            radial_bins,
            ..
        } = *self
        else {
            return vec![vec![[0; 3]]];
        };
        let (na, ne, nr) = (
            azimuth_bins.max(1) as usize,
            elevation_bins.max(1) as usize,
            radial_bins.max(1) as usize,
        );
        let w = window as i32;
        let r_max = (3.0 * (w * w) as f64).sqrt().max(1.0);
        let mut bins = vec![Vec::new(); na * ne * nr];
        for z in -w..=w {
            for y in -w..=w {
                for x in -w..=w {
                    let r = ((x * x + y * y + z * z) as f64).sqrt();
                    let (azimuth, elevation, radial) = if r == 0.0 {
                        (None, 0, 0)
                    } else {
                        let phi = (y as f64).atan2(x as f64) + std::f64::consts::PI;
                        let theta = (z as f64 / r).asin() + std::f64::consts::FRAC_PI_2;
                        let a = ((phi / std::f64::consts::TAU * na as f64) as usize) % na;
                        let e = ((theta / std::f64::consts::PI * ne as f64) as usize).min(ne - 1);
                        // Radii log-spaced from 1 to the window's corner.
                        let q = if r_max > 1.0 {
                            r.ln() / r_max.ln()
                        } else {
                            0.0
                        };
                        let rb = ((q * nr as f64) as usize).min(nr - 1);
                        (Some(a), e, rb)
                    };
                    match azimuth {
                        // The centre belongs to every innermost bin.
                        None => {
                            for a in 0..na {
                                for e in 0..ne {
                                    bins[(e * na + a) * nr].push([0; 3]);
                                }
                            }
                        }
                        Some(a) => bins[(elevation * na + a) * nr + radial].push([x, y, z]),
                    }
                }
            }
        }
        bins.retain(|b| !b.is_empty());
        bins
    }

    /// Channels per voxel of the finished descriptor.
    pub fn channels(&self) -> usize {
        self.connections() * self.bins().len()
    }
}

fn clamped(dims: [usize; 3], v: [usize; 3], o: [i32; 3]) -> usize {
    let c: [usize; 3] =
        std::array::from_fn(|a| (v[a] as i64 + o[a] as i64).clamp(0, dims[a] as i64 - 1) as usize);
    c[0] + dims[0] * (c[1] + dims[1] * c[2])
}

fn voxel(dims: [usize; 3], i: usize) -> [usize; 3] {
    [
        i % dims[0],
        (i / dims[0]) % dims[1],
        i / (dims[0] * dims[1]),
    ]
}

/// Smallest mean patch distance a voxel may have: a flat region (all distances zero) gets one
/// for every channel instead of 0 / 0.
pub const MIN_VARIANCE: f32 = 1e-6;

/// The descriptor of `image` (on `dims`), interleaved `[voxel][channel]`: box sums with zero
/// edges, shifted samples clamped to the volume.
pub fn descriptor(descriptor: &Descriptor, image: &[f32], dims: [usize; 3]) -> Vec<f32> {
    let n = image.len();
    let p = descriptor.connections();
    let alphas = match *descriptor {
        Descriptor::MindSsc { .. } => vec![1.0],
        Descriptor::MacMind { alpha, .. } => alpha.to_vec(),
    };
    let subtract_min = matches!(descriptor, Descriptor::MindSsc { .. });
    let mut mixed = vec![0f32; n * p];
    for (scale, &distance) in descriptor.distances().iter().enumerate() {
        let distances: Vec<Vec<f32>> = descriptor
            .pairs(distance)
            .iter()
            .map(|&(a, b)| {
                let sq: Vec<f32> = (0..n)
                    .map(|i| {
                        let v = voxel(dims, i);
                        let d = image[clamped(dims, v, a)] - image[clamped(dims, v, b)];
                        d * d
                    })
                    .collect();
                box_sum(&sq, dims, descriptor.box_radius() as usize)
            })
            .collect();
        for i in 0..n {
            let floor = if subtract_min {
                distances.iter().map(|d| d[i]).fold(f32::INFINITY, f32::min)
            } else {
                0.0
            };
            let mean = distances.iter().map(|d| d[i] - floor).sum::<f32>() / p as f32;
            let variance = mean.max(MIN_VARIANCE);
            for (c, d) in distances.iter().enumerate() {
                mixed[i * p + c] += alphas[scale] * (-(d[i] - floor) / variance).exp();
            }
        }
    }
    let bins = descriptor.bins();
    if matches!(descriptor, Descriptor::MindSsc { .. }) {
        return mixed;
    }
    let channels = p * bins.len();
    let mut out = vec![0f32; n * channels];
    for i in 0..n {
        let v = voxel(dims, i);
        for (b, offsets) in bins.iter().enumerate() {
            for &o in offsets {
                let j = clamped(dims, v, o);
                for c in 0..p {
                    out[i * channels + b * p + c] += mixed[j * p + c] / offsets.len() as f32;
                }
            }
        }
    }
    out
}

/// The channel mean per voxel: the descriptor as one image to look at (macJNet's Fig. 10).
pub fn channel_mean(values: &[f32], channels: usize) -> Vec<f32> {
    values
        .chunks(channels)
        .map(|c| c.iter().sum::<f32>() / channels as f32)
        .collect()
}
