//! Benchmark: wall time per kernel call on a brain-sized level (80 × 96 × 112, the 2 mm level of
//! the brain pair) and at full size (160 × 192 × 224), each call recorded, submitted and waited for
//! alone (so it includes the dispatch overhead, small next to these kernels), median of 5. `cargo bench --bench kernels`. Shows where a registration iteration's time goes.

use std::time::Instant;
use warpbench::gpu::GpuContext;
use warpbench::gpu::buffer::{read_f32, storage_f32, upload_f32};
use warpbench::gpu::kernel::dims_u32;
use warpbench::gpu::kernels::adam::{AdamKernel, AdamSettings};
use warpbench::gpu::kernels::field_gradient::FieldGradientKernel;
use warpbench::gpu::kernels::regularisers::RegularisersKernel;
use warpbench::gpu::kernels::similarity::{
    IntensityRanges, Similarity, SimilarityCall, SimilarityKernel, SimilarityLevel,
};
use warpbench::gpu::kernels::smooth::SmoothKernel;
use warpbench::gpu::kernels::velocity::VelocityExpKernel;
use warpbench::gpu::kernels::warp::{WarpCall, WarpKernel};
use warpbench::volume::mind::Descriptor;
use warpbench::volume::{Affine, Grid};

fn time(ctx: &GpuContext, mut record: impl FnMut(&mut wgpu::CommandEncoder)) -> f64 {
    let probe = storage_f32(ctx, "probe", 1).unwrap();
    let mut runs = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        record(&mut encoder);
        ctx.queue.submit([encoder.finish()]);
        read_f32(ctx, &probe, 1).unwrap();
        runs.push(start.elapsed().as_secs_f64() * 1e3);
    }
    runs.sort_by(f64::total_cmp);
    runs[2]
}

fn main() {
    let ctx = GpuContext::new().expect("a GPU adapter");
    println!("{}", ctx.describe());
    for dims in [[80, 96, 112], [160, 192, 224]] {
        let grid = Grid::axis_aligned(dims, [1.0; 3], [0.0; 3]).unwrap();
        let n = grid.voxel_count();
        let values: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
            .collect();
        let (a, b) = (
            upload_f32(&ctx, "a", &values).unwrap(),
            upload_f32(&ctx, "b", &values).unwrap(),
        );
        let (c, d) = (
            storage_f32(&ctx, "c", n).unwrap(),
            storage_f32(&ctx, "d", n).unwrap(),
        );
        // A smooth displacement (up to 0.8 mm, no folds, as in a registration's late iterations),
        // so the warp samples between voxel centres.
        let smooth_field: Vec<f32> = (0..n)
            .flat_map(|m| {
                let [i, j, k] = grid.voxel_of(m).map(|v| v as f32);
                [
                    0.8 * (0.4 * i + 0.3 * j).sin(),
                    0.8 * (0.3 * j + 0.2 * k).sin(),
                    0.8 * (0.2 * k + 0.4 * i).sin(),
                ]
            })
            .collect();
        let field = upload_f32(&ctx, "field", &smooth_field).unwrap();
        let (f1, f2) = (
            storage_f32(&ctx, "f1", 3 * n).unwrap(),
            storage_f32(&ctx, "f2", 3 * n).unwrap(),
        );
        let dims4 = dims_u32(&grid).unwrap();
        let smooth = SmoothKernel::new(&ctx).unwrap();
        let warp = WarpKernel::new(&ctx).unwrap();
        println!("\n{dims:?} ({n} voxels), ms per call:");
        let t = time(&ctx, |e| {
            smooth
                .record_blur(&ctx, e, dims4, 1, [1.0; 3], [&a, &c, &d])
                .unwrap()
        });
        println!("  gaussian σ 1, 1 channel (3 passes)   {t:8.1}");
        let t = time(&ctx, |e| {
            smooth
                .record_blur(&ctx, e, dims4, 3, [1.0; 3], [&field, &f1, &f2])
                .unwrap()
        });
        println!("  gaussian σ 1, 3 channels (3 passes)  {t:8.1}");
        let t = time(&ctx, |e| {
            smooth.record_box(&ctx, e, dims4, 2, [&a, &c, &d]).unwrap()
        });
        println!("  box r 2, 1 channel (3 passes)        {t:8.1}");
        let t = time(&ctx, |e| {
            warp.record(
                &ctx,
                e,
                &WarpCall {
                    fixed: &grid,
                    moving: &grid,
                    moving_from_fixed: &Affine::IDENTITY,
                    moving_values: &a,
                    displacement: Some(&field),
                    warped: &c,
                    gradient: Some(&f1),
                    outside: -3e38,
                },
            )
            .unwrap()
        });
        println!("  warp with gradient                   {t:8.1}");
        for metric in [
            Similarity::Mse,
            Similarity::Ncc,
            Similarity::Lncc { radius: 2 },
            Similarity::Mi { bins: 32 },
            Similarity::Nmi { bins: 32 },
            Similarity::Mind {
                descriptor: Descriptor::MIND_SSC,
            },
        ] {
            let kernel = SimilarityKernel::new(&ctx, metric).unwrap();
            let ranges = IntensityRanges {
                fixed: [0.0, 1.0],
                moving: [0.0, 1.0],
            };
            let level = SimilarityLevel {
                grid: &grid,
                moving_grid: &grid,
                fixed: &a,
                moving: &b,
                ranges,
            };
            // MIND's 12 channels do not fit one binding at the larger size on every device.
            let scratch = match kernel.scratch(&ctx, &level) {
                Ok(scratch) => scratch,
                Err(e) => {
                    println!("  similarity {metric:?}: {e}");
                    continue;
                }
            };
            let warp = WarpCall {
                fixed: &grid,
                moving: &grid,
                moving_from_fixed: &Affine::IDENTITY,
                moving_values: &a,
                displacement: None,
                warped: &b,
                gradient: None,
                outside: -3e38,
            };
            let call = SimilarityCall {
                warp: &warp,
                fixed: &a,
                dsdw: &c,
                terms: &d,
            };
            let t = time(&ctx, |e| kernel.record(&ctx, e, &scratch, &call).unwrap());
            println!("  similarity {:<26}{t:8.1}", format!("{metric:?}"));
        }
        let f3 = storage_f32(&ctx, "f3", 3 * n).unwrap();
        let det = storage_f32(&ctx, "det", n).unwrap();
        let gradient = FieldGradientKernel::new(&ctx).unwrap();
        let t = time(&ctx, |e| {
            gradient
                .record(&ctx, e, &grid, 0.05, [&a, &f1, &field, &f2, &c])
                .unwrap()
        });
        println!("  field gradient + diffusion           {t:8.1}");
        let regularisers = RegularisersKernel::new(&ctx).unwrap();
        let t = time(&ctx, |e| {
            regularisers
                .record(&ctx, e, &grid, (0.0, 60.0), [&field, &f1, &det, &f2, &c])
                .unwrap()
        });
        println!("  folding penalty + gradient           {t:8.1}");
        let adam = AdamKernel::new(&ctx).unwrap();
        let settings = AdamSettings::with_learning_rate(1.0);
        let t = time(&ctx, |e| {
            adam.record(&ctx, e, &settings, 3, 3 * n, [&f1, &f2, &f3, &field])
                .unwrap()
        });
        println!("  adam step                            {t:8.1}");
        let exp = VelocityExpKernel::new(&ctx).unwrap();
        let t = time(&ctx, |e| {
            exp.record(&ctx, e, &grid, 6, [&field, &f1, &f2]).unwrap()
        });
        println!("  velocity exp (6 squarings)           {t:8.1}");
    }
}
