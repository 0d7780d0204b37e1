//! The `mr-multicontrast` preset on one subject's T1 and PD scans (`mr-multicontrast/`: different
//! grids, 0.88 mm isotropic against 2.4 mm slices): PD to T1 and T1 to PD must give affine parts
//! that undo each other within 1 mm over the head.

mod common;

use warpbench::gpu::GpuContext;
use warpbench::register::config::RegistrationConfig;
use warpbench::register::pipeline::Registration;
use warpbench::volume::nifti_io::read_scalar;
use warpbench::volume::{Affine, ScalarVolume};

fn register(ctx: &GpuContext, fixed: &ScalarVolume, moving: &ScalarVolume, full: bool) -> Affine {
    let mut config = RegistrationConfig::preset("mr-multicontrast").unwrap();
    if !full {
        config.deformable = None;
    }
    let mut registration = Registration::new(ctx, fixed.clone(), moving.clone(), config).unwrap();
    while !registration.is_done() {
        registration.step().unwrap();
    }
    // The whole mapping must come out too (the deformable stage ran on these grids).
    let field = registration.displacement().unwrap();
    assert!(field.data().iter().flatten().all(|v| v.is_finite()));
    registration.affine()
}

#[test]
fn t1_and_pd_affines_undo_each_other() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let t1 = read_scalar(&common::shared_file(
        &data,
        "mr-multicontrast/chris_t1.nii.gz",
    ))
    .unwrap();
    let pd = read_scalar(&common::shared_file(
        &data,
        "mr-multicontrast/chris_PD.nii.gz",
    ))
    .unwrap();
    let ctx = GpuContext::new().unwrap();
    // Fixed world → moving world: T1 → PD, and PD → T1.
    let t1_to_pd = register(&ctx, &t1, &pd, true);
    let pd_to_t1 = register(&ctx, &pd, &t1, false);
    // PD → T1 → PD.
    let round_trip = t1_to_pd.then_after(&pd_to_t1);
    // Points on a 20 mm lattice of the PD's head (above its 30th percentile).
    let [p30] = pd.quantiles([0.3]);
    let grid = pd.grid();
    let [nx, ny, nz] = grid.dims();
    let mut errors = Vec::new();
    for k in (0..nz).step_by(8) {
        for j in (0..ny).step_by(24) {
            for i in (0..nx).step_by(24) {
                if pd.at(i, j, k) <= p30 {
                    continue;
                }
                let x = grid.voxel_to_world([i as f64, j as f64, k as f64]);
                let y = round_trip.apply(x);
                errors.push((0..3).map(|a| (y[a] - x[a]).powi(2)).sum::<f64>().sqrt());
            }
        }
    }
    let mean = errors.iter().sum::<f64>() / errors.len() as f64;
    let max = errors.iter().cloned().fold(0.0, f64::max);
    eprintln!(
        "{} points: round trip mean {mean:.2} mm, max {max:.2} mm",
        errors.len()
    );
    assert!(errors.len() >= 50, "{} points", errors.len());
    assert!(max <= 1.0, "round trip up to {max:.2} mm (mean {mean:.2})");
}
