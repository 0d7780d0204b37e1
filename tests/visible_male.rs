//! The `ct-mr` preset on the Visible Male head (`ct-mr-visible-male/`): an 8 mm CT slab through the
//! top of the skull against an MR of 5 mm slices, in unrelated frames (their headers are 380 mm
//! apart). The slab must land on the MR's top slices with a small rotation (looked at: the head's
//! outline then matches; a start from the centres of mass put it at mid-brain, tilted by 51°).

mod common;

use warpbench::gpu::GpuContext;
use warpbench::register::config::RegistrationConfig;
use warpbench::register::pipeline::Registration;
use warpbench::volume::nifti_io::read_scalar;

#[test]
fn ct_slab_lands_on_the_top_of_the_mr_head() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let mr = read_scalar(&common::shared_file(
        &data,
        "ct-mr-visible-male/vm_head_mri.nii.gz",
    ))
    .unwrap();
    let ct = read_scalar(&common::shared_file(
        &data,
        "ct-mr-visible-male/vm_head_ct.nii.gz",
    ))
    .unwrap();
    let ctx = GpuContext::new().unwrap();
    let config = RegistrationConfig::preset("ct-mr").unwrap();
    let mut registration = Registration::new(&ctx, mr.clone(), ct.clone(), config).unwrap();
    while !registration.is_done() {
        registration.step().unwrap();
    }
    let field = registration.displacement().unwrap();
    assert!(field.data().iter().flatten().all(|v| v.is_finite()));
    // The affine maps MR world to CT world: where in the MR does the slab's centre sit?
    let affine = registration.affine();
    let slab_in_mr = affine.inverse().unwrap().apply(ct.grid().centre_mm());
    let (lo, hi) = mr.grid().world_bounds_mm();
    let height = (slab_in_mr[2] - lo[2]) / (hi[2] - lo[2]);
    let r = affine.linear();
    let angle = ((r[0][0] + r[1][1] + r[2][2] - 1.0) / 2.0)
        .clamp(-1.0, 1.0)
        .acos()
        .to_degrees();
    eprintln!(
        "slab centre at MR {slab_in_mr:.1?} ({:.0} % of the MR's height), rotation {angle:.1}°",
        100.0 * height
    );
    assert!(
        height > 0.8 && height < 1.0,
        "slab at {:.0} %",
        100.0 * height
    );
    assert!(angle < 10.0, "rotation {angle:.1}°");

    // The Images tab's joint histogram: nothing overlaps as loaded; the registered slab's
    // intensities predict the MR's better than the same slab 15 mm lower.
    use warpbench::eval::joint_histogram::{JointHistogram, Region, joint_histogram_through};
    use warpbench::volume::warp::displacement_at;
    let range = |image: &warpbench::volume::ScalarVolume| {
        let [lo, hi] = image.quantiles([0.001, 0.999]);
        (lo as f64, hi as f64)
    };
    let empty = JointHistogram::new(64, [range(&mr), range(&ct)]);
    let nmi_through = |offset_mm: f64| {
        let joint = joint_histogram_through(
            &mr,
            &ct,
            |p| {
                let u = displacement_at(&field, p);
                [p[0] + u[0], p[1] + u[1], p[2] + u[2] + offset_mm]
            },
            (Region::Everywhere, None),
            250_000,
            empty.clone(),
        );
        joint.histogram.information().map(|(_, nmi)| nmi)
    };
    let as_loaded = joint_histogram_through(
        &mr,
        &ct,
        |p| p,
        (Region::Everywhere, None),
        250_000,
        empty.clone(),
    )
    .histogram;
    assert_eq!(as_loaded.information(), None);
    let (registered, lower) = (nmi_through(0.0).unwrap(), nmi_through(15.0).unwrap());
    eprintln!("joint histogram NMI: registered {registered:.4}, 15 mm lower {lower:.4}");
    assert!(registered > lower + 0.05, "{registered} vs {lower}");
}

/// The window's Images tab on this pair: the headers as read, CT values binned by whole
/// Hounsfield levels, and the two boxes apart as loaded.
#[test]
fn the_window_reads_the_headers_bins_whole_levels_and_sees_the_images_apart() {
    use warpbench::app::state::LayerFacts;
    use warpbench::case::CaseFiles;
    use warpbench::volume::nifti_io::{AffineSource, DataType};
    let Some(data) = common::shared_data() else {
        return;
    };
    let files = CaseFiles {
        fixed: Some(common::shared_file(
            &data,
            "ct-mr-visible-male/vm_head_mri.nii.gz",
        )),
        moving: Some(common::shared_file(
            &data,
            "ct-mr-visible-male/vm_head_ct.nii.gz",
        )),
        ..Default::default()
    };
    let case = files
        .load(&std::sync::atomic::AtomicBool::new(false), |_, _| {})
        .unwrap();
    let facts = LayerFacts::of(&case);
    for header in [&facts.headers.fixed, &facts.headers.moving] {
        let header = header.as_ref().expect("a header read from the file");
        assert_eq!(header.dtype, DataType::I16);
        assert_eq!(header.affine_source, AffineSource::Sform);
    }
    let ct = &facts.moving_histogram;
    assert_eq!(ct.width.fract(), 0.0, "whole levels per bin: {}", ct.width);
    assert_eq!(
        ct.start.fract().abs(),
        0.5,
        "bins centred on levels: {}",
        ct.start
    );
    assert_eq!(ct.total() as usize, case.moving.grid().voxel_count());
    assert_eq!(case.fixed.grid().box_covered_by(case.moving.grid()), 0.0);
}
