//! Label supervision of the deformable stage: the soft-Dice kernels against their CPU reference
//! and finite differences, the errors for missing or disjoint label maps, and a supervised run
//! overlapping the labels better than an unsupervised one.

mod common;

use common::{gpu, read, upload};
use warpbench::gpu::kernels::label_dice::{LabelDiceKernel, LabelMaps, reference};
use warpbench::register::config::RegistrationConfig;
use warpbench::register::pipeline::{Guides, Registration};
use warpbench::volume::{Affine, Grid, LabelVolume};

/// Smooth occupancies in 0..1 of `channels` labels that sum to at most 1 per voxel.
fn occupancies(grid: &Grid, channels: usize, seed: u64) -> Vec<f32> {
    let mut rng = common::Rng::new(seed);
    let phases: Vec<[f64; 3]> = (0..channels)
        .map(|_| std::array::from_fn(|_| rng.range(0.0, 6.0)))
        .collect();
    let mut out = Vec::with_capacity(grid.voxel_count() * channels);
    for n in 0..grid.voxel_count() {
        let p = grid.index_to_world(n);
        let raw: Vec<f64> = phases
            .iter()
            .map(|ph| {
                let s: f64 = (0..3).map(|a| (0.45 * p[a] + ph[a]).sin()).sum();
                (s / 3.0).max(0.0)
            })
            .collect();
        let total = raw.iter().sum::<f64>().max(1.0);
        out.extend(raw.iter().map(|v| (v / total) as f32));
    }
    out
}

#[test]
fn label_dice_matches_its_reference_and_finite_differences() {
    let ctx = gpu();
    let kernel = LabelDiceKernel::new(&ctx).unwrap();
    let grid = Grid::axis_aligned([12, 10, 8], [1.0, 1.0, 1.5], [0.0; 3]).unwrap();
    let moving_grid = Grid::axis_aligned([14, 12, 9], [0.9, 1.1, 1.4], [-1.0, -0.5, 0.3]).unwrap();
    let channels = 3;
    let (fixed, moving) = (
        occupancies(&grid, channels, 3),
        occupancies(&moving_grid, channels, 4),
    );
    let maps = LabelMaps::upload(&ctx, (&grid, &fixed), (&moving_grid, &moving), channels).unwrap();
    let affine = Affine::from_linear_translation(
        [[0.98, 0.05, 0.0], [-0.04, 1.01, 0.02], [0.0, -0.03, 0.99]],
        [0.4, -0.3, 0.2],
    );
    let n = grid.voxel_count();
    let mut rng = common::Rng::new(9);
    let u: Vec<[f32; 3]> = (0..n)
        .map(|_| std::array::from_fn(|_| rng.range(-0.6, 0.6) as f32))
        .collect();
    let weight = 0.7;
    // The kernel adds to the gradient already there.
    let before: Vec<f32> = (0..3 * n).map(|k| (k % 7) as f32 * 1e-3).collect();
    let (bu, bg) = (
        upload(&ctx, bytemuck::cast_slice(&u)),
        upload(&ctx, &before),
    );
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    kernel
        .record(&ctx, &mut encoder, &maps, (&affine, &bu), weight, &bg)
        .unwrap();
    ctx.queue.submit([encoder.finish()]);

    let expected = |u: &[[f32; 3]]| {
        reference(
            (&grid, &fixed),
            (&moving_grid, &moving),
            channels,
            (&affine, u),
            weight,
        )
    };
    let r = expected(&u);
    let dice = maps.read_dice(&ctx).unwrap();
    for (got, want) in dice.iter().zip(&r.dice) {
        assert!((got - want).abs() < 1e-4, "Dice {got} vs {want}");
    }
    assert!(r.dice.iter().all(|&d| d > 0.05 && d < 0.95), "{:?}", r.dice);
    let got: Vec<f32> = read(&ctx, &bg, 3 * n)
        .iter()
        .zip(&before)
        .map(|(g, b)| g - b)
        .collect();
    common::check_displacement_gradient(&got, &r.gradient, |u| expected(u).loss, &u, 1e-9);
}

fn supervised(weight: f64) -> RegistrationConfig {
    let mut config = RegistrationConfig::preset("ct-mr").unwrap();
    config.deformable.as_mut().unwrap().label_weight = weight;
    config
}

#[test]
fn label_supervision_needs_two_label_maps_sharing_a_label() {
    let ctx = gpu();
    let case = warpbench::demo::load_builtin().unwrap();
    let images = (case.fixed.clone(), case.moving.clone());
    let missing =
        Registration::with_guides(&ctx, images.clone(), Guides::default(), supervised(0.5));
    let message = missing.err().expect("no labels").to_string();
    assert!(message.contains("label_weight"), "{message}");

    let other = LabelVolume::new(
        case.moving_labels.grid().clone(),
        case.moving_labels.data().iter().map(|&v| v * 10).collect(),
    )
    .unwrap();
    let disjoint = Registration::with_guides(
        &ctx,
        images,
        Guides {
            labels: Some((&case.fixed_labels, &other)),
            ..Default::default()
        },
        supervised(0.5),
    );
    let message = disjoint.err().expect("no shared label").to_string();
    assert!(message.contains("share no"), "{message}");
}

#[test]
fn label_supervision_raises_the_overlap_of_the_supervised_labels() {
    let ctx = gpu();
    let case = warpbench::demo::load_builtin().unwrap();
    let dice = |weight: f64| {
        let mut registration = Registration::with_guides(
            &ctx,
            (case.fixed.clone(), case.moving.clone()),
            Guides {
                labels: Some((&case.fixed_labels, &case.moving_labels)),
                ..Default::default()
            },
            supervised(weight),
        )
        .unwrap();
        let mut live = None;
        while !registration.is_done() {
            let report = registration.step().unwrap();
            live = report.label_dice.or(live);
        }
        let field = registration.displacement().unwrap();
        let warped = warpbench::volume::warp::warp_labels(&case.moving_labels, &field);
        let ids = warpbench::eval::overlap::shared_ids(&case.fixed_labels, &warped);
        let per = warpbench::eval::overlap::dice_per_label(&case.fixed_labels, &warped, &ids);
        let mean = per.values().sum::<f64>() / per.len() as f64;
        (mean, live)
    };
    let (plain, no_live) = dice(0.0);
    let (with_labels, live) = dice(0.5);
    eprintln!("Dice {plain:.3} unsupervised, {with_labels:.3} supervised (live soft {live:?})");
    assert!(no_live.is_none());
    assert!(live.is_some_and(|d| d > 0.5));
    assert!(with_labels > plain + 0.03, "{plain:.3} → {with_labels:.3}");
}
