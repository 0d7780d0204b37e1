//! CT–MR registration with the `ct-mr` preset (rigid, then MIND-SSC deformable) on the porcine
//! specimen (`ct-mr-porcine`): the MR is registered to the CT, and so is a copy of the MR moved by
//! a known rigid transform (resampled onto a grid large enough to keep all of it); both results
//! must agree through the known transform within 1 mm mean over points inside the specimen.

mod common;

use std::time::Instant;
use warpbench::gpu::GpuContext;
use warpbench::register::affine::rotation;
use warpbench::register::config::RegistrationConfig;
use warpbench::register::deformable::affine_displacement;
use warpbench::register::pipeline::Registration;
use warpbench::volume::nifti_io::read_scalar;
use warpbench::volume::warp::{displacement_at, warp_scalar};
use warpbench::volume::{Affine, Grid, ScalarVolume, VectorField};

fn register(ctx: &GpuContext, fixed: &ScalarVolume, moving: ScalarVolume) -> VectorField {
    let started = Instant::now();
    let config = RegistrationConfig::preset("ct-mr").unwrap();
    let mut registration = Registration::new(ctx, fixed.clone(), moving, config).unwrap();
    while !registration.is_done() {
        registration.step().unwrap();
    }
    eprintln!(
        "registered in {:.0} s ({:?})",
        started.elapsed().as_secs_f64(),
        registration.stage_seconds()
    );
    registration.displacement().unwrap()
}

#[test]
fn ct_mr_results_agree_through_a_known_rigid_transform() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let ct = read_scalar(&common::shared_file(&data, "ct-mr-porcine/ct_1mm.nii.gz")).unwrap();
    let mr = read_scalar(&common::shared_file(
        &data,
        "ct-mr-porcine/mr_t2_1mm.nii.gz",
    ))
    .unwrap();

    // T: 12° about an oblique axis and 18 mm, about the MR's centre; the moved copy shows at T(y)
    // what the MR shows at y, so it samples the MR at T⁻¹(z).
    let c = mr.grid().centre_mm();
    let r = rotation([8f64.to_radians(), -6f64.to_radians(), 6f64.to_radians()]);
    let rc: [f64; 3] = std::array::from_fn(|i| (0..3).map(|k| r[i][k] * c[k]).sum());
    let shift = [12.0, -10.0, 9.0];
    let known =
        Affine::from_linear_translation(r, std::array::from_fn(|i| c[i] - rc[i] + shift[i]));
    let angle = ((r[0][0] + r[1][1] + r[2][2] - 1.0) / 2.0)
        .acos()
        .to_degrees();
    let distance = shift.iter().map(|v| v * v).sum::<f64>().sqrt();
    assert!(angle >= 10.0 && distance >= 15.0, "{angle}°, {distance} mm");
    let inverse = known.inverse().unwrap();
    // The moved copy is resampled onto the MR's grid grown by 40 voxels each side, so it loses
    // no anatomy: the results must then agree up to interpolation. (Cropped to the MR's own grid,
    // part of the specimen goes missing and reads as background, a different experiment.)
    let pad = Affine::from_linear_translation(Affine::IDENTITY.linear(), [-40.0; 3]);
    let padded = Grid::new(
        mr.grid().dims().map(|n| n + 80),
        mr.grid().world_from_voxel().then_after(&pad),
    )
    .unwrap();
    let moved = warp_scalar(&mr, &affine_displacement(&inverse, &padded), 0.0);

    let ctx = GpuContext::new().unwrap();
    let first = register(&ctx, &ct, mr);
    let second = register(&ctx, &ct, moved);

    // Points on a 10 mm lattice inside the specimen (soft tissue and bone).
    let grid = ct.grid();
    let [nx, ny, nz] = grid.dims();
    let mut errors = Vec::new();
    for k in (0..nz).step_by(10) {
        for j in (0..ny).step_by(10) {
            for i in (0..nx).step_by(10) {
                if ct.at(i, j, k) < -200.0 {
                    continue;
                }
                let x = grid.voxel_to_world([i as f64, j as f64, k as f64]);
                let map = |field: &VectorField| {
                    let d = displacement_at(field, x);
                    std::array::from_fn::<f64, 3, _>(|a| x[a] + d[a])
                };
                let (y1, y2) = (map(&first), map(&second));
                let expected = known.apply(y1);
                let e = (0..3).map(|a| (y2[a] - expected[a]).powi(2)).sum::<f64>();
                errors.push(e.sqrt());
            }
        }
    }
    assert!(errors.len() >= 300, "{} points", errors.len());
    let mean = errors.iter().sum::<f64>() / errors.len() as f64;
    let max = errors.iter().cloned().fold(0.0, f64::max);
    eprintln!(
        "{} points: disagreement mean {mean:.2} mm, max {max:.2} mm (known transform {angle:.1}°, {distance:.1} mm)",
        errors.len()
    );
    assert!(mean <= 1.0, "mean disagreement {mean:.2} mm");
}
