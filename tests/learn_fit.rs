//! The network can learn: on one pair of phantoms, within thirty Adam steps on the image
//! similarity the mismatch falls below half, for displacement and velocity outputs alike, and the
//! joint network's affine head learns a global shift. A broken gradient anywhere between the loss
//! and the weights (warp, integration, resizing, convolutions, the affine head) stops it. (At this
//! rate the velocity network's loss can jump back up for a step, as Adam overshoots; the test asks
//! for the best step, not the last.) With a correlation layer, a network trained on pairs moved
//! by random translations registers a pair it has not seen.

mod common;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;
use std::sync::Mutex;
use warpbench::learn::config::{Correlation, FieldKind, NetConfig};
use warpbench::learn::losses;
use warpbench::learn::nets::{Lattices, RegNet};
use warpbench::learn::tensor::{scalar_value, tensor_from_values, tensor_values};
use warpbench::learn::train::adam;

const N: usize = 32;

/// Two balls in an ellipsoid whose centres sit `shift` voxels away from the middle, the whole
/// moved by `moved` voxels.
fn phantom(shift: [f64; 3], moved: [f64; 3]) -> Vec<f32> {
    let c = (N as f64 - 1.0) / 2.0;
    let mut values = Vec::with_capacity(N * N * N);
    for k in 0..N {
        for j in 0..N {
            for i in 0..N {
                let [x, y, z] = [
                    i as f64 - c - moved[0],
                    j as f64 - c - moved[1],
                    k as f64 - c - moved[2],
                ];
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

/// The MSE of each step, and the affine head's mean displacement (voxels, i j k) at the end.
fn fit(
    config: NetConfig,
    (fixed, moving): (Vec<f32>, Vec<f32>),
    lr: f64,
    steps: usize,
) -> (Vec<f64>, Option<[f64; 3]>) {
    let trained = train(config, &mut || (fixed.clone(), moving.clone()), lr, steps);
    (trained.curve, trained.affine)
}

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

struct Trained {
    curve: Vec<f64>,
    affine: Option<[f64; 3]>,
    model: RegNet,
    lattices: Lattices,
}

/// `steps` Adam steps on the MSE of the pairs `pairs` draws, one per step.
fn train(
    config: NetConfig,
    pairs: &mut dyn FnMut() -> (Vec<f32>, Vec<f32>),
    lr: f64,
    steps: usize,
) -> Trained {
    // Seeded, so the initial weights stay the same from run to run; one run at a time, because
    // the tests share the device and its generator, and weights drawn beside another test's came
    // out different (the affine head's test then fell short: 0.46 voxels against 0.5).
    let _one_at_a_time = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let device = common::gpu().burn_device().unwrap();
    device.seed(1);
    let device = device.autodiff();
    let field = config.field;
    let lattices = Lattices::new([N; 3], config.pyramid_levels, &device);
    let mut model = RegNet::new(&config, &device);
    let mut optimizer: ModuleOptimizer = adam().init();
    let mut curve = Vec::new();
    let mut affine = None;
    for _ in 0..steps {
        let (fixed, moving) = pairs();
        let fixed: Tensor<5> = tensor_from_values(fixed, 1, [N; 3], &device);
        let moving: Tensor<5> = tensor_from_values(moving, 1, [N; 3], &device);
        let p = model.forward(&lattices, field, fixed.clone(), moving.clone());
        affine = p.affine_vox.map(|a| {
            let mean = tensor_values(a.mean_dims(&[2, 3, 4])).unwrap();
            std::array::from_fn(|axis| f64::from(mean[axis]))
        });
        let warped = lattices.full.warp_linear(moving.clone(), p.disp_vox);
        let similarity = losses::mse(warped, fixed.clone());
        let total = similarity.clone() + losses::diffusion(p.flow_vox).mul_scalar(0.01);
        curve.push(scalar_value(similarity).unwrap());
        let grads = GradientsParams::from_grads(total.backward(), &model);
        model = optimizer.step(lr, model, grads);
    }
    Trained {
        curve,
        affine,
        model,
        lattices,
    }
}

fn net(field: FieldKind, affine_head: bool, pyramid_levels: usize) -> NetConfig {
    NetConfig {
        encoder_channels: vec![16, 32, 32],
        decoder_channels: 32,
        field,
        affine_head,
        pyramid_levels,
        correlation: None,
    }
}

/// The best step's MSE is under half the first's.
fn assert_halves(what: &str, curve: &[f64]) {
    let best = curve.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        best < 0.5 * curve[0],
        "{what}: MSE {} fell only to {best} in {} steps ({curve:?})",
        curve[0],
        curve.len()
    );
}

/// The pair of most tests: the balls move in opposite directions, the body stays.
fn ball_pair() -> (Vec<f32>, Vec<f32>) {
    (
        phantom([1.5, -1.0, 1.0], [0.0; 3]),
        phantom([-1.5, 1.0, -1.0], [0.0; 3]),
    )
}

#[test]
fn one_pair_fits() {
    for field in [FieldKind::Displacement, FieldKind::Velocity] {
        let (curve, _) = fit(net(field, false, 1), ball_pair(), 1e-3, 30);
        assert_halves(&format!("{field:?}"), &curve);
    }
}

/// LapIRN's three-level pyramid learns the same pair: every level's residual is added to the
/// coarser field, so a gradient that misses a level, or a coarse field carried to the next level
/// at the wrong scale, shows here.
#[test]
fn a_three_level_pyramid_fits() {
    let (curve, _) = fit(net(FieldKind::Velocity, false, 3), ball_pair(), 1e-3, 30);
    assert_halves("the pyramid", &curve);
}

/// The moving phantom is the fixed one moved 3 voxels along i: the map from fixed to moving
/// points +3 along i, and the affine head, which sees the pair first, takes a share of it.
#[test]
fn the_affine_head_learns_a_shift() {
    let pair = (
        phantom([0.0; 3], [0.0; 3]),
        phantom([0.0; 3], [3.0, 0.0, 0.0]),
    );
    let (curve, affine) = fit(net(FieldKind::Velocity, true, 1), pair, 1e-3, 30);
    assert_halves("the joint network", &curve);
    let [i, j, k] = affine.expect("the joint network has an affine part");
    assert!(
        i > 0.5 && j.abs() < 0.5 * i && k.abs() < 0.5 * i,
        "the affine part's mean displacement is ({i:.2}, {j:.2}, {k:.2}) voxels, not along +i"
    );
}

/// With a correlation layer the network registers a pair it never saw: trained on phantoms each
/// moved by its own random translation (a new pair every step), it undoes the translation of an
/// unseen one, which no single field fitted to the training pairs could. A correlation layer
/// that mismatches, or whose estimate does not reach the flow layer, fails this.
#[test]
fn with_a_correlation_layer_the_network_registers_an_unseen_pair() {
    let config = NetConfig {
        correlation: Some(Correlation {
            radius: 1,
            window: 5,
        }),
        ..net(FieldKind::Displacement, false, 1)
    };
    let mut rng = common::Rng::new(7);
    let mut draw = || {
        let balls = [(); 3].map(|_| rng.range(-1.5, 1.5));
        let moved = [(); 3].map(|_| rng.range(-0.8, 0.8));
        (phantom(balls, [0.0; 3]), phantom(balls, moved))
    };
    let trained = train(config, &mut draw, 1e-3, 40);
    let (fixed, moving) = (
        phantom([0.7, -0.4, 1.1], [0.0; 3]),
        phantom([0.7, -0.4, 1.1], [0.7, -0.5, 0.3]),
    );
    let (model, lattices) = (&trained.model, &trained.lattices);
    let device = lattices.full.device();
    let fixed: Tensor<5> = tensor_from_values(fixed, 1, [N; 3], &device);
    let moving: Tensor<5> = tensor_from_values(moving, 1, [N; 3], &device);
    let p = model.forward(
        lattices,
        FieldKind::Displacement,
        fixed.clone(),
        moving.clone(),
    );
    let before = scalar_value(losses::mse(moving.clone(), fixed.clone())).unwrap();
    let warped = lattices.full.warp_linear(moving, p.disp_vox);
    let after = scalar_value(losses::mse(warped, fixed)).unwrap();
    assert!(
        after < 0.5 * before,
        "the unseen pair's MSE went from {before} to {after} (training MSE {:?})",
        trained.curve
    );
}
