//! A correlation layer: for every voxel, the local correlation of the fixed image with the moving
//! one shifted by each whole-voxel offset within a radius (a cost volume, as in PWC-Net, PDD-Net
//! and ConvexAdam), reduced by a soft arg-max to the offset where they match best.
//!
//! A U-Net given only the two images has to discover matching itself, which VoxelMorph does over
//! tens of thousands of iterations. In the few hundred that fit in minutes on a CPU, the brain
//! example's network learned nothing that helped its unseen pair (its Dice stayed at or below the
//! affine's); reading this estimate, the same network's validation loss falls within a hundred
//! iterations and the unseen pair's Dice rises above the affine's. The layer has no weights and
//! no gradient: it is a function of the images the level sees, like the image pyramid.

use super::losses::{VARIANCE_FLOOR, box_sum};
use burn::tensor::activation::softmax;
use burn::tensor::ops::PadMode;
use burn::tensor::{Tensor, TensorData, s};

/// Sharpness of the soft arg-max over correlations in [-1, 1]: at 20 a correlation higher by
/// 0.1 weighs e² ≈ 7 times as much.
pub const SHARPNESS: f32 = 20.0;

/// Values per tensor the cost volume is computed in: lavapipe refuses storage buffers over
/// 128 MiB, which the cross sums of every offset at once exceed on larger lattices (125 offsets
/// on 96×128×96 voxels: 590 MiB).
const CHUNK_VALUES: usize = 1 << 24;

/// `[b, 3, k, j, i]`: for each voxel of `fixed` (`[b, 1, k, j, i]`), the offset in voxels, along
/// `i`, `j` and `k` and within ±`radius`, at which `moving` correlates best with it over a
/// `window`³ box, as a probability-weighted mean of the offsets: a displacement in the convention
/// of the warps (`moving` sampled at `x + d` matches `fixed` at `x`).
pub fn matching_estimate(
    fixed: Tensor<5>,
    moving: Tensor<5>,
    radius: usize,
    window: usize,
) -> Tensor<5> {
    let fixed = fixed.detach();
    let moving = moving.detach();
    let [b, _, d, h, w] = fixed.dims();
    let device = fixed.device();
    let offsets = offsets(radius);
    // Beyond the lattice the fixed image is zero and the moving one keeps its edge values, so
    // the moving image's window sums at every offset are slices of one sum over it padded by
    // the search radius and the window: only the cross term is summed per offset.
    let reach = radius + window / 2;
    let count = window.pow(3) as f32;
    let (sum_f, sum_ff) = window_sums(fixed.clone(), window);
    let var_f = (sum_ff - sum_f.clone().square() / count).clamp_min(0.0);
    let padded = moving.pad([(reach, reach); 3], PadMode::Edge);
    let (moving_sum, moving_sum_sq) = window_sums(padded.clone(), window);
    let at = |o: i32| (reach as i32 + o) as usize;
    let shifted = |t: &Tensor<5>, [i, j, k]: [i32; 3]| {
        t.clone().slice(s![
            ..,
            ..,
            at(k)..at(k) + d,
            at(j)..at(j) + h,
            at(i)..at(i) + w
        ])
    };
    let per_chunk = (CHUNK_VALUES / (b * d * h * w)).max(1);
    let mut correlations = Vec::with_capacity(offsets.len());
    for chunk in offsets.chunks(per_chunk) {
        let c = chunk.len();
        let cat = |t: &Tensor<5>| Tensor::cat(chunk.iter().map(|&o| shifted(t, o)).collect(), 1);
        let (sum_m, sum_mm) = (cat(&moving_sum), cat(&moving_sum_sq));
        let sum_fm = box_sum(fixed.clone().expand([b, c, d, h, w]) * cat(&padded), window);
        let cross = sum_fm - sum_f.clone().expand([b, c, d, h, w]) * sum_m.clone() / count;
        // Rounding leaves a flat window's variance a hair below zero.
        let var_m = (sum_mm - sum_m.square() / count).clamp_min(0.0);
        let var = var_f.clone().expand([b, c, d, h, w]) * var_m;
        correlations.push(cross / var.add_scalar(VARIANCE_FLOOR).sqrt());
    }
    let n = offsets.len();
    let weights =
        softmax(Tensor::cat(correlations, 1).mul_scalar(SHARPNESS), 1).reshape([b, n, d * h * w]);
    // `[b, 3, n]`: each offset's component along each axis.
    let table = Tensor::<3>::from_data(
        TensorData::new(
            (0..3)
                .flat_map(|a| offsets.iter().map(move |o| o[a] as f32))
                .collect::<Vec<_>>(),
            [1, 3, n],
        ),
        &device,
    )
    .expand([b, 3, n]);
    table.matmul(weights).reshape([b, 3, d, h, w])
}

/// Sums of `x` (`[b, 1, k, j, i]`) and of its square over a `window`³ box around each voxel.
fn window_sums(x: Tensor<5>, window: usize) -> (Tensor<5>, Tensor<5>) {
    let sums = box_sum(Tensor::cat(vec![x.clone(), x.square()], 1), window);
    (sums.clone().narrow(1, 0, 1), sums.narrow(1, 1, 1))
}

/// Every whole-voxel offset `[i, j, k]` within ±`radius` along each axis.
fn offsets(radius: usize) -> Vec<[i32; 3]> {
    let r = radius as i32;
    let mut all = Vec::with_capacity((2 * radius + 1).pow(3));
    for k in -r..=r {
        for j in -r..=r {
            for i in -r..=r {
                all.push([i, j, k]);
            }
        }
    }
    all
}
