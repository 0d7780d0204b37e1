//! MIND-SSC and macMIND: the GPU descriptors against their CPU references, their invariance to
//! contrast, and the descriptor similarity's value and gradient against its reference and finite
//! differences.

mod common;

use common::{gpu, max_diff, read, storage, upload};
use warpbench::gpu::kernels::mind::{MindKernel, ssd_reference};
use warpbench::gpu::kernels::warp::WarpCall;
use warpbench::volume::mind::{Descriptor, channel_mean, descriptor};
use warpbench::volume::{Affine, Grid};

/// A smooth random image (sums of a few blobs) with some noise, so patches differ.
fn image(grid: &Grid, seed: u64) -> Vec<f32> {
    let mut rng = common::Rng::new(seed);
    let blobs: Vec<([f64; 3], f64)> = (0..6)
        .map(|_| {
            let d = grid.dims();
            (
                std::array::from_fn(|a| rng.range(0.0, d[a] as f64)),
                rng.range(-1.0, 1.0),
            )
        })
        .collect();
    (0..grid.voxel_count())
        .map(|i| {
            let d = grid.dims();
            let v = [i % d[0], (i / d[0]) % d[1], i / (d[0] * d[1])].map(|x| x as f64);
            let s: f64 = blobs
                .iter()
                .map(|(c, w)| w * (-(0..3).map(|a| (v[a] - c[a]).powi(2)).sum::<f64>() / 8.0).exp())
                .sum();
            (s + rng.range(0.0, 0.05)) as f32
        })
        .collect()
}

#[test]
fn descriptor_kernels_match_their_cpu_references() {
    let ctx = gpu();
    let kernel = MindKernel::new(&ctx).unwrap();
    let grid = Grid::axis_aligned([13, 11, 9], [1.0, 1.2, 2.0], [0.0; 3]).unwrap();
    let data = image(&grid, 3);
    for d in [Descriptor::MIND_SSC, Descriptor::MAC_MIND] {
        let on_gpu = kernel
            .describe(&ctx, &d, &grid, &upload(&ctx, &data))
            .unwrap();
        assert_eq!(on_gpu.channels, d.channels());
        let expected = descriptor(&d, &data, grid.dims());
        assert_eq!(expected.len(), grid.voxel_count() * d.channels());
        let got = read(&ctx, &on_gpu.values, expected.len());
        assert!(
            max_diff(&got, &expected) < 1e-4,
            "{d:?}: {}",
            max_diff(&got, &expected)
        );
        // Values are similarities in (0, 1] (macMIND: weights summing to one), and vary.
        let (lo, hi) = expected
            .iter()
            .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        assert!(
            lo > 0.0 && hi <= 1.0 + 1e-6 && hi - lo > 0.3,
            "{d:?}: {lo}..{hi}"
        );
    }
}

#[test]
fn descriptors_ignore_contrast_inversion_and_scaling() {
    let grid = Grid::axis_aligned([12, 10, 8], [1.0; 3], [0.0; 3]).unwrap();
    let data = image(&grid, 4);
    // MR-like to CT-like: inverted, scaled and shifted.
    let other: Vec<f32> = data.iter().map(|v| 300.0 - 40.0 * v).collect();
    for d in [Descriptor::MIND_SSC, Descriptor::MAC_MIND] {
        let (a, b) = (
            descriptor(&d, &data, grid.dims()),
            descriptor(&d, &other, grid.dims()),
        );
        assert!(max_diff(&a, &b) < 1e-4, "{d:?}: {}", max_diff(&a, &b));
        let mean = channel_mean(&a, d.channels());
        assert_eq!(mean.len(), grid.voxel_count());
    }
    // A different image does change it.
    let unrelated = image(&grid, 5);
    let d = Descriptor::MIND_SSC;
    assert!(
        max_diff(
            &descriptor(&d, &data, grid.dims()),
            &descriptor(&d, &unrelated, grid.dims())
        ) > 0.3
    );
}

#[test]
fn macmind_bins_cover_the_window_once() {
    let d = Descriptor::MAC_MIND;
    let bins = d.bins();
    assert_eq!(bins.len(), 8, "4 azimuths × 2 elevations × 1 radius");
    assert_eq!(d.channels(), 18 * 8);
    let offsets: usize = bins
        .iter()
        .map(|b| b.iter().filter(|o| **o != [0; 3]).count())
        .sum();
    assert_eq!(
        offsets,
        5 * 5 * 5 - 1,
        "every off-centre offset in exactly one bin"
    );
    assert_eq!(d.pairs(2).len(), 18);
    assert_eq!(Descriptor::MIND_SSC.pairs(2).len(), 12);
}

#[test]
fn descriptor_similarity_matches_its_reference_and_finite_differences() {
    let ctx = gpu();
    let kernel = MindKernel::new(&ctx).unwrap();
    let fixed_grid = Grid::axis_aligned([12, 10, 8], [1.0, 1.0, 1.5], [0.0; 3]).unwrap();
    let moving_grid = Grid::axis_aligned([14, 12, 9], [0.9, 1.1, 1.4], [-1.0, -0.5, 0.3]).unwrap();
    let d = Descriptor::MIND_SSC;
    let (fixed, moving) = (image(&fixed_grid, 6), image(&moving_grid, 7));
    let fd = kernel
        .describe(&ctx, &d, &fixed_grid, &upload(&ctx, &fixed))
        .unwrap();
    let md = kernel
        .describe(&ctx, &d, &moving_grid, &upload(&ctx, &moving))
        .unwrap();
    let c = d.channels();
    let (fv, mv) = (
        read(&ctx, &fd.values, fixed_grid.voxel_count() * c),
        read(&ctx, &md.values, moving_grid.voxel_count() * c),
    );
    let affine = Affine::from_linear_translation(
        [[0.98, 0.05, 0.0], [-0.04, 1.01, 0.02], [0.0, -0.03, 0.99]],
        [0.4, -0.3, 0.2],
    );
    let mut rng = common::Rng::new(8);
    let u: Vec<[f32; 3]> = (0..fixed_grid.voxel_count())
        .map(|_| std::array::from_fn(|_| rng.range(-0.6, 0.6) as f32))
        .collect();
    let n = fixed_grid.voxel_count();
    let (bu, bd, bt, bg) = (
        upload(&ctx, bytemuck::cast_slice(&u)),
        storage(&ctx, n),
        storage(&ctx, n),
        storage(&ctx, 3 * n),
    );
    let unused = storage(&ctx, n);
    let warp = WarpCall {
        fixed: &fixed_grid,
        moving: &moving_grid,
        moving_from_fixed: &affine,
        moving_values: &unused,
        displacement: Some(&bu),
        warped: &unused,
        gradient: Some(&bg),
        outside: warpbench::gpu::kernels::similarity::OUTSIDE,
    };
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    kernel
        .record_ssd(&ctx, &mut encoder, &warp, [&fd, &md], [&bd, &bt])
        .unwrap();
    ctx.queue.submit([encoder.finish()]);
    let reference = |u: &[[f32; 3]]| {
        ssd_reference(
            (&fixed_grid, &fv),
            (&moving_grid, &mv),
            c,
            (&affine, Some(u)),
        )
    };
    let (terms, grads) = reference(&u);
    assert!(max_diff(&read(&ctx, &bt, n), &terms) < 1e-6);
    let dsdw = read(&ctx, &bd, n);
    assert!(dsdw.iter().all(|&v| v == 0.0 || v == 1.0) && dsdw.contains(&1.0));
    let expected: Vec<[f64; 3]> = grads.iter().map(|g| g.map(|v| v as f64)).collect();
    let loss = |u: &[[f32; 3]]| reference(u).0.iter().map(|&v| v as f64).sum::<f64>();
    common::check_displacement_gradient(&read(&ctx, &bg, 3 * n), &expected, loss, &u, 1e-7);
}
