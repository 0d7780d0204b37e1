//! Shaders and kernels: every WGSL file validates with naga, and each kernel matches its CPU
//! reference on the shared device (lavapipe where there is no GPU).

mod common;

use common::{gpu, max_diff, oblique_grid, random_volume, read, storage, upload};
use warpbench::gpu::kernels::warp::WarpKernel;
use warpbench::gpu::shaders;
use warpbench::volume::Grid;
use warpbench::volume::resample::resample_scalar;

#[test]
fn every_shader_file_is_embedded_and_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".wgsl") && n != "common.wgsl")
        .collect();
    on_disk.sort();
    let mut embedded: Vec<String> = shaders::COMPUTE
        .iter()
        .chain(shaders::RENDER)
        .map(|(n, _)| n.to_string())
        .collect();
    embedded.sort();
    assert_eq!(
        on_disk, embedded,
        "shaders/ and gpu::shaders::COMPUTE + RENDER disagree"
    );
    let sources = shaders::COMPUTE
        .iter()
        .map(|(name, _)| (*name, shaders::compute_source(name).unwrap()))
        .chain(shaders::RENDER.iter().map(|(n, s)| (*n, s.to_string())));
    for (name, source) in sources {
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&source)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
}

#[test]
fn device_comes_up_with_the_adapter_limits() {
    let ctx = gpu();
    eprintln!("{}", ctx.describe());
    assert_eq!(
        ctx.device.limits().max_storage_buffer_binding_size,
        ctx.adapter.limits().max_storage_buffer_binding_size
    );
}

#[test]
fn warp_kernel_resamples_like_the_cpu_reference() {
    let ctx = gpu();
    let kernel = WarpKernel::new(&ctx).unwrap();
    let source = random_volume(oblique_grid([23, 19, 17]), 11);
    let c = source.grid().centre_mm();
    let target = Grid::axis_aligned(
        [31, 29, 27],
        [1.1, 0.9, 1.3],
        [c[0] - 17.0, c[1] - 13.0, c[2] - 16.0],
    )
    .unwrap();
    let gpu_out = kernel.resample(&ctx, &source, &target, -7.0).unwrap();
    let cpu_out = resample_scalar(&source, &target, -7.0);
    let inside = cpu_out.data().iter().filter(|&&v| v != -7.0).count();
    assert!(
        inside > 1000 && inside < target.voxel_count(),
        "test grid should straddle the border"
    );
    // Values span ~1000; f32 coordinates on the GPU cost a few 1e-4 relative.
    let diff = max_diff(gpu_out.data(), cpu_out.data());
    assert!(diff < 0.5, "GPU and CPU resampling differ by {diff}");
    let same = gpu_out
        .data()
        .iter()
        .zip(cpu_out.data())
        .filter(|(a, b)| (*a - *b).abs() < 1e-2)
        .count();
    assert!(
        same as f64 > 0.999 * target.voxel_count() as f64,
        "only {same} voxels agree"
    );
}

#[test]
fn warp_kernel_covers_more_than_65535_workgroups() {
    let ctx = gpu();
    let kernel = WarpKernel::new(&ctx).unwrap();
    let grid = Grid::axis_aligned([171, 170, 150], [1.0; 3], [0.0; 3]).unwrap();
    assert!(grid.voxel_count() > 65_535 * 64);
    let source = random_volume(grid.clone(), 12);
    let out = kernel.resample(&ctx, &source, &grid, f32::NAN).unwrap();
    assert_eq!(max_diff(out.data(), source.data()), 0.0);
}

#[test]
fn burn_computes_on_the_shared_device() {
    let ctx = gpu();
    let device = ctx.burn_device().unwrap();
    let t = burn::tensor::Tensor::<1>::from_floats([1.0, 2.0, 3.0, 4.5], &device);
    let sum: f32 = t.sum().into_scalar();
    assert_eq!(sum, 10.5);
    assert!(
        ctx.burn_device().is_ok(),
        "a second call reuses the registration"
    );
}

#[test]
fn warp_kernel_matches_cpu_warp_with_a_displacement() {
    use warpbench::volume::VectorField;
    let ctx = gpu();
    let kernel = WarpKernel::new(&ctx).unwrap();
    let moving = random_volume(oblique_grid([21, 18, 15]), 13);
    let c = moving.grid().centre_mm();
    let fixed = Grid::axis_aligned(
        [24, 22, 20],
        [1.0, 1.1, 1.2],
        [c[0] - 12.0, c[1] - 12.0, c[2] - 12.0],
    )
    .unwrap();
    let mut rng = common::Rng::new(14);
    let u = (0..fixed.voxel_count())
        .map(|_| std::array::from_fn(|_| rng.range(-3.0, 3.0) as f32))
        .collect();
    let field = VectorField::new(fixed, u).unwrap();
    let gpu_out = kernel.warp(&ctx, &moving, &field, f32::NAN).unwrap();
    let cpu_out = warpbench::volume::warp::warp_scalar(&moving, &field, f32::NAN);
    let same = gpu_out
        .data()
        .iter()
        .zip(cpu_out.data())
        .filter(|(a, b)| (a.is_nan() && b.is_nan()) || (*a - *b).abs() < 1e-2)
        .count();
    assert!(
        same as f64 > 0.999 * field.grid().voxel_count() as f64,
        "only {same} voxels agree"
    );
    assert!(
        cpu_out.data().iter().filter(|v| v.is_nan()).count() > 100,
        "test should reach outside"
    );
}

#[test]
fn smooth_kernel_matches_cpu_gaussian() {
    use warpbench::gpu::kernels::smooth::SmoothKernel;
    let ctx = gpu();
    let vol = random_volume(oblique_grid([37, 29, 23]), 15);
    for sigma in [[1.0, 1.0, 1.0], [0.0, 2.5, 0.7], [6.0, 0.5, 3.0]] {
        let gpu_out = SmoothKernel::new(&ctx)
            .unwrap()
            .blur(&ctx, &vol, sigma)
            .unwrap();
        let cpu_out =
            warpbench::volume::filter::gaussian_blur(vol.data(), vol.grid().dims(), sigma);
        let diff = max_diff(gpu_out.data(), &cpu_out);
        assert!(diff < 1e-2, "σ {sigma:?}: differ by {diff}");
    }
    assert!(
        SmoothKernel::new(&ctx)
            .unwrap()
            .blur(&ctx, &vol, [20.0, 1.0, 1.0])
            .is_err()
    );
}

#[test]
fn jacobian_kernel_matches_cpu_reference() {
    use warpbench::gpu::kernels::jacobian::JacobianKernel;
    use warpbench::volume::VectorField;
    let ctx = gpu();
    let grid = oblique_grid([19, 17, 13]);
    let mut rng = common::Rng::new(16);
    let u = (0..grid.voxel_count())
        .map(|_| std::array::from_fn(|_| rng.range(-1.0, 1.0) as f32))
        .collect();
    let field = VectorField::new(grid, u).unwrap();
    let gpu_out = JacobianKernel::new(&ctx)
        .unwrap()
        .determinant(&ctx, &field)
        .unwrap();
    let cpu_out = warpbench::eval::jacobian::jacobian_determinant(&field);
    let diff = max_diff(gpu_out.data(), cpu_out.data());
    assert!(diff < 1e-4, "det J differs by {diff}");
    assert!(
        cpu_out.data().iter().any(|&v| v <= 0.0),
        "random fields should fold somewhere"
    );
}

#[test]
fn warp_kernel_gradient_matches_cpu_reference_with_an_affine() {
    use warpbench::volume::Affine;
    let ctx = gpu();
    let kernel = WarpKernel::new(&ctx).unwrap();
    let moving = random_volume(oblique_grid([17, 15, 13]), 17);
    let c = moving.grid().centre_mm();
    let fixed = Grid::axis_aligned(
        [18, 16, 14],
        [1.0, 1.2, 1.1],
        [c[0] - 9.0, c[1] - 9.0, c[2] - 8.0],
    )
    .unwrap();
    let (a, b) = (0.1f64, -0.05f64);
    let affine = Affine::from_linear_translation(
        [
            [a.cos() * 1.05, -a.sin(), 0.02],
            [a.sin(), a.cos(), b],
            [0.0, -b, 0.97],
        ],
        [1.5, -2.0, 0.7],
    );
    let mut rng = common::Rng::new(18);
    let u: Vec<[f32; 3]> = (0..fixed.voxel_count())
        .map(|_| std::array::from_fn(|_| rng.range(-2.0, 2.0) as f32))
        .collect();
    let sampled = kernel
        .sample(
            &ctx,
            &warpbench::gpu::kernels::warp::SampleRequest {
                moving: &moving,
                fixed: &fixed,
                moving_from_fixed: &affine,
                displacement: Some(&u),
                outside: 0.0,
                with_gradient: true,
            },
        )
        .unwrap();
    let (gv, gg) = (sampled.values, sampled.gradient);
    let (cv, cg) =
        warpbench::volume::warp::warp_with_gradient(&moving, &fixed, &affine, Some(&u), 0.0);
    let gg = gg.unwrap();
    let scale = 1100.0; // value range of the random volume
    let mut bad = 0;
    for i in 0..cv.len() {
        let value_ok = (gv[i] - cv[i]).abs() < 1e-3 * scale;
        let grad_ok = (0..3).all(|k| (gg[i][k] - cg[i][k]).abs() < 1e-3 * scale);
        bad += (!value_ok || !grad_ok) as usize;
    }
    // Points within float rounding of a voxel face may take the neighbouring cell's slope.
    assert!(
        bad * 1000 < cv.len(),
        "{bad} of {} voxels disagree",
        cv.len()
    );
    assert!(cg.iter().filter(|g| g.iter().any(|v| *v != 0.0)).count() > cv.len() / 2);
}

#[test]
fn reduce_kernel_sums_like_the_cpu() {
    use warpbench::gpu::kernels::reduce::ReduceKernel;
    let ctx = gpu();
    let kernel = ReduceKernel::new(&ctx).unwrap();
    let mut rng = common::Rng::new(19);
    for n in [1usize, 255, 257, 70_001, 1_000_000] {
        let data: Vec<f32> = (0..n).map(|_| rng.range(-1.0, 2.0) as f32).collect();
        let expected: f64 = data.iter().map(|&v| v as f64).sum();
        let got = kernel.sum(&ctx, &upload(&ctx, &data), n).unwrap();
        assert!(
            (got - expected).abs() < 1e-5 * n as f64,
            "n {n}: {got} vs {expected}"
        );
    }
}

#[test]
fn adam_kernel_matches_reference() {
    use warpbench::gpu::kernels::adam::{AdamKernel, AdamSettings, adam_reference};
    let ctx = gpu();
    let kernel = AdamKernel::new(&ctx).unwrap();
    let settings = AdamSettings::with_learning_rate(0.3);
    let mut rng = common::Rng::new(20);
    let n = 5000;
    let mut x: Vec<f32> = (0..n).map(|_| rng.range(-1.0, 1.0) as f32).collect();
    let (mut m, mut v) = (vec![0f32; n], vec![0f32; n]);
    let (bx, bm, bv) = (upload(&ctx, &x), upload(&ctx, &m), upload(&ctx, &v));
    for t in 1..=5 {
        let grad: Vec<f32> = (0..n).map(|_| rng.range(-2.0, 2.0) as f32).collect();
        let bg = upload(&ctx, &grad);
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        kernel
            .record(&ctx, &mut encoder, &settings, t, n, [&bg, &bm, &bv, &bx])
            .unwrap();
        ctx.queue.submit([encoder.finish()]);
        adam_reference(&settings, t, &grad, &mut m, &mut v, &mut x);
    }
    assert!(max_diff(&read(&ctx, &bx, n), &x) < 1e-4);
}

#[test]
fn mse_and_field_gradient_kernels_match_references() {
    use warpbench::gpu::kernels::field_gradient::{FieldGradientKernel, reference};
    use warpbench::gpu::kernels::similarity::OUTSIDE;
    use warpbench::gpu::kernels::similarity::mse::{MseKernel, reference as mse_reference};
    let ctx = gpu();
    let grid = Grid::axis_aligned([13, 11, 9], [1.0, 1.5, 2.0], [0.0; 3]).unwrap();
    let n = grid.voxel_count();
    let mut rng = common::Rng::new(21);
    let fixed: Vec<f32> = (0..n).map(|_| rng.range(0.0, 1.0) as f32).collect();
    let warped: Vec<f32> = (0..n)
        .map(|i| {
            if i % 17 == 0 {
                OUTSIDE
            } else {
                rng.range(0.0, 1.0) as f32
            }
        })
        .collect();
    let (bf, bw, bd, bt) = (
        upload(&ctx, &fixed),
        upload(&ctx, &warped),
        storage(&ctx, n),
        storage(&ctx, n),
    );
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    MseKernel::new(&ctx)
        .unwrap()
        .record(&ctx, &mut encoder, n, [&bf, &bw, &bd, &bt])
        .unwrap();
    ctx.queue.submit([encoder.finish()]);
    let (dsdw, terms) = mse_reference(&fixed, &warped);
    assert!(max_diff(&read(&ctx, &bd, n), &dsdw) < 1e-7);
    assert!(max_diff(&read(&ctx, &bt, n), &terms) < 1e-7);

    let warp_grad: Vec<[f32; 3]> = (0..n)
        .map(|_| std::array::from_fn(|_| rng.range(-1.0, 1.0) as f32))
        .collect();
    let u: Vec<[f32; 3]> = (0..n)
        .map(|_| std::array::from_fn(|_| rng.range(-2.0, 2.0) as f32))
        .collect();
    let bwg = upload(&ctx, bytemuck::cast_slice(&warp_grad));
    let bu = upload(&ctx, bytemuck::cast_slice(&u));
    let (bg, br) = (storage(&ctx, 3 * n), storage(&ctx, n));
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    FieldGradientKernel::new(&ctx)
        .unwrap()
        .record(&ctx, &mut encoder, &grid, 0.7, [&bd, &bwg, &bu, &bg, &br])
        .unwrap();
    ctx.queue.submit([encoder.finish()]);
    let (grad, energy) = reference(&grid, 0.7, &dsdw, &warp_grad, &u);
    assert!(max_diff(&read(&ctx, &bg, 3 * n), bytemuck::cast_slice(&grad)) < 1e-6);
    let gpu_energy: f64 = read(&ctx, &br, n).iter().map(|&v| v as f64).sum();
    assert!(
        (gpu_energy - energy).abs() < 1e-4 * energy,
        "{gpu_energy} vs {energy}"
    );

    // The reference gradient is the derivative of the reference energy (finite differences).
    let zero = vec![0f32; n];
    let (g0, _) = reference(&grid, 0.7, &zero, &warp_grad, &u);
    for &(i, c) in &[(0usize, 0usize), (200, 1), (n - 1, 2), (517, 2)] {
        let h = 1e-3f32;
        let mut up = u.clone();
        up[i][c] += h;
        let mut down = u.clone();
        down[i][c] -= h;
        let fd = (reference(&grid, 0.7, &zero, &warp_grad, &up).1
            - reference(&grid, 0.7, &zero, &warp_grad, &down).1)
            / (2.0 * h as f64);
        assert!(
            (fd - g0[i][c] as f64).abs() < 1e-3 * (1.0 + fd.abs()),
            "voxel {i} component {c}: {fd} vs {}",
            g0[i][c]
        );
    }
}

#[test]
fn smooth_kernel_smooths_interleaved_channels_independently() {
    use warpbench::gpu::kernels::smooth::SmoothKernel;
    let ctx = gpu();
    let grid = Grid::axis_aligned([21, 17, 13], [1.0; 3], [0.0; 3]).unwrap();
    let n = grid.voxel_count();
    let mut rng = common::Rng::new(23);
    let data: Vec<[f32; 3]> = (0..n)
        .map(|_| std::array::from_fn(|_| rng.range(-1.0, 1.0) as f32))
        .collect();
    let (src, scratch, dst) = (
        upload(&ctx, bytemuck::cast_slice(&data)),
        storage(&ctx, 3 * n),
        storage(&ctx, 3 * n),
    );
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    let dims = warpbench::gpu::kernel::dims_u32(&grid).unwrap();
    SmoothKernel::new(&ctx)
        .unwrap()
        .record_blur(
            &ctx,
            &mut encoder,
            dims,
            3,
            [1.5, 2.0, 0.8],
            [&src, &scratch, &dst],
        )
        .unwrap();
    ctx.queue.submit([encoder.finish()]);
    let out = read(&ctx, &dst, 3 * n);
    for c in 0..3 {
        let channel: Vec<f32> = data.iter().map(|v| v[c]).collect();
        let expected =
            warpbench::volume::filter::gaussian_blur(&channel, grid.dims(), [1.5, 2.0, 0.8]);
        let got: Vec<f32> = out.iter().skip(c).step_by(3).copied().collect();
        assert!(max_diff(&got, &expected) < 1e-5, "channel {c}");
    }
}

/// A fixed image and a warped one related to it (so correlations are far from zero), with some
/// samples outside.
fn correlated_pair(grid: &Grid, seed: u64) -> (Vec<f32>, Vec<f32>) {
    use warpbench::gpu::kernels::similarity::OUTSIDE;
    let n = grid.voxel_count();
    let mut rng = common::Rng::new(seed);
    let fixed: Vec<f32> = (0..n).map(|_| rng.range(0.0, 1.0) as f32).collect();
    let warped = fixed
        .iter()
        .enumerate()
        .map(|(i, &f)| {
            if i % 23 == 5 {
                OUTSIDE
            } else {
                (0.5 * f as f64 + rng.range(0.0, 0.8)) as f32
            }
        })
        .collect();
    (fixed, warped)
}

#[test]
fn box_sums_match_the_cpu_reference() {
    use warpbench::gpu::kernels::smooth::SmoothKernel;
    let ctx = gpu();
    let grid = Grid::axis_aligned([12, 9, 7], [1.0; 3], [0.0; 3]).unwrap();
    let n = grid.voxel_count();
    let mut rng = common::Rng::new(24);
    let data: Vec<f32> = (0..n).map(|_| rng.range(-1.0, 1.0) as f32).collect();
    let kernel = SmoothKernel::new(&ctx).unwrap();
    let dims = warpbench::gpu::kernel::dims_u32(&grid).unwrap();
    // Radius 8 is wider than two of the axes.
    for radius in [1, 2, 8] {
        let (src, scratch, dst) = (upload(&ctx, &data), storage(&ctx, n), storage(&ctx, n));
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        kernel
            .record_box(&ctx, &mut encoder, dims, radius, [&src, &scratch, &dst])
            .unwrap();
        ctx.queue.submit([encoder.finish()]);
        let expected = warpbench::volume::filter::box_sum(&data, grid.dims(), radius as usize);
        let got = read(&ctx, &dst, n);
        assert!(max_diff(&got, &expected) < 1e-4, "radius {radius}");
    }
    // A corner sums only what lies inside: 3 × 3 × 3 voxels.
    let ones = warpbench::volume::filter::box_sum(&vec![1.0; n], grid.dims(), 2);
    assert_eq!(ones[0], 27.0);
}

/// Ranges for [`correlated_pair`] that clamp a few values at both ends.
const PAIR_RANGES: warpbench::gpu::kernels::similarity::IntensityRanges =
    warpbench::gpu::kernels::similarity::IntensityRanges {
        fixed: [0.02, 0.97],
        moving: [0.05, 1.2],
    };

/// Every metric, with sizes small enough for the references.
fn every_similarity() -> Vec<warpbench::gpu::kernels::similarity::Similarity> {
    use warpbench::gpu::kernels::similarity::Similarity;
    vec![
        Similarity::Mse,
        Similarity::Ncc,
        Similarity::Lncc { radius: 1 },
        Similarity::Lncc { radius: 2 },
        Similarity::Mi { bins: 16 },
        Similarity::Nmi { bins: 12 },
    ]
}

#[test]
fn similarity_kernels_match_references() {
    use warpbench::gpu::kernels::similarity::{
        OUTSIDE, Similarity, SimilarityCall, SimilarityKernel, SimilarityLevel, reference,
    };
    use warpbench::gpu::kernels::warp::WarpCall;
    let ctx = gpu();
    let grid = Grid::axis_aligned([14, 11, 9], [1.0, 1.5, 2.0], [0.0; 3]).unwrap();
    let n = grid.voxel_count();
    let (fixed, warped) = correlated_pair(&grid, 25);
    for metric in every_similarity() {
        let kernel = SimilarityKernel::new(&ctx, metric).unwrap();
        let (bf, bw, bd, bt) = (
            upload(&ctx, &fixed),
            upload(&ctx, &warped),
            storage(&ctx, n),
            storage(&ctx, n),
        );
        let scratch = kernel
            .scratch(
                &ctx,
                &SimilarityLevel {
                    grid: &grid,
                    moving_grid: &grid,
                    fixed: &bf,
                    moving: &bw,
                    ranges: PAIR_RANGES,
                },
            )
            .unwrap();
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        // The warp is not recorded: `warped` stands for its output.
        let warp = WarpCall {
            fixed: &grid,
            moving: &grid,
            moving_from_fixed: &warpbench::volume::Affine::IDENTITY,
            moving_values: &bw,
            displacement: None,
            warped: &bw,
            gradient: None,
            outside: OUTSIDE,
        };
        let call = SimilarityCall {
            warp: &warp,
            fixed: &bf,
            dsdw: &bd,
            terms: &bt,
        };
        kernel.record(&ctx, &mut encoder, &scratch, &call).unwrap();
        ctx.queue.submit([encoder.finish()]);
        let (dsdw, terms) = reference(metric, (grid.dims(), PAIR_RANGES), &fixed, &warped).unwrap();
        let scale = dsdw.iter().fold(0f32, |m, v| m.max(v.abs()));
        let got = read(&ctx, &bd, n);
        assert!(
            max_diff(&got, &dsdw) < 1e-3 * scale,
            "{metric:?}: dS/dw differs by {} (scale {scale})",
            max_diff(&got, &dsdw)
        );
        let loss: f64 = terms.iter().map(|&v| v as f64).sum();
        let gpu_loss: f64 = read(&ctx, &bt, n).iter().map(|&v| v as f64).sum();
        assert!(
            (gpu_loss - loss).abs() < 1e-4 * loss.abs().max(1e-3),
            "{metric:?}: loss {gpu_loss} vs {loss}"
        );
        if metric != Similarity::Mse {
            assert!(loss < -0.05, "{metric:?}: correlated images give {loss}");
        }
    }
}

#[test]
fn similarity_references_are_the_derivatives_of_their_losses() {
    use warpbench::gpu::kernels::similarity::{Similarity, reference};
    let grid = Grid::axis_aligned([9, 8, 7], [1.0; 3], [0.0; 3]).unwrap();
    let (fixed, warped) = correlated_pair(&grid, 26);
    for metric in every_similarity() {
        if metric == (Similarity::Lncc { radius: 1 }) {
            continue;
        }
        let loss = |w: &[f32]| -> f64 {
            reference(metric, (grid.dims(), PAIR_RANGES), &fixed, w)
                .unwrap()
                .1
                .iter()
                .map(|&v| v as f64)
                .sum()
        };
        let (dsdw, _) = reference(metric, (grid.dims(), PAIR_RANGES), &fixed, &warped).unwrap();
        let mut checked = 0;
        for i in [0usize, 37, 200, 311, 402, grid.voxel_count() - 1] {
            if warped[i] < -1e38 {
                continue;
            }
            // NMI's terms are one constant each, whose f32 rounding needs the larger step.
            let h = if matches!(metric, Similarity::Nmi { .. }) {
                1e-2f32
            } else {
                1e-3
            };
            let (mut up, mut down) = (warped.clone(), warped.clone());
            up[i] += h;
            down[i] -= h;
            let fd = (loss(&up) - loss(&down)) / (2.0 * h as f64);
            let g = dsdw[i] as f64;
            assert!(
                (fd - g).abs() < 2e-2 * g.abs() + 1e-6,
                "{metric:?} voxel {i}: finite difference {fd} vs {g}"
            );
            checked += (g.abs() > 1e-5) as usize;
        }
        assert!(
            checked >= 3,
            "{metric:?}: too few non-zero gradients checked"
        );
    }
}

#[test]
fn affine_gradient_sums_match_the_cpu_reference() {
    use warpbench::gpu::kernels::affine_gradient::{AffineGradientKernel, reference};
    let ctx = gpu();
    let grid = oblique_grid([37, 29, 23]);
    let n = grid.voxel_count();
    let mut rng = common::Rng::new(27);
    let dsdw: Vec<f32> = (0..n)
        .map(|i| {
            if i % 7 == 0 {
                0.0
            } else {
                rng.range(-1.0, 1.0) as f32
            }
        })
        .collect();
    let warp_grad: Vec<[f32; 3]> = (0..n)
        .map(|_| std::array::from_fn(|_| rng.range(-1.0, 1.0) as f32))
        .collect();
    let centre = [3.0, -7.0, 11.0];
    let kernel = AffineGradientKernel::new(&ctx).unwrap();
    let (bd, bg) = (
        upload(&ctx, &dsdw),
        upload(&ctx, bytemuck::cast_slice(&warp_grad)),
    );
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    let pending = kernel
        .record(&ctx, &mut encoder, &grid, centre, [&bd, &bg])
        .unwrap();
    ctx.queue.submit([encoder.finish()]);
    let got = pending.read(&ctx).unwrap();
    let expected = reference(&grid, centre, &dsdw, &warp_grad);
    for r in 0..3 {
        for k in 0..4 {
            let scale = if k == 3 { 1.0 } else { 30.0 };
            assert!(
                (got[r][k] - expected[r][k]).abs() < 1e-3 * scale * (n as f64).sqrt(),
                "G[{r}][{k}]: {} vs {}",
                got[r][k],
                expected[r][k]
            );
        }
    }
}

#[test]
fn normalised_step_matches_its_reference() {
    use warpbench::gpu::kernels::normalised_step::{NormalisedStepKernel, reference};
    let ctx = gpu();
    let mut rng = common::Rng::new(28);
    let n = 70_001;
    let grad: Vec<[f32; 3]> = (0..n)
        .map(|_| std::array::from_fn(|_| rng.range(-3.0, 3.0) as f32))
        .collect();
    let mut u: Vec<[f32; 3]> = (0..n)
        .map(|_| std::array::from_fn(|_| rng.range(-1.0, 1.0) as f32))
        .collect();
    let (bg, bu) = (
        upload(&ctx, bytemuck::cast_slice(&grad)),
        upload(&ctx, bytemuck::cast_slice(&u)),
    );
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    NormalisedStepKernel::new(&ctx)
        .unwrap()
        .record(&ctx, &mut encoder, n, 0.7, [&bg, &bu])
        .unwrap();
    ctx.queue.submit([encoder.finish()]);
    let before = u.clone();
    reference(0.7, &grad, &mut u);
    let got = read(&ctx, &bu, 3 * n);
    assert!(max_diff(&got, bytemuck::cast_slice(&u)) < 1e-4);
    // The step's root mean square length is the rate.
    let rms = (got
        .chunks(3)
        .zip(&before)
        .map(|(a, b)| {
            (0..3)
                .map(|c| (a[c] - b[c]) as f64)
                .map(|d| d * d)
                .sum::<f64>()
        })
        .sum::<f64>()
        / n as f64)
        .sqrt();
    assert!((rms - 0.7).abs() < 1e-3, "{rms}");
}

#[test]
fn regularisers_match_their_reference_and_its_derivative() {
    use warpbench::eval::non_diffeomorphic::folded_cubes;
    use warpbench::gpu::kernels::regularisers::{RegularisersKernel, reference};
    use warpbench::volume::VectorField;
    let ctx = gpu();
    let grid = oblique_grid([11, 9, 8]);
    let n = grid.voxel_count();
    let mut rng = common::Rng::new(29);
    // Large enough to fold in places.
    let u: Vec<[f32; 3]> = (0..n)
        .map(|_| std::array::from_fn(|_| rng.range(-1.5, 1.5) as f32))
        .collect();
    // Both terms, and each alone (the other's passes are skipped).
    for weights in [(0.3, 2.0), (0.0, 2.0), (0.3, 0.0)] {
        let (expected, energy) = reference(&grid, weights, &u);
        let (bu, lap, share, grad, terms) = (
            upload(&ctx, bytemuck::cast_slice(&u)),
            storage(&ctx, 3 * n),
            storage(&ctx, n),
            upload(&ctx, &vec![0.0; 3 * n]),
            upload(&ctx, &vec![0.0; n]),
        );
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        RegularisersKernel::new(&ctx)
            .unwrap()
            .record(
                &ctx,
                &mut encoder,
                &grid,
                weights,
                [&bu, &lap, &share, &grad, &terms],
            )
            .unwrap();
        ctx.queue.submit([encoder.finish()]);
        let expected: Vec<f32> = expected.iter().flatten().map(|&v| v as f32).collect();
        let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
        let got = read(&ctx, &grad, 3 * n);
        assert!(
            max_diff(&got, &expected) < 1e-4 * scale,
            "{}",
            max_diff(&got, &expected)
        );
        // Each energy on its own: the bending terms' sum, and the folding weight over the voxel
        // count times the cube shares' sum.
        let sum = |b: &wgpu::Buffer| read(&ctx, b, n).iter().map(|&v| v as f64).sum::<f64>();
        let gpu_energy = (
            if weights.0 > 0.0 { sum(&terms) } else { 0.0 },
            if weights.1 > 0.0 {
                weights.1 * sum(&share) / n as f64
            } else {
                0.0
            },
        );
        for (got, want) in [(gpu_energy.0, energy.0), (gpu_energy.1, energy.1)] {
            assert!(
                (got - want).abs() <= 1e-4 * want,
                "{gpu_energy:?} vs {energy:?}"
            );
        }
        assert_eq!(
            [energy.0 > 0.0, energy.1 > 0.0],
            [weights.0 > 0.0, weights.1 > 0.0]
        );

        // The folding energy is the NDV's folded cubes over the voxel count; some cubes fold.
        let (folds_only, (_, folding)) = reference(&grid, (0.0, 1.0), &u);
        let field = VectorField::new(grid.clone(), u.clone()).unwrap();
        let shares: f64 = folded_cubes(&field)
            .0
            .data()
            .iter()
            .map(|&v| v as f64)
            .sum();
        assert!(folding > 0.0, "the test field should fold somewhere");
        assert!(
            (folding - shares / n as f64).abs() < 1e-6 * folding,
            "{folding} vs {}",
            shares / n as f64
        );
        // The reference gradient is the derivative of the reference energy.
        let (g, _) = reference(&grid, weights, &u);
        let g_scale = g.iter().flatten().fold(0f64, |m, v| m.max(v.abs()));
        let mut checked = 0;
        for i in (0..n).step_by(37) {
            for c in 0..3 {
                let h = 1e-4f32;
                let (mut up, mut down) = (u.clone(), u.clone());
                up[i][c] += h;
                down[i][c] -= h;
                let total = |u: &[[f32; 3]]| {
                    let (b, f) = reference(&grid, weights, u).1;
                    b + f
                };
                let fd = (total(&up) - total(&down)) / (2.0 * h as f64);
                assert!(
                    (fd - g[i][c]).abs() < 1e-3 * (g[i][c].abs() + 1e-2 * g_scale),
                    "voxel {i} component {c}: {fd} vs {}",
                    g[i][c]
                );
                checked += (folds_only[i][c] != 0.0) as usize;
            }
        }
        assert!(checked > 0, "no checked voxel had a folding gradient");
    }
}

/// Volumes beyond one storage binding (the full-resolution lung CT) go through z-slabs; a small
/// binding limit sends small volumes down the same path, which must give the one-piece result.
#[test]
fn smoothing_and_warping_in_slabs_match_one_piece() {
    use warpbench::gpu::kernels::smooth::SmoothKernel;
    use warpbench::gpu::kernels::warp::SampleRequest;
    use warpbench::volume::Affine;
    let whole = gpu();
    // 16 KiB: a few z-planes per slab.
    let sliced = whole.with_binding_limit(16384);
    let volume = random_volume(oblique_grid([21, 17, 30]), 41);
    let smooth = SmoothKernel::new(&whole).unwrap();
    let sigma = [1.2, 0.8, 1.0];
    let a = smooth.blur(&whole, &volume, sigma).unwrap();
    let b = smooth.blur(&sliced, &volume, sigma).unwrap();
    assert!(
        max_diff(a.data(), b.data()) < 1e-3,
        "smoothing differs in slabs"
    );

    let warp = WarpKernel::new(&whole).unwrap();
    let fixed = oblique_grid([12, 11, 40]);
    let r = 0.3f64;
    let affine = Affine::from_linear_translation(
        [
            [r.cos(), -r.sin(), 0.0],
            [r.sin(), r.cos(), 0.05],
            [0.0, 0.0, 1.1],
        ],
        [1.0, -3.0, 2.0],
    );
    let mut rng = common::Rng::new(42);
    let u: Vec<[f32; 3]> = (0..fixed.voxel_count())
        .map(|_| std::array::from_fn(|_| rng.range(-3.0, 3.0) as f32))
        .collect();
    let request = SampleRequest {
        moving: &volume,
        fixed: &fixed,
        moving_from_fixed: &affine,
        displacement: Some(&u),
        outside: -7.0,
        with_gradient: true,
    };
    let one = warp.sample(&whole, &request).unwrap();
    let parts = warp.sample(&sliced, &request).unwrap();
    assert!(
        one.values.contains(&-7.0) && one.values.iter().any(|&v| v != -7.0),
        "the test should sample inside and outside the moving image"
    );
    assert!(
        max_diff(&one.values, &parts.values) < 1e-2,
        "values differ in slabs"
    );
    let flat = |g: Option<Vec<[f32; 3]>>| -> Vec<f32> { g.unwrap().concat() };
    assert!(max_diff(&flat(one.gradient), &flat(parts.gradient)) < 1e-2);
    // A limit below one plane is a clear error, not a panic.
    let tiny = whole.with_binding_limit(64);
    let e = warp
        .sample(&tiny, &request)
        .err()
        .expect("too small to warp");
    assert!(e.to_string().contains("storage binding"), "{e}");
}

/// A velocity field growing linearly, `v(x) = B·(x − c)`, flows for unit time to the affine map
/// `x ↦ c + e^B·(x − c)`: exp(v) must be `(e^B − I)(x − c)` away from the borders (where
/// trilinear interpolation of a linear field is exact), on the CPU and the GPU alike.
#[test]
fn velocity_exp_integrates_a_linear_flow_on_cpu_and_gpu() {
    use warpbench::gpu::kernels::velocity::VelocityExpKernel;
    use warpbench::volume::VectorField;
    use warpbench::volume::velocity::exp_velocity;
    let grid = oblique_grid([40, 36, 30]);
    let c = grid.centre_mm();
    // A rotation of 0.25 rad about z plus a slight stretch.
    let b = [[0.05, -0.25, 0.0], [0.25, 0.0, 0.03], [0.0, -0.03, -0.04]];
    let mul = |m: &[[f64; 3]; 3], n: &[[f64; 3]; 3]| -> [[f64; 3]; 3] {
        std::array::from_fn(|r| std::array::from_fn(|k| (0..3).map(|j| m[r][j] * n[j][k]).sum()))
    };
    // e^B − I by its series.
    let mut term = b;
    let mut sum = b;
    for k in 2..20 {
        term = mul(&term, &b).map(|row| row.map(|v| v / k as f64));
        sum = std::array::from_fn(|r| std::array::from_fn(|k| sum[r][k] + term[r][k]));
    }
    let v: Vec<[f32; 3]> = (0..grid.voxel_count())
        .map(|n| {
            let x = grid.index_to_world(n);
            std::array::from_fn(|r| (0..3).map(|k| b[r][k] * (x[k] - c[k])).sum::<f64>() as f32)
        })
        .collect();
    let v = VectorField::new(grid.clone(), v).unwrap();
    let cpu = exp_velocity(&v, 7);
    let ctx = gpu();
    let gpu_exp = VelocityExpKernel::new(&ctx)
        .unwrap()
        .exp(&ctx, &v, 7)
        .unwrap();
    let flat = |f: &VectorField| -> Vec<f32> { f.data().concat() };
    assert!(
        max_diff(&flat(&cpu), &flat(&gpu_exp)) < 2e-3,
        "GPU and CPU exp differ"
    );
    let [nx, ny, nz] = grid.dims();
    let mut worst = 0.0f64;
    for k in nz / 3..2 * nz / 3 {
        for j in ny / 3..2 * ny / 3 {
            for i in nx / 3..2 * nx / 3 {
                let n = grid.index(i, j, k);
                let x = grid.index_to_world(n);
                for (row, got) in sum.iter().zip(cpu.data()[n]) {
                    let expected: f64 = (0..3).map(|q| row[q] * (x[q] - c[q])).sum();
                    worst = worst.max((got as f64 - expected).abs());
                }
            }
        }
    }
    // Displacements here reach 6 mm and differ from v by up to 1 mm; f32 rounding, doubled by
    // each squaring, leaves a few µm.
    assert!(worst < 5e-3, "exp(v) off the analytic flow by {worst} mm");
    // Without squaring, exp is v itself.
    assert_eq!(exp_velocity(&v, 0), v);

    // And GPU and CPU agree on random data (rough, with samples beyond the borders).
    let mut rng = common::Rng::new(61);
    let random: Vec<[f32; 3]> = (0..grid.voxel_count())
        .map(|_| std::array::from_fn(|_| rng.range(-4.0, 4.0) as f32))
        .collect();
    let random = VectorField::new(grid.clone(), random).unwrap();
    let kernel = VelocityExpKernel::new(&ctx).unwrap();
    for squarings in [1, 4] {
        let cpu = exp_velocity(&random, squarings);
        let gpu_exp = kernel.exp(&ctx, &random, squarings).unwrap();
        let diff = max_diff(&flat(&cpu), &flat(&gpu_exp));
        assert!(
            diff < 1e-3,
            "{squarings} squarings: GPU and CPU differ by {diff}"
        );
    }
}

/// Paced smoothing (split into pieces of z-planes for the 3D tap kernel, runs of lines for the
/// line kernel) gives the unpaced result exactly.
#[test]
fn paced_smoothing_matches_unpaced() {
    use warpbench::gpu::kernels::smooth::SmoothKernel;
    let whole = gpu();
    let paced = whole.with_submission_budget(500);
    let volume = random_volume(oblique_grid([21, 17, 30]), 7);
    let smooth = SmoothKernel::new(&whole).unwrap();
    // σ 0.8 walks lines; σ 4 (radius beyond the line kernel's) takes the 3D tap kernel.
    for sigma in [[0.8; 3], [4.0; 3]] {
        let before = warpbench::gpu::pacing::submissions();
        let a = smooth.blur(&whole, &volume, sigma).unwrap();
        let b = smooth.blur(&paced, &volume, sigma).unwrap();
        assert!(warpbench::gpu::pacing::submissions() - before > 3);
        assert!(a.data() == b.data(), "σ {sigma:?}: paced smoothing differs");
    }
}
