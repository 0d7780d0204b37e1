//! The `ct-mr` preset on a contrast change: the demo case built at 1 mm from the MNI152 2009a
//! templates (a known smooth deformation with a rotation of about 7° and 5 mm of translation, a
//! moving image on another grid and orientation, T2-like contrast: inverted and non-monotonic) is
//! registered back; landmark TRE over 634 points inside the brain must be ≤ 0.8 mm and the mean
//! Dice of left/right grey and white matter ≥ 0.92.

mod common;

use std::time::Instant;
use warpbench::eval::{EvalInputs, SlowMeasures, evaluate};
use warpbench::gpu::GpuContext;
use warpbench::register::config::RegistrationConfig;
use warpbench::register::pipeline::Registration;

#[test]
fn ct_mr_preset_registers_a_contrast_change() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let t1 = common::shared_file(
        &data,
        "mni152-2009a/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    );
    let mni = t1.parent().unwrap();
    let case = warpbench::demo::generate(mni, 1.0).unwrap();
    assert!(case.fixed_landmarks.len() >= 300);

    let ctx = GpuContext::new().unwrap();
    let started = Instant::now();
    let config = RegistrationConfig::preset("ct-mr").unwrap();
    let mut registration =
        Registration::new(&ctx, case.fixed.clone(), case.moving.clone(), config).unwrap();
    while !registration.is_done() {
        registration.step().unwrap();
    }
    let field = registration.displacement().unwrap();
    let report = evaluate(
        &EvalInputs {
            field: &field,
            fixed_labels: Some(&case.fixed_labels),
            moving_labels: Some(&case.moving_labels),
            warped_labels: None,
            landmarks: Some((&case.fixed_landmarks, &case.moving_landmarks)),
            images: None,
            warped_image: None,
            label_table: None,
        },
        SlowMeasures::NONE,
    )
    .unwrap();
    let (dice, tre) = (report.dice_mean.unwrap(), report.tre_mean_mm.unwrap());
    eprintln!(
        "registered in {:.0} s: TRE {:.2} → {tre:.2} mm (max {:.2}), Dice {dice:.3} {:?}, \
         folding {:.1e}, SDlogJ {:.3}",
        started.elapsed().as_secs_f64(),
        report.tre_before_mm.unwrap(),
        report.tre_max_mm.unwrap(),
        report.dice,
        report.fold_fraction,
        report.sdlogj
    );
    assert!(tre <= 0.8, "mean TRE {tre:.2} mm");
    assert!(dice >= 0.92, "mean Dice {dice:.3}");
}
