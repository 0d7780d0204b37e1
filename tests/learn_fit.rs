//! The network can learn: on one pair of phantoms, within thirty Adam steps on the image
//! similarity the mismatch falls below half, for displacement and velocity outputs alike. A broken
//! gradient anywhere between the loss and the weights (warp, integration, resizing, convolutions)
//! stops it. (At this rate the velocity network's loss can jump back up for a step, as Adam
//! overshoots; the test asks for the best step, not the last.)

mod common;

use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;
use warpbench::learn::config::{FieldKind, NetConfig};
use warpbench::learn::losses;
use warpbench::learn::nets::{Lattices, RegNet};
use warpbench::learn::tensor::{scalar_value, tensor_from_values};

const N: usize = 32;

/// Two balls in an ellipsoid whose centres sit `shift` voxels away from the middle.
fn phantom(shift: [f64; 3]) -> Vec<f32> {
    let c = (N as f64 - 1.0) / 2.0;
    let mut values = Vec::with_capacity(N * N * N);
    for k in 0..N {
        for j in 0..N {
            for i in 0..N {
                let [x, y, z] = [i as f64 - c, j as f64 - c, k as f64 - c];
                let body = (x / 13.0).powi(2) + (y / 12.0).powi(2) + (z / 10.0).powi(2);
                let ball = |cx: f64, cy: f64, r: f64| {
                    (x - cx - shift[0]).powi(2)
                        + (y - cy - shift[1]).powi(2)
                        + (z - shift[2]).powi(2)
                        < r * r
                };
                values.push(if ball(-5.0, 0.0, 4.5) {
                    1.0
                } else if ball(5.0, 2.0, 3.5) {
                    0.2
                } else if body < 1.0 {
                    0.5
                } else {
                    0.0
                });
            }
        }
    }
    values
}

fn fit(field: FieldKind, lr: f64, steps: usize) -> Vec<f64> {
    let device = common::gpu().burn_device().unwrap().autodiff();
    let config = NetConfig {
        encoder_channels: vec![16, 32, 32],
        decoder_channels: 32,
        field,
        affine_head: false,
    };
    let lattices = Lattices::new([N; 3], &device);
    let mut model = RegNet::new(&config, &device);
    let mut optimizer: ModuleOptimizer = AdamConfig::new().init();
    let fixed: Tensor<5> = tensor_from_values(phantom([1.5, -1.0, 1.0]), 1, [N; 3], &device);
    let moving: Tensor<5> = tensor_from_values(phantom([-1.5, 1.0, -1.0]), 1, [N; 3], &device);
    let mut curve = Vec::new();
    for _ in 0..steps {
        let p = model.forward(&lattices, field, fixed.clone(), moving.clone());
        let warped = lattices.full.warp_linear(moving.clone(), p.disp_vox);
        let similarity = losses::mse(warped, fixed.clone());
        let total = similarity.clone() + losses::diffusion(p.flow_vox).mul_scalar(0.01);
        curve.push(scalar_value(similarity).unwrap());
        let grads = GradientsParams::from_grads(total.backward(), &model);
        model = optimizer.step(lr, model, grads);
    }
    curve
}

#[test]
fn one_pair_fits() {
    for field in [FieldKind::Displacement, FieldKind::Velocity] {
        let curve = fit(field, 1e-3, 30);
        let best = curve.iter().copied().fold(f64::INFINITY, f64::min);
        assert!(
            best < 0.5 * curve[0],
            "{field:?}: MSE {} fell only to {best} in 30 steps ({curve:?})",
            curve[0]
        );
    }
}
