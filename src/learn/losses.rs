//! Training losses on `[b, c, k, j, i]` tensors, each a one-element tensor to minimise: image
//! similarity (MSE, global and local NCC), label overlap (soft Dice), and the regularisers
//! (diffusion, folding penalty). Each is written as its definition so autodiff gives its gradient.

use crate::eval::non_diffeomorphic::{CubeShape, TETRAHEDRA, corner_offset};
use burn::tensor::module::conv3d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, TensorData, activation::relu};

/// Keeps variances away from zero in flat regions, where correlation is undefined.
pub(super) const VARIANCE_FLOOR: f32 = 1e-5;

/// Mean squared difference.
pub fn mse(a: Tensor<5>, b: Tensor<5>) -> Tensor<1> {
    (a - b).square().mean()
}

/// `1 − r`, with `r` the Pearson correlation of all voxels (macJNet's `1 − CorrCoef`).
pub fn global_ncc(a: Tensor<5>, b: Tensor<5>) -> Tensor<1> {
    let a = a.flatten::<1>(0, 4);
    let b = b.flatten::<1>(0, 4);
    let a = a.clone() - a.mean();
    let b = b.clone() - b.mean();
    let cov = (a.clone() * b.clone()).mean();
    let var = a.square().mean() * b.square().mean();
    (cov / var.add_scalar(VARIANCE_FLOOR).sqrt())
        .neg()
        .add_scalar(1.0)
}

/// `1 − mean cc²`, with `cc` the correlation in a cubic window of `window` voxels around each
/// voxel (VoxelMorph's local NCC; windows are cut at the border as by zero padding).
pub fn local_ncc(a: Tensor<5>, b: Tensor<5>, window: usize) -> Tensor<1> {
    let [batch, ..] = a.dims();
    let count = window.pow(3) as f32;
    let stacked = Tensor::cat(
        vec![
            a.clone(),
            b.clone(),
            a.clone().square(),
            b.clone().square(),
            a * b,
        ],
        0,
    );
    let sums = box_sum(stacked, window);
    let part = |n: usize| sums.clone().narrow(0, n * batch, batch);
    let (sa, sb, saa, sbb, sab) = (part(0), part(1), part(2), part(3), part(4));
    let cross = sab - sa.clone() * sb.clone() / count;
    let var_a = saa - sa.square() / count;
    let var_b = sbb - sb.square() / count;
    let cc = cross.square() / (var_a * var_b).add_scalar(VARIANCE_FLOOR);
    cc.mean().neg().add_scalar(1.0)
}

/// Sums over a `window`³ box around each voxel (zeros beyond the border), as three 1D passes.
pub(super) fn box_sum(x: Tensor<5>, window: usize) -> Tensor<5> {
    let [b, c, d, h, w] = x.dims();
    let x = x.reshape([b * c, 1, d, h, w]);
    let device = x.device();
    let half = window / 2;
    let mut out = x;
    for axis in 0..3 {
        let mut kernel = [1usize; 3];
        kernel[axis] = window;
        let mut padding = [0usize; 3];
        padding[axis] = half;
        let weight = Tensor::<5>::ones([1, 1, kernel[0], kernel[1], kernel[2]], &device);
        out = conv3d(
            out,
            weight,
            None,
            ConvOptions::new([1, 1, 1], padding, [1, 1, 1], 1),
        );
    }
    out.reshape([b, c, d, h, w])
}

/// `1 − mean Dice` over the channels of two soft label maps (one channel per structure,
/// background left out): the weak supervision of macJNet.
pub fn soft_dice(a: Tensor<5>, b: Tensor<5>) -> Tensor<1> {
    let [batch, channels, d, h, w] = a.dims();
    let a = a.reshape([batch, channels, d * h * w]);
    let b = b.reshape([batch, channels, d * h * w]);
    let overlap = (a.clone() * b.clone()).sum_dim(2);
    let total = a.sum_dim(2) + b.sum_dim(2);
    let dice = overlap.mul_scalar(2.0) / total.add_scalar(1e-5);
    dice.mean().neg().add_scalar(1.0)
}

/// Mean squared forward difference of a displacement (or velocity) along each axis: the
/// diffusion regulariser.
pub fn diffusion(disp_vox: Tensor<5>) -> Tensor<1> {
    let [b, c, d, h, w] = disp_vox.dims();
    let di = disp_vox.clone().slice([0..b, 0..c, 0..d, 0..h, 1..w])
        - disp_vox.clone().slice([0..b, 0..c, 0..d, 0..h, 0..w - 1]);
    let dj = disp_vox.clone().slice([0..b, 0..c, 0..d, 1..h, 0..w])
        - disp_vox.clone().slice([0..b, 0..c, 0..d, 0..h - 1, 0..w]);
    let dk = disp_vox.clone().slice([0..b, 0..c, 1..d, 0..h, 0..w])
        - disp_vox.slice([0..b, 0..c, 0..d - 1, 0..h, 0..w]);
    (di.square().mean() + dj.square().mean() + dk.square().mean()).div_scalar(3.0)
}

/// The folded share of the cubes between voxel centres, averaged over the cubes: the NDV's
/// tetrahedra turned inside out (`eval::non_diffeomorphic`, and the iterative stage's penalty),
/// zero for a map without folds, including those a det J by differences misses. A share does not
/// change under the grid's linear map, so voxel units give the world's. Ten tetrahedra cost about
/// ten times one: on lavapipe at the 4 mm training grid, timed in one run, 0.44 s and 1.39 s with
/// the backward pass, where the forward-difference det J it replaced (one corner tetrahedron)
/// took 0.07 and 0.16 s; training leaves it off unless `folding_weight` is set.
pub fn folding(disp_vox: Tensor<5>) -> Tensor<1> {
    let [b, _, d, h, w] = disp_vox.dims();
    let device = disp_vox.device();
    // Corner c of every cube, mapped, relative to the cube's first corner unmapped (channel r: the
    // displacement along voxel axis r, i first).
    let corner = |c: usize| {
        let [oi, oj, ok] = corner_offset(c);
        let offset = TensorData::new(vec![oi as f32, oj as f32, ok as f32], [1, 3, 1, 1, 1]);
        disp_vox
            .clone()
            .slice([0..b, 0..3, ok..d - 1 + ok, oj..h - 1 + oj, oi..w - 1 + oi])
            + Tensor::<5>::from_data(offset, &device)
    };
    let p: Vec<Tensor<5>> = (0..8).map(corner).collect();
    let voxel_cube = CubeShape::new(&[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
    let channel = |t: &Tensor<5>, r: usize| t.clone().narrow(1, r, 1);
    let folded = TETRAHEDRA
        .iter()
        .zip(voxel_cube.orientation)
        .map(|(t, s)| {
            let [eb, ec, ed] = [t[1], t[2], t[3]].map(|c| p[c].clone() - p[t[0]].clone());
            let cross = |r: usize| {
                let (r1, r2) = ((r + 1) % 3, (r + 2) % 3);
                channel(&ec, r1) * channel(&ed, r2) - channel(&ec, r2) * channel(&ed, r1)
            };
            let volume6 = (0..3)
                .map(|r| channel(&eb, r) * cross(r))
                .reduce(|a, b| a + b)
                .expect("three channels");
            relu(volume6.mul_scalar(-s as f32))
        })
        .reduce(|a, b| a + b)
        .expect("ten tetrahedra");
    folded.mean().div_scalar(12.0)
}
