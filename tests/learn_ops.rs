//! The learning module's spatial operations and losses against plain f64 references written here,
//! gradients included: burn's autodiff gradient must match central differences of the reference.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::{Rng, gpu};
use warpbench::eval::non_diffeomorphic::folded_cubes;
use warpbench::learn::correlation::{SHARPNESS, matching_estimate};
use warpbench::learn::losses;
use warpbench::learn::mind::mind_loss;
use warpbench::learn::spatial::{Lattice, resize_field, resize_linear};
use warpbench::learn::tensor::{scalar_value, tensor_values};
use warpbench::volume::mind::{self, Descriptor};
use warpbench::volume::{Grid, VectorField};

const DIMS: [usize; 3] = [5, 6, 7];

fn device() -> Device {
    gpu().burn_device().unwrap().autodiff()
}

fn voxels(dims: [usize; 3]) -> usize {
    dims.iter().product()
}

fn random(len: usize, lo: f64, hi: f64, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.range(lo, hi)).collect()
}

fn tensor(values: &[f64], channels: usize, dims: [usize; 3], device: &Device) -> Tensor<5> {
    let [d, h, w] = dims;
    let data: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(data, [1, channels, d, h, w]), device)
}

/// A displacement whose samples stay clear of voxel boundaries by more than the difference step,
/// so the piecewise-linear warp is differentiable where it is probed; some samples fall outside.
fn displacement(dims: [usize; 3], seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..3 * voxels(dims))
        .map(|_| {
            let whole = rng.range(-2.0, 2.0).round();
            whole + rng.range(0.1, 0.9)
        })
        .collect()
}

/// Trilinear sample with border clamping, the warp's definition.
fn sample(image: &[f64], dims: [usize; 3], p: [f64; 3]) -> f64 {
    let [d, h, w] = dims;
    let sizes = [w, h, d];
    let mut lo = [0usize; 3];
    let mut hi = [0usize; 3];
    let mut f = [0.0; 3];
    for a in 0..3 {
        let x = p[a].clamp(0.0, (sizes[a] - 1) as f64);
        lo[a] = x.floor() as usize;
        hi[a] = (lo[a] + 1).min(sizes[a] - 1);
        f[a] = x - x.floor();
    }
    let mut acc = 0.0;
    for (k, wk) in [(lo[2], 1.0 - f[2]), (hi[2], f[2])] {
        for (j, wj) in [(lo[1], 1.0 - f[1]), (hi[1], f[1])] {
            for (i, wi) in [(lo[0], 1.0 - f[0]), (hi[0], f[0])] {
                acc += wk * wj * wi * image[i + w * (j + h * k)];
            }
        }
    }
    acc
}

fn ref_warp(image: &[f64], disp: &[f64], dims: [usize; 3]) -> Vec<f64> {
    let [d, h, w] = dims;
    let n = voxels(dims);
    let channels = image.len() / n;
    let mut out = vec![0.0; image.len()];
    for k in 0..d {
        for j in 0..h {
            for i in 0..w {
                let v = i + w * (j + h * k);
                let p = [
                    i as f64 + disp[v],
                    j as f64 + disp[n + v],
                    k as f64 + disp[2 * n + v],
                ];
                for c in 0..channels {
                    out[c * n + v] = sample(&image[c * n..(c + 1) * n], dims, p);
                }
            }
        }
    }
    out
}

/// Compares burn's gradient with central differences of `f` at a spread of elements.
fn check_gradient(name: &str, analytic: &[f32], x: &[f64], f: impl Fn(&[f64]) -> f64) {
    assert_eq!(analytic.len(), x.len(), "{name}: gradient length");
    let h = 1e-5;
    let step = (x.len() / 40).max(1);
    let mut worst = 0.0f64;
    for idx in (0..x.len()).step_by(step) {
        let mut plus = x.to_vec();
        plus[idx] += h;
        let mut minus = x.to_vec();
        minus[idx] -= h;
        let numeric = (f(&plus) - f(&minus)) / (2.0 * h);
        let err = (numeric - f64::from(analytic[idx])).abs() / numeric.abs().max(1.0);
        worst = worst.max(err);
        assert!(
            err < 2e-3,
            "{name}: element {idx}: autodiff {} vs finite difference {numeric}",
            analytic[idx]
        );
    }
    assert!(worst.is_finite(), "{name}");
}

fn values(t: Tensor<5>) -> Vec<f32> {
    tensor_values(t).unwrap()
}

fn assert_close(name: &str, got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    for (n, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (f64::from(*g) - w).abs() <= tol * w.abs().max(1.0),
            "{name}: element {n}: {g} vs reference {w}"
        );
    }
}

#[test]
fn linear_warp_matches_the_reference_with_gradients_to_image_and_displacement() {
    let device = device();
    let n = voxels(DIMS);
    let image = random(2 * n, -1.0, 1.0, 1);
    let disp = displacement(DIMS, 2);
    let weights = random(2 * n, -1.0, 1.0, 3);
    let lattice = Lattice::new(DIMS, &device);

    let image_t = tensor(&image, 2, DIMS, &device).require_grad();
    let disp_t = tensor(&disp, 3, DIMS, &device).require_grad();
    let warped = lattice.warp_linear(image_t.clone(), disp_t.clone());
    assert_close(
        "warp",
        &values(warped.clone()),
        &ref_warp(&image, &disp, DIMS),
        1e-5,
    );

    let loss = (warped * tensor(&weights, 2, DIMS, &device)).sum();
    let grads = loss.backward();
    let objective = |image: &[f64], disp: &[f64]| -> f64 {
        ref_warp(image, disp, DIMS)
            .iter()
            .zip(&weights)
            .map(|(a, b)| a * b)
            .sum()
    };
    check_gradient(
        "d/d image",
        &tensor_values(image_t.grad(&grads).unwrap()).unwrap(),
        &image,
        |x| objective(x, &disp),
    );
    check_gradient(
        "d/d displacement",
        &tensor_values(disp_t.grad(&grads).unwrap()).unwrap(),
        &disp,
        |x| objective(&image, x),
    );
}

#[test]
fn nearest_warp_moves_labels_without_mixing_them() {
    let device = gpu().burn_device().unwrap();
    let n = voxels(DIMS);
    let labels: Vec<f64> = (0..n).map(|v| (v % 5) as f64).collect();
    let disp = displacement(DIMS, 4);
    let lattice = Lattice::new(DIMS, &device);
    let warped = values(lattice.warp_nearest(
        tensor(&labels, 1, DIMS, &device),
        tensor(&disp, 3, DIMS, &device),
    ));
    let [d, h, w] = DIMS;
    for k in 0..d {
        for j in 0..h {
            for i in 0..w {
                let v = i + w * (j + h * k);
                let near = |x: f64, size: usize| x.clamp(0.0, (size - 1) as f64).round() as usize;
                let (si, sj, sk) = (
                    near(i as f64 + disp[v], w),
                    near(j as f64 + disp[n + v], h),
                    near(k as f64 + disp[2 * n + v], d),
                );
                assert_eq!(f64::from(warped[v]), labels[si + w * (sj + h * sk)]);
            }
        }
    }
}

#[test]
fn scaling_and_squaring_matches_the_reference_and_keeps_a_translation() {
    let device = gpu().burn_device().unwrap();
    let n = voxels(DIMS);
    let velocity: Vec<f64> = random(3 * n, -1.5, 1.5, 5);
    let lattice = Lattice::new(DIMS, &device);
    let got = values(lattice.integrate(tensor(&velocity, 3, DIMS, &device), 5));
    let mut disp: Vec<f64> = velocity.iter().map(|v| v / 32.0).collect();
    for _ in 0..5 {
        let moved = ref_warp(&disp, &disp, DIMS);
        disp = disp.iter().zip(&moved).map(|(a, b)| a + b).collect();
    }
    assert_close("exp(v)", &got, &disp, 1e-4);

    let shift: Vec<f64> = (0..3 * n).map(|e| [0.5, -0.25, 0.75][e / n]).collect();
    let got = values(lattice.integrate(tensor(&shift, 3, DIMS, &device), 7));
    assert_close("exp(translation)", &got, &shift, 1e-5);
}

#[test]
fn halving_averages_voxel_blocks_and_fields_rescale_their_vectors() {
    let device = gpu().burn_device().unwrap();
    let dims = [4, 6, 8];
    let image = random(voxels(dims), 0.0, 1.0, 6);
    let half = values(resize_linear(tensor(&image, 1, dims, &device), [2, 3, 4]));
    let [_, h, w] = dims;
    for k in 0..2 {
        for j in 0..3 {
            for i in 0..4 {
                let mut mean = 0.0;
                for (dk, dj, di) in (0..8).map(|b| (b / 4, (b / 2) % 2, b % 2)) {
                    mean += image[(2 * i + di) + w * ((2 * j + dj) + h * (2 * k + dk))] / 8.0;
                }
                let got = f64::from(half[i + 4 * (j + 3 * k)]);
                assert!((got - mean).abs() < 1e-5, "{got} vs {mean}");
            }
        }
    }

    let coarse = [2, 3, 4];
    let field: Vec<f64> = (0..3 * voxels(coarse))
        .map(|e| [1.0, 2.0, -1.0][e / voxels(coarse)])
        .collect();
    let fine = values(resize_field(tensor(&field, 3, coarse, &device), [4, 6, 12]));
    let n = voxels([4, 6, 12]);
    for (c, scale) in [3.0, 2.0, 2.0].into_iter().enumerate() {
        let want = [1.0, 2.0, -1.0][c] * scale;
        assert!(
            fine[c * n..(c + 1) * n]
                .iter()
                .all(|&v| (f64::from(v) - want).abs() < 1e-5)
        );
    }
}

/// A linear map folds nowhere or everywhere: the folding loss is 0 for one that keeps orientation
/// and 1 (every cube's whole volume) for a mirror.
#[test]
fn the_folding_loss_of_a_linear_map_is_none_or_all() {
    let device = gpu().burn_device().unwrap();
    let [d, h, w] = DIMS;
    let n = voxels(DIMS);
    let linear = |a: [[f64; 3]; 3]| {
        let mut disp = vec![0.0; 3 * n];
        for k in 0..d {
            for j in 0..h {
                for i in 0..w {
                    let x = [i as f64, j as f64, k as f64];
                    for r in 0..3 {
                        disp[r * n + i + w * (j + h * k)] = (0..3).map(|c| a[r][c] * x[c]).sum();
                    }
                }
            }
        }
        scalar_value(losses::folding(tensor(&disp, 3, DIMS, &device))).unwrap()
    };
    let kept = linear([[0.1, 0.2, 0.0], [-0.1, 0.3, 0.05], [0.0, 0.1, -0.2]]);
    assert_eq!(kept, 0.0);
    let mirror = linear([[-2.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]);
    assert!((mirror - 1.0).abs() < 1e-5, "{mirror}");
}

/// Local NCC by its definition: window sums cut at the border.
fn ref_local_ncc(a: &[f64], b: &[f64], dims: [usize; 3], window: usize) -> f64 {
    let [d, h, w] = dims;
    let r = (window / 2) as i64;
    let count = window.pow(3) as f64;
    let mut total = 0.0;
    for k in 0..d as i64 {
        for j in 0..h as i64 {
            for i in 0..w as i64 {
                let mut s = [0.0; 5];
                for dk in -r..=r {
                    for dj in -r..=r {
                        for di in -r..=r {
                            let (x, y, z) = (i + di, j + dj, k + dk);
                            if x < 0
                                || y < 0
                                || z < 0
                                || x >= w as i64
                                || y >= h as i64
                                || z >= d as i64
                            {
                                continue;
                            }
                            let v = x as usize + w * (y as usize + h * z as usize);
                            s[0] += a[v];
                            s[1] += b[v];
                            s[2] += a[v] * a[v];
                            s[3] += b[v] * b[v];
                            s[4] += a[v] * b[v];
                        }
                    }
                }
                let cross = s[4] - s[0] * s[1] / count;
                let va = s[2] - s[0] * s[0] / count;
                let vb = s[3] - s[1] * s[1] / count;
                total += cross * cross / (va * vb + 1e-5);
            }
        }
    }
    1.0 - total / voxels(dims) as f64
}

fn ref_global_ncc(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / n;
    let va = a.iter().map(|x| (x - ma).powi(2)).sum::<f64>() / n;
    let vb = b.iter().map(|y| (y - mb).powi(2)).sum::<f64>() / n;
    1.0 - cov / (va * vb + 1e-5).sqrt()
}

fn ref_soft_dice(a: &[f64], b: &[f64], channels: usize) -> f64 {
    let n = a.len() / channels;
    let mut sum = 0.0;
    for c in 0..channels {
        let (sa, sb) = (&a[c * n..(c + 1) * n], &b[c * n..(c + 1) * n]);
        let overlap: f64 = sa.iter().zip(sb).map(|(x, y)| x * y).sum();
        sum += 2.0 * overlap / (sa.iter().sum::<f64>() + sb.iter().sum::<f64>() + 1e-5);
    }
    1.0 - sum / channels as f64
}

fn ref_diffusion(u: &[f64], dims: [usize; 3]) -> f64 {
    let [d, h, w] = dims;
    let n = voxels(dims);
    let mut sums = [0.0; 3];
    for c in 0..3 {
        for k in 0..d {
            for j in 0..h {
                for i in 0..w {
                    let v = c * n + i + w * (j + h * k);
                    if i + 1 < w {
                        sums[0] += (u[v + 1] - u[v]).powi(2);
                    }
                    if j + 1 < h {
                        sums[1] += (u[v + w] - u[v]).powi(2);
                    }
                    if k + 1 < d {
                        sums[2] += (u[v + w * h] - u[v]).powi(2);
                    }
                }
            }
        }
    }
    let counts = [
        3 * d * h * (w - 1),
        3 * d * (h - 1) * w,
        3 * (d - 1) * h * w,
    ];
    (0..3).map(|a| sums[a] / counts[a] as f64).sum::<f64>() / 3.0
}

/// The mean folded share of the cubes, by the engine's NDV map on a unit grid.
fn ref_folding(u: &[f64], dims: [usize; 3]) -> f64 {
    let [d, h, w] = dims;
    let n = voxels(dims);
    let grid = Grid::axis_aligned([w, h, d], [1.0; 3], [0.0; 3]).unwrap();
    let field = VectorField::new(
        grid,
        (0..n)
            .map(|v| std::array::from_fn(|r| u[r * n + v] as f32))
            .collect(),
    )
    .unwrap();
    let shares: f64 = folded_cubes(&field)
        .0
        .data()
        .iter()
        .map(|&s| s as f64)
        .sum();
    shares / ((d - 1) * (h - 1) * (w - 1)) as f64
}

/// Checks one loss of (`a`, `b`): its value against the reference and its gradient to `a`.
fn check_loss(
    name: &str,
    channels: usize,
    (a, b): (&[f64], &[f64]),
    loss: impl Fn(Tensor<5>, Tensor<5>) -> Tensor<1>,
    reference: impl Fn(&[f64], &[f64]) -> f64,
) {
    let device = device();
    let a_t = tensor(a, channels, DIMS, &device).require_grad();
    let value = loss(a_t.clone(), tensor(b, channels, DIMS, &device));
    let grads = value.backward();
    let got = scalar_value(value).unwrap();
    let want = reference(a, b);
    assert!(
        (got - want).abs() <= 1e-4 * want.abs().max(1.0),
        "{name}: {got} vs reference {want}"
    );
    check_gradient(
        name,
        &tensor_values(a_t.grad(&grads).unwrap()).unwrap(),
        a,
        |x| reference(x, b),
    );
}

#[test]
fn similarity_losses_match_their_definitions_with_gradients() {
    let n = voxels(DIMS);
    let a = random(n, 0.0, 1.0, 7);
    let b: Vec<f64> = a
        .iter()
        .zip(random(n, -0.3, 0.3, 8))
        .map(|(x, e)| 0.5 * x + e)
        .collect();
    check_loss("mse", 1, (&a, &b), losses::mse, |a, b| {
        a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / a.len() as f64
    });
    check_loss(
        "global ncc",
        1,
        (&a, &b),
        losses::global_ncc,
        ref_global_ncc,
    );
    check_loss(
        "local ncc",
        1,
        (&a, &b),
        |a, b| losses::local_ncc(a, b, 3),
        |a, b| ref_local_ncc(a, b, DIMS, 3),
    );
    let la = random(3 * n, 0.0, 1.0, 9);
    let lb = random(3 * n, 0.0, 1.0, 10);
    check_loss("soft dice", 3, (&la, &lb), losses::soft_dice, |a, b| {
        ref_soft_dice(a, b, 3)
    });
}

#[test]
fn regularisers_match_their_definitions_with_gradients() {
    let n = voxels(DIMS);
    let smooth = random(3 * n, -0.4, 0.4, 11);
    check_loss(
        "diffusion",
        3,
        (&smooth, &smooth),
        |u, _| losses::diffusion(u),
        |u, _| ref_diffusion(u, DIMS),
    );
    // Large random displacements fold in many places, so the penalty and its gradient are alive.
    let folding = random(3 * n, -1.5, 1.5, 12);
    check_loss(
        "folding",
        3,
        (&folding, &folding),
        |u, _| losses::folding(u),
        |u, _| ref_folding(u, DIMS),
    );
    assert!(
        ref_folding(&folding, DIMS) > 0.01,
        "the test field must fold"
    );
}

/// 3×3×3 convolution with zero padding by its definition; weights `[out][in][kd][kh][kw]`.
fn ref_conv(
    x: &[f64],
    weight: &[f64],
    (inputs, outputs, stride): (usize, usize, usize),
    dims: [usize; 3],
) -> Vec<f64> {
    let [d, h, w] = dims;
    let out = dims.map(|n| (n - 1) / stride + 1);
    let n_out = out.iter().product::<usize>();
    let mut y = vec![0.0; outputs * n_out];
    for o in 0..outputs {
        for z in 0..out[0] {
            for yy in 0..out[1] {
                for xx in 0..out[2] {
                    let mut acc = 0.0;
                    for c in 0..inputs {
                        for kd in 0..3 {
                            for kh in 0..3 {
                                for kw in 0..3 {
                                    let (sz, sy, sx) = (
                                        (z * stride + kd) as i64 - 1,
                                        (yy * stride + kh) as i64 - 1,
                                        (xx * stride + kw) as i64 - 1,
                                    );
                                    if sz < 0
                                        || sy < 0
                                        || sx < 0
                                        || sz >= d as i64
                                        || sy >= h as i64
                                        || sx >= w as i64
                                    {
                                        continue;
                                    }
                                    let v = c * d * h * w
                                        + sx as usize
                                        + w * (sy as usize + h * sz as usize);
                                    let k = (((o * inputs + c) * 3 + kd) * 3 + kh) * 3 + kw;
                                    acc += weight[k] * x[v];
                                }
                            }
                        }
                    }
                    y[o * n_out + xx + out[2] * (yy + out[1] * z)] = acc;
                }
            }
        }
    }
    y
}

#[test]
fn patch_convolution_matches_the_reference_with_gradients() {
    use burn::module::{Module, ModuleVisitor, Param};
    use warpbench::learn::conv::Conv3x3;
    struct Weights(Vec<Vec<f32>>);
    impl ModuleVisitor for Weights {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(tensor_values(param.val()).unwrap());
        }
    }
    let device = device();
    for (inputs, outputs, stride) in [(2, 3, 1), (3, 2, 2)] {
        let conv = Conv3x3::new(inputs, outputs, stride, &device);
        let mut weights = Weights(Vec::new());
        conv.visit(&mut weights);
        let weight: Vec<f64> = weights.0[0].iter().map(|&v| f64::from(v)).collect();
        let n = voxels(DIMS);
        let x = random(inputs * n, -1.0, 1.0, 20 + stride as u64);
        let x_t = tensor(&x, inputs, DIMS, &device).require_grad();
        let y = conv.forward(x_t.clone());
        let want = ref_conv(&x, &weight, (inputs, outputs, stride), DIMS);
        assert_close("conv", &tensor_values(y.clone()).unwrap(), &want, 1e-5);
        let r = random(want.len(), -1.0, 1.0, 30);
        let out = DIMS.map(|v| (v - 1) / stride + 1);
        let loss = (y * tensor(&r, outputs, out, &device)).sum();
        let grads = loss.backward();
        let objective = |x: &[f64], weight: &[f64]| -> f64 {
            ref_conv(x, weight, (inputs, outputs, stride), DIMS)
                .iter()
                .zip(&r)
                .map(|(a, b)| a * b)
                .sum()
        };
        check_gradient(
            "conv d/d input",
            &tensor_values(x_t.grad(&grads).unwrap()).unwrap(),
            &x,
            |x| objective(x, &weight),
        );
        let mut grad_weights = Vec::new();
        struct Grads<'a>(&'a burn::tensor::Gradients, &'a mut Vec<Vec<f32>>);
        impl ModuleVisitor for Grads<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                self.1
                    .push(tensor_values(param.val().grad(self.0).unwrap()).unwrap());
            }
        }
        conv.visit(&mut Grads(&grads, &mut grad_weights));
        check_gradient("conv d/d weight", &grad_weights[0], &weight, |w| {
            objective(&x, w)
        });
    }
}

#[test]
fn resizing_has_the_gradient_of_its_interpolation() {
    let device = device();
    let coarse = [3, 4, 5];
    let fine = [5, 7, 9];
    let x = random(3 * voxels(coarse), -1.0, 1.0, 40);
    let r = random(3 * voxels(fine), -1.0, 1.0, 41);
    let x_t = tensor(&x, 3, coarse, &device).require_grad();
    let loss = (resize_field(x_t.clone(), fine) * tensor(&r, 3, fine, &device)).sum();
    let grads = loss.backward();
    // The reference: resizing is linear, so its value at each element is read off unit inputs.
    let value = |x: &[f64]| -> f64 {
        let out = values(resize_field(
            tensor(x, 3, coarse, &gpu().burn_device().unwrap()),
            fine,
        ));
        out.iter().zip(&r).map(|(a, b)| f64::from(*a) * b).sum()
    };
    let analytic = tensor_values(x_t.grad(&grads).unwrap()).unwrap();
    // Each probe is a device round trip; a few spread over the channels suffice.
    for idx in (0..x.len()).step_by(x.len() / 4) {
        let mut unit = vec![0.0; x.len()];
        unit[idx] = 1.0;
        let want = value(&unit);
        assert!(
            (f64::from(analytic[idx]) - want).abs() < 1e-4,
            "element {idx}: {} vs {want}",
            analytic[idx]
        );
    }
}

/// The descriptor of `image` by `volume::mind` (the CPU reference), channel-major like a tensor.
fn ref_mind(image: &[f64], dims: [usize; 3], kind: &Descriptor) -> Vec<f64> {
    let [d, h, w] = dims;
    let image: Vec<f32> = image.iter().map(|&v| v as f32).collect();
    let interleaved = mind::descriptor(kind, &image, [w, h, d]);
    let channels = kind.channels();
    let n = voxels(dims);
    (0..channels * n)
        .map(|x| f64::from(interleaved[(x % n) * channels + x / n]))
        .collect()
}

#[test]
fn mind_descriptors_match_the_cpu_reference_and_the_loss_has_their_gradient() {
    let dims = [6, 7, 8];
    let n = voxels(dims);
    let a = random(n, 0.0, 1.0, 21);
    let b: Vec<f64> = a
        .iter()
        .zip(random(n, -0.2, 0.2, 22))
        .map(|(x, e)| (1.0 - x) + e)
        .collect();
    let device = device();
    for kind in [Descriptor::MAC_MIND, Descriptor::MIND_SSC] {
        let got = values(warpbench::learn::mind::descriptor(
            tensor(&a, 1, dims, &device),
            &kind,
        ));
        assert_close(&format!("{kind:?}"), &got, &ref_mind(&a, dims, &kind), 1e-4);

        // Along a random direction, the autodiff gradient against central differences of the
        // reference loss: a directional sum keeps the f32 reference precise, and the step is
        // small because MIND-SSC's smallest distance switches between channels within larger
        // ones (at h = 1e-2 its difference quotient was 50 % off, at 1e-4 within 0.02 %).
        let loss_of = |x: &[f64]| {
            let (dx, db) = (ref_mind(x, dims, &kind), ref_mind(&b, dims, &kind));
            dx.iter()
                .zip(&db)
                .map(|(p, q)| (p - q).powi(2))
                .sum::<f64>()
                / dx.len() as f64
        };
        let a_t = tensor(&a, 1, dims, &device).require_grad();
        let loss = mind_loss(a_t.clone(), tensor(&b, 1, dims, &device), &kind);
        let want = loss_of(&a);
        let got = scalar_value(loss.clone()).unwrap();
        assert!(
            (got - want).abs() <= 1e-4 * want.max(1e-3),
            "{got} vs {want}"
        );
        let gradient = tensor_values(a_t.grad(&loss.backward()).unwrap()).unwrap();
        let direction = random(n, -1.0, 1.0, 23);
        let h = 1e-4;
        let shifted =
            |s: f64| -> Vec<f64> { a.iter().zip(&direction).map(|(x, v)| x + s * v).collect() };
        let numeric = (loss_of(&shifted(h)) - loss_of(&shifted(-h))) / (2.0 * h);
        let analytic: f64 = gradient
            .iter()
            .zip(&direction)
            .map(|(g, v)| f64::from(*g) * v)
            .sum();
        assert!(
            (analytic - numeric).abs() <= 1e-3 * numeric.abs(),
            "{kind:?}: directional derivative {analytic} vs finite difference {numeric}"
        );
    }
}

/// The correlation layer's definition: local correlation over whole windows of the fixed image
/// (zero beyond the lattice) and the moving one at each offset (edge values beyond it), then the
/// soft arg-max of the offsets.
fn ref_matching_estimate(
    fixed: &[f64],
    moving: &[f64],
    dims: [usize; 3],
    radius: i64,
    window: i64,
) -> Vec<f64> {
    let [d, h, w] = dims.map(|n| n as i64);
    let n = voxels(dims);
    let at = |image: &[f64], i: i64, j: i64, k: i64| image[(i + w * (j + h * k)) as usize];
    let clamp = |x: i64, size: i64| x.clamp(0, size - 1);
    let half = window / 2;
    let count = (window * window * window) as f64;
    let mut out = vec![0.0; 3 * n];
    for k in 0..d {
        for j in 0..h {
            for i in 0..w {
                let mut scored = Vec::new();
                for ok in -radius..=radius {
                    for oj in -radius..=radius {
                        for oi in -radius..=radius {
                            let mut s = [0.0; 5];
                            for (bi, bj, bk) in (0..window.pow(3)).map(|b| {
                                (
                                    b % window - half,
                                    (b / window) % window - half,
                                    b / window / window - half,
                                )
                            }) {
                                let (x, y, z) = (i + bi, j + bj, k + bk);
                                let inside = (0..w).contains(&x)
                                    && (0..h).contains(&y)
                                    && (0..d).contains(&z);
                                let f = if inside { at(fixed, x, y, z) } else { 0.0 };
                                let m = at(
                                    moving,
                                    clamp(x + oi, w),
                                    clamp(y + oj, h),
                                    clamp(z + ok, d),
                                );
                                s = [s[0] + f, s[1] + m, s[2] + f * f, s[3] + m * m, s[4] + f * m];
                            }
                            let cross = s[4] - s[0] * s[1] / count;
                            let var_f = s[2] - s[0] * s[0] / count;
                            let var_m = s[3] - s[1] * s[1] / count;
                            let cc = cross / (var_f * var_m + 1e-5).sqrt();
                            scored.push(([oi, oj, ok], cc * f64::from(SHARPNESS)));
                        }
                    }
                }
                let top = scored.iter().map(|s| s.1).fold(f64::NEG_INFINITY, f64::max);
                let total: f64 = scored.iter().map(|s| (s.1 - top).exp()).sum();
                let v = (i + w * (j + h * k)) as usize;
                for (offset, score) in &scored {
                    let p = (score - top).exp() / total;
                    for a in 0..3 {
                        out[a * n + v] += p * offset[a] as f64;
                    }
                }
            }
        }
    }
    out
}

#[test]
fn the_correlation_layer_matches_its_reference_and_finds_a_shift() {
    let device = gpu().burn_device().unwrap();
    let fixed = random(voxels(DIMS), 0.0, 1.0, 11);
    let moving = random(voxels(DIMS), 0.0, 1.0, 12);
    let got = values(matching_estimate(
        tensor(&fixed, 1, DIMS, &device),
        tensor(&moving, 1, DIMS, &device),
        1,
        3,
    ));
    assert_close(
        "estimate",
        &got,
        &ref_matching_estimate(&fixed, &moving, DIMS, 1, 3),
        1e-3,
    );

    // The moving image is the fixed one moved by one voxel along +i: it is sampled one voxel
    // further along i to match, so the estimate away from the border is +1 along i.
    let dims = [8, 9, 10];
    let [d, h, w] = dims;
    let fixed = random(voxels(dims), 0.0, 1.0, 13);
    let moving: Vec<f64> = (0..voxels(dims))
        .map(|v| fixed[v - usize::from(v % w > 0)])
        .collect();
    let got = values(matching_estimate(
        tensor(&fixed, 1, dims, &device),
        tensor(&moving, 1, dims, &device),
        2,
        3,
    ));
    let n = voxels(dims);
    for k in 2..d - 2 {
        for j in 2..h - 2 {
            for i in 2..w - 3 {
                let v = i + w * (j + h * k);
                let estimate = [got[v], got[n + v], got[2 * n + v]];
                assert!(
                    (estimate[0] - 1.0).abs() < 0.05
                        && estimate[1].abs() < 0.05
                        && estimate[2].abs() < 0.05,
                    "voxel ({i}, {j}, {k}): estimate {estimate:?}, the shift is (1, 0, 0)"
                );
            }
        }
    }
}
