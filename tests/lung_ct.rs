//! The full-resolution lung CT (512×512×141, 37 M voxels: larger than one storage binding on
//! lavapipe) registered with the `lung-ct` preset onto a copy of itself warped by a known smooth
//! deformation; the target registration error over points inside the body must be ≤ 1 mm, and
//! two ball-shaped structures must be reported as moving as far as the deformation moved them.

mod common;

use std::time::Instant;
use warpbench::eval::tre::tre;
use warpbench::eval::{Scoring, SlowMeasures, evaluate};
use warpbench::gpu::GpuContext;
use warpbench::register::config::RegistrationConfig;
use warpbench::register::pipeline::Registration;
use warpbench::volume::nifti_io::read_scalar;
use warpbench::volume::warp::warp_scalar;
use warpbench::volume::{LabelVolume, Landmark, LandmarkSet, VectorField};

/// A smooth displacement (mm) peaking above 10 mm: breathing-like bumps around `centre`.
fn known(centre: [f64; 3], p: [f64; 3]) -> [f64; 3] {
    warpbench::demo::gaussian_bumps(
        std::array::from_fn(|a| p[a] - centre[a]),
        &[
            ([-50.0, 0.0, -30.0], [4.0, 3.0, 13.0], 80.0),
            ([50.0, 20.0, -20.0], [-5.0, 4.0, 11.0], 80.0),
            ([0.0, -30.0, 40.0], [3.0, -10.0, -4.0], 90.0),
        ],
    )
}

#[test]
fn lung_ct_recovers_a_known_deformation_at_full_resolution() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let path = common::shared_file(&data, "lung-ct/ct_phase00.nii.gz");
    let started = Instant::now();
    let fixed = read_scalar(&path).unwrap();
    let grid = fixed.grid().clone();
    assert!(grid.voxel_count() > 30_000_000, "the full-resolution scan");
    let centre = grid.centre_mm();
    let w: Vec<[f32; 3]> = (0..grid.voxel_count())
        .map(|n| known(centre, grid.index_to_world(n)).map(|v| v as f32))
        .collect();
    let peak = w
        .iter()
        .map(|d| d.iter().map(|v| v * v).sum::<f32>().sqrt())
        .fold(0.0, f32::max);
    assert!(peak >= 10.0, "peak displacement {peak} mm");
    // moving(y) = fixed(y + w(y)): moving point y shows what fixed point y + w(y) shows.
    let moving = warp_scalar(&fixed, &VectorField::new(grid.clone(), w).unwrap(), -1024.0);

    // Points on a 20 mm lattice in the body's soft tissue (HU −300 to 300), clear of the edges.
    let [nx, ny, nz] = grid.dims();
    let step = [20, 20, 10];
    let (mut moving_points, mut fixed_points) = (Vec::new(), Vec::new());
    for k in (nz / 10..nz - nz / 10).step_by(step[2]) {
        for j in (ny / 10..ny - ny / 10).step_by(step[1]) {
            for i in (nx / 10..nx - nx / 10).step_by(step[0]) {
                let hu = fixed.at(i, j, k);
                if !(-300.0..300.0).contains(&hu) {
                    continue;
                }
                let y = grid.voxel_to_world([i as f64, j as f64, k as f64]);
                let d = known(centre, y);
                let name = Some(format!("p{}", moving_points.len()));
                moving_points.push(Landmark {
                    name: name.clone(),
                    world_mm: y,
                });
                fixed_points.push(Landmark {
                    name,
                    world_mm: std::array::from_fn(|a| y[a] + d[a]),
                });
            }
        }
    }
    assert!(moving_points.len() >= 300, "{} points", moving_points.len());
    let moving_points = LandmarkSet {
        points: moving_points,
    };
    let fixed_points = LandmarkSet {
        points: fixed_points,
    };

    eprintln!(
        "moving image made in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let ctx = GpuContext::new().unwrap();
    let config = RegistrationConfig::preset("lung-ct").unwrap();
    let registering = Instant::now();
    let mut registration = Registration::new(&ctx, fixed, moving, config).unwrap();
    while !registration.is_done() {
        registration.step().unwrap();
    }
    eprintln!(
        "registered in {:.0} s ({:?})",
        registering.elapsed().as_secs_f64(),
        registration.stage_seconds()
    );
    let field = registration.displacement().unwrap();
    assert_eq!(field.grid().dims(), grid.dims(), "a full-resolution field");
    let t = tre(&fixed_points, &moving_points, Some(&field)).unwrap();
    eprintln!(
        "{} points, peak {peak:.1} mm: TRE {:.2} → {:.2} mm (median {:.2}, max {:.2}) in {:.0} s",
        moving_points.points.len(),
        t.before.mean,
        t.after.mean,
        t.after.median,
        t.after.max,
        started.elapsed().as_secs_f64()
    );
    assert!(t.before.mean > 3.0, "the deformation moves the points");
    assert!(t.after.mean <= 1.0, "mean TRE {:.2} mm", t.after.mean);

    // Balls of 20 mm radius on the first bump (label 1) and 150 mm from the centre (label 2).
    let balls = [(1, [-50.0, 0.0, -30.0]), (2, [0.0, 150.0, 0.0])];
    let label_of = |p: [f64; 3]| {
        balls.iter().find_map(|&(id, c)| {
            let r2: f64 = (0..3).map(|a| (p[a] - centre[a] - c[a]).powi(2)).sum();
            (r2 <= 400.0).then_some(id)
        })
    };
    let labels: Vec<i32> = (0..grid.voxel_count())
        .map(|n| label_of(grid.index_to_world(n)).unwrap_or(0))
        .collect();
    let labels = LabelVolume::new(grid.clone(), labels).unwrap();
    let report = evaluate(
        &Scoring {
            fixed_labels: Some(std::sync::Arc::new(labels.clone())),
            ..Default::default()
        }
        .inputs(&field),
        SlowMeasures::NONE,
    )
    .unwrap();
    for (id, _) in balls {
        // Fixed x shows moving y with y + w(y) = x: its displacement is y − x.
        let (mut length, mut shift, mut n) = (0.0, [0.0; 3], 0.0);
        for (index, _) in labels.data().iter().enumerate().filter(|(_, l)| **l == id) {
            let x = grid.index_to_world(index);
            let mut y = x;
            for _ in 0..20 {
                let w = known(centre, y);
                y = std::array::from_fn(|a| x[a] - w[a]);
            }
            let d: [f64; 3] = std::array::from_fn(|a| y[a] - x[a]);
            length += d.iter().map(|v| v * v).sum::<f64>().sqrt();
            (0..3).for_each(|a| shift[a] += d[a]);
            n += 1.0;
        }
        let m = &report.motion[&id.to_string()];
        let (length, shift) = (length / n, shift.map(|s| s / n));
        eprintln!(
            "label {id}: moved {:.2} mm (known {length:.2}), shift {:?} (known {shift:?})",
            m.mean_mm, m.shift_ras_mm
        );
        assert!(
            (m.mean_mm - length).abs() <= 1.0,
            "label {id}: {m:?}, known {length:.2} mm"
        );
        for a in 0..3 {
            assert!(
                (m.shift_ras_mm[a] - shift[a]).abs() <= 1.0,
                "label {id}: {m:?}, known {shift:?}"
            );
        }
    }
    let on_the_bump = report.motion["1"].mean_mm;
    assert!(
        on_the_bump > 8.0,
        "label 1 sits on a bump: {on_the_bump:.2} mm"
    );
}
