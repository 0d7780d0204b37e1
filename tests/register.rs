//! The registration engine on the GPU: pyramid grids and the deformable stage recovering a known
//! deformation of the demo brain.

mod common;

use warpbench::eval::tre::tre;
use warpbench::gpu::GpuContext;
use warpbench::gpu::kernels::similarity::Similarity;
use warpbench::register::LevelSettings;
use warpbench::register::affine::{
    AffineModel, AffineRun, AffineSettings, Initialisation, rotation,
};
use warpbench::register::deformable::{DeformableRun, DeformableSettings, Regulariser, Transform};
use warpbench::register::pyramid::{Pyramid, level_grid};
use warpbench::volume::warp::warp_scalar;
use warpbench::volume::{Affine, Landmark, LandmarkSet, VectorField};

#[test]
fn level_grids_cover_the_same_extent() {
    let grid = common::oblique_grid([40, 33, 21]);
    assert!(level_grid(&grid, 1.0).unwrap().same_as(&grid, 1e-9));
    for shrink in [2.0, 3.0, 4.0] {
        let level = level_grid(&grid, shrink).unwrap();
        // The outer voxel edges coincide: fine index −½ and n−½ map to the level's −½ and m−½.
        for corner in [[-0.5, -0.5, -0.5], [39.5, 32.5, 20.5]] {
            let w = grid.voxel_to_world(corner);
            let p = level.world_to_voxel(w);
            let expected: [f64; 3] = std::array::from_fn(|a| {
                if corner[a] < 0.0 {
                    -0.5
                } else {
                    level.dims()[a] as f64 - 0.5
                }
            });
            assert!(
                (0..3).all(|a| (p[a] - expected[a]).abs() < 1e-9),
                "{p:?} vs {expected:?}"
            );
        }
    }
}

/// A smooth displacement of up to about 12 mm: three Gaussian bumps.
fn bumps(p: [f64; 3]) -> [f64; 3] {
    warpbench::demo::gaussian_bumps(
        p,
        &[
            ([-30.0, -20.0, 30.0], [10.0, 4.0, -6.0], 25.0),
            ([35.0, 10.0, 10.0], [-8.0, 8.0, 4.0], 25.0),
            ([0.0, -60.0, 20.0], [0.0, -6.0, 8.0], 22.0),
        ],
    )
}

#[test]
fn deformable_stage_recovers_a_known_deformation() {
    recovers_known_deformation(Transform::Displacement);
}

/// The same with a stationary velocity field: as accurate, and no folds by construction.
#[test]
fn velocity_field_recovers_a_known_deformation_without_folds() {
    let jac = recovers_known_deformation(Transform::Velocity { squarings: 6 });
    assert!(jac.min > 0.0, "det J min {}", jac.min);
}

/// Each regulariser's loss is reported on its own: its weighted energy at the field the step
/// starts from (where the step's gradient is taken), and nothing for a term that is off.
#[test]
fn each_loss_term_is_reported_on_its_own() {
    use warpbench::gpu::kernels::{field_gradient, regularisers};
    let ctx = GpuContext::new().unwrap();
    let grid = common::oblique_grid([14, 12, 10]);
    let n = grid.voxel_count();
    let (fixed, moving) = (
        common::random_volume(grid.clone(), 3),
        common::random_volume(grid.clone(), 4),
    );
    let close = |got: Option<f64>, want: f64| {
        got.is_some_and(|g| (g - want).abs() <= 1e-4 * want.abs() + 1e-12)
    };
    for (bending, folding) in [(0.3, 2.0), (0.0, 0.0)] {
        let settings = DeformableSettings {
            transform: Transform::Displacement,
            similarity: Similarity::Mse,
            optimiser: warpbench::register::deformable::Optimiser::Adam,
            levels: vec![LevelSettings {
                shrink: 1.0,
                iterations: 3,
                // Adam's first step moves every voxel about this far: noise images fold the field.
                learning_rate: 1.5,
                similarity: None,
            }],
            diffusion: 0.2,
            bending,
            folding,
            gradient_sigma_voxels: 0.0,
            field_sigma_voxels: 0.0,
            report_every: 1,
            label_weight: 0.0,
        };
        let mut run = DeformableRun::new(
            &ctx,
            (Pyramid::new(fixed.clone(), moving.clone()), None),
            Affine::IDENTITY,
            settings,
        )
        .unwrap();
        let at_zero = run.step().unwrap().losses.unwrap();
        assert_eq!(at_zero.regulariser(), 0.0, "{at_zero:?}");
        let u = run.current_u().unwrap();
        let losses = run.step().unwrap().losses.unwrap();
        let (_, diffusion) =
            field_gradient::reference(&grid, 0.2, &vec![0.0; n], &vec![[0.0; 3]; n], u.data());
        let (_, (bending_energy, folding_energy)) =
            regularisers::reference(&grid, (bending, folding), u.data());
        assert!(
            close(losses.diffusion, diffusion),
            "{losses:?} vs {diffusion}"
        );
        if bending > 0.0 {
            assert!(folding_energy > 0.0, "the first step should fold the field");
            assert!(
                close(losses.bending, bending_energy),
                "{losses:?} vs {bending_energy}"
            );
            assert!(
                close(losses.folding, folding_energy),
                "{losses:?} vs {folding_energy}"
            );
        } else {
            assert_eq!((losses.bending, losses.folding), (None, None));
        }
        let terms: f64 = losses.terms().skip(1).map(|(_, v)| v).sum();
        assert!((losses.regulariser() - terms).abs() < 1e-12);
    }
}

/// Registers the demo brain to itself deformed by `bumps`; checks TRE and folding and returns the
/// det J statistics.
fn recovers_known_deformation(transform: Transform) -> warpbench::eval::jacobian::JacobianStats {
    let ctx = GpuContext::new().unwrap();
    let case = warpbench::demo::load_builtin().unwrap();
    let fixed = case.fixed.clone();
    let grid = fixed.grid().clone();
    let [nx, ny, _] = grid.dims();
    let b: Vec<[f32; 3]> = (0..grid.voxel_count())
        .map(|n| {
            bumps(grid.voxel_to_world([
                (n % nx) as f64,
                ((n / nx) % ny) as f64,
                (n / (nx * ny)) as f64,
            ]))
            .map(|v| v as f32)
        })
        .collect();
    // moving(y) = fixed(y + b(y)): fixed point y + b(y) shows what moving point y shows.
    let moving = warp_scalar(&fixed, &VectorField::new(grid.clone(), b).unwrap(), 0.0);
    let moving_points = case.fixed_landmarks.clone();
    let fixed_points = LandmarkSet {
        points: moving_points
            .points
            .iter()
            .map(|p| {
                let d = bumps(p.world_mm);
                Landmark {
                    name: p.name.clone(),
                    world_mm: std::array::from_fn(|a| p.world_mm[a] + d[a]),
                }
            })
            .collect(),
    };
    let settings = DeformableSettings {
        transform,
        similarity: warpbench::gpu::kernels::similarity::Similarity::Mse,
        optimiser: warpbench::register::deformable::Optimiser::Adam,
        levels: vec![
            LevelSettings {
                shrink: 4.0,
                iterations: 100,
                learning_rate: 2.0,
                similarity: None,
            },
            LevelSettings {
                shrink: 2.0,
                iterations: 60,
                learning_rate: 1.0,
                similarity: None,
            },
        ],
        diffusion: 0.005,
        bending: 0.0,
        folding: 0.0,
        gradient_sigma_voxels: 3.0,
        field_sigma_voxels: 0.5,
        report_every: 50,
        label_weight: 0.0,
    };
    let mut run = DeformableRun::new(
        &ctx,
        (Pyramid::new(fixed, moving), None),
        Affine::IDENTITY,
        settings,
    )
    .unwrap();
    let mut level0 = Vec::new();
    while !run.is_done() {
        let report = run.step().unwrap();
        if let Some(losses) = report.losses {
            let sim = losses.similarity;
            eprintln!(
                "level {} iter {}: similarity {sim:.4e} regulariser {:.4e}",
                report.level,
                report.iteration,
                losses.regulariser()
            );
            if report.level == 0 {
                level0.push(sim);
            }
        }
    }
    let field = run.displacement().unwrap();
    let t = tre(&fixed_points, &moving_points, Some(&field)).unwrap();
    eprintln!(
        "TRE {:.2} → {:.2} mm (max {:.2})",
        t.before.mean, t.after.mean, t.after.max
    );
    assert!(t.before.mean > 2.0);
    assert!(
        t.after.mean < 0.4 * t.before.mean,
        "TRE {:.2} → {:.2}",
        t.before.mean,
        t.after.mean
    );
    assert!(
        level0[level0.len() - 1] < 0.6 * level0[0],
        "level 0 losses {level0:?}"
    );
    let jac = warpbench::eval::jacobian::jacobian_stats(
        &warpbench::eval::jacobian::jacobian_determinant(&field),
    );
    assert!(jac.fold_fraction < 1e-4, "folds: {}", jac.fold_fraction);
    jac
}

/// The demo brain moved by `known` (fixed world → moving world) onto a grid 25 mm away from the
/// fixed one, as a scan with an unrelated header would be.
fn moved_copy(known: &Affine) -> warpbench::volume::ScalarVolume {
    let case = warpbench::demo::load_builtin().unwrap();
    let fixed = case.fixed;
    let shifted = Affine::from_linear_translation(rotation([0.0; 3]), [25.0, -20.0, 10.0])
        .then_after(fixed.grid().world_from_voxel());
    let grid = warpbench::volume::Grid::new(fixed.grid().dims(), shifted).unwrap();
    let inverse = known.inverse().unwrap();
    let d = (0..grid.voxel_count())
        .map(|n| {
            let y = grid.index_to_world(n);
            let x = inverse.apply(y);
            std::array::from_fn(|a| (x[a] - y[a]) as f32)
        })
        .collect();
    warp_scalar(&fixed, &VectorField::new(grid, d).unwrap(), 0.0)
}

/// How far `found` puts each of `points` from where `known` does (mm).
fn errors_at(points: &LandmarkSet, found: &Affine, known: &Affine) -> Vec<f64> {
    points
        .points
        .iter()
        .map(|p| {
            let (a, b) = (found.apply(p.world_mm), known.apply(p.world_mm));
            (0..3).map(|i| (a[i] - b[i]).powi(2)).sum::<f64>().sqrt()
        })
        .collect()
}

fn affine_settings(model: AffineModel) -> AffineSettings {
    AffineSettings {
        model,
        similarity: Similarity::Ncc,
        initialisation: Initialisation::CentresOfMass,
        search_angles_deg: vec![-20.0, 0.0, 20.0],
        search_keep: 2,
        rigid_iterations: 30,
        levels: vec![
            LevelSettings {
                shrink: 2.0,
                iterations: 60,
                learning_rate: 2.0,
                similarity: None,
            },
            LevelSettings {
                shrink: 1.0,
                iterations: 40,
                learning_rate: 0.5,
                similarity: None,
            },
        ],
        report_every: 10,
    }
}

#[test]
fn affine_stage_recovers_known_rigid_and_affine_transforms() {
    let ctx = GpuContext::new().unwrap();
    let case = warpbench::demo::load_builtin().unwrap();
    let rigid = Affine::from_linear_translation(
        rotation([10f64.to_radians(), -5f64.to_radians(), 15f64.to_radians()]),
        [12.0, -8.0, 5.0],
    );
    let mut stretched = rotation([-8f64.to_radians(), 6f64.to_radians(), 12f64.to_radians()]);
    stretched[0] = stretched[0].map(|v| v * 1.08);
    stretched[2] = stretched[2].map(|v| v * 0.95);
    let general = Affine::from_linear_translation(stretched, [-10.0, 6.0, 14.0]);
    for (model, known) in [(AffineModel::Rigid, rigid), (AffineModel::Affine, general)] {
        let moving = moved_copy(&known);
        let mut run = AffineRun::new(
            &ctx,
            Pyramid::new(case.fixed.clone(), moving),
            affine_settings(model),
            None,
        )
        .unwrap();
        let mut losses = Vec::new();
        while !run.is_done() {
            if let Some(l) = run.step().unwrap().losses {
                losses.push(l.similarity);
            }
        }
        let errors = errors_at(&case.fixed_landmarks, &run.affine(), &known);
        let mean = errors.iter().sum::<f64>() / errors.len() as f64;
        let max = errors.iter().fold(0f64, |m, &e| m.max(e));
        eprintln!(
            "{model:?}: error at landmarks mean {mean:.3} mm, max {max:.3} mm; losses {losses:.4?}"
        );
        assert!(
            mean < 0.5 && max < 1.0,
            "{model:?}: mean {mean} mm, max {max} mm"
        );
    }
}

/// A pose no start-rotation search reaches (a quarter turn and more, 100 mm away): the affine
/// stage's own start fails on it, a start from four landmark pairs (placed 0.5 mm off) finds it.
#[test]
fn a_landmark_start_finds_a_pose_the_search_cannot() {
    let ctx = GpuContext::new().unwrap();
    let case = warpbench::demo::load_builtin().unwrap();
    let known = Affine::from_linear_translation(
        rotation([60f64.to_radians(), -10f64.to_radians(), 95f64.to_radians()]),
        [80.0, -50.0, 30.0],
    );
    let moving = moved_copy(&known);
    let mut fixed_points = LandmarkSet::default();
    let mut moving_points = LandmarkSet::default();
    for (i, p) in case
        .fixed_landmarks
        .points
        .iter()
        .step_by(5)
        .take(4)
        .enumerate()
    {
        let m = known.apply(p.world_mm);
        fixed_points.points.push(p.clone());
        moving_points.points.push(Landmark {
            name: p.name.clone(),
            world_mm: [m[0] + 0.5 * (i % 2) as f64, m[1], m[2] - 0.5],
        });
    }
    let error_at_landmarks = |settings: AffineSettings| {
        let mut run = AffineRun::new(
            &ctx,
            Pyramid::new(case.fixed.clone(), moving.clone()),
            settings,
            Some((&fixed_points, &moving_points)),
        )
        .unwrap();
        while !run.is_done() {
            run.step().unwrap();
        }
        let errors = errors_at(&case.fixed_landmarks, &run.affine(), &known);
        errors.iter().sum::<f64>() / errors.len() as f64
    };
    let own_start = error_at_landmarks(affine_settings(AffineModel::Rigid));
    let landmark_start = error_at_landmarks(AffineSettings {
        initialisation: Initialisation::Landmarks,
        ..affine_settings(AffineModel::Rigid)
    });
    eprintln!("mean error: own start {own_start:.2} mm, landmark start {landmark_start:.3} mm");
    assert!(own_start > 5.0, "the search alone found it: {own_start} mm");
    assert!(landmark_start < 0.5, "{landmark_start} mm");

    let unpaired = AffineRun::new(
        &ctx,
        Pyramid::new(case.fixed.clone(), moving),
        AffineSettings {
            initialisation: Initialisation::Landmarks,
            ..affine_settings(AffineModel::Rigid)
        },
        None,
    );
    let message = unpaired.err().expect("no landmarks").to_string();
    assert!(
        message.contains("needs fixed and moving landmarks"),
        "{message}"
    );
}

/// The `ct-mr` preset on the built-in demo, whose moving image lies on an LPS grid against an RAS
/// fixed one: descriptor channels must be compared along the same world axes (a moving image
/// left on its own axes compares left with right, and TRE grows from 8 mm to 15 mm).
#[test]
fn descriptor_registration_works_across_grid_orientations() {
    let ctx = GpuContext::new().unwrap();
    let case = warpbench::demo::load_builtin().unwrap();
    assert_ne!(
        case.fixed.grid().orientation(),
        case.moving.grid().orientation()
    );
    let config = warpbench::register::config::RegistrationConfig::preset("ct-mr").unwrap();
    let mut registration =
        warpbench::register::pipeline::Registration::new(&ctx, case.fixed, case.moving, config)
            .unwrap();
    while !registration.is_done() {
        registration.step().unwrap();
    }
    let field = registration.displacement().unwrap();
    let t = tre(&case.fixed_landmarks, &case.moving_landmarks, Some(&field)).unwrap();
    eprintln!("TRE {:.2} → {:.2} mm", t.before.mean, t.after.mean);
    assert!(t.after.mean < 2.5, "TRE {:.2} mm", t.after.mean);
}

/// The FFT translation search finds a 67 mm shift between the demo brain and an inverted-contrast
/// copy that shows only part of the head, to within its 4 mm grid.
#[test]
fn translation_search_finds_a_large_shift_across_contrast_and_field_of_view() {
    use warpbench::gpu::kernels::smooth::SmoothKernel;
    use warpbench::gpu::kernels::warp::WarpKernel;
    use warpbench::register::translation_search::best_translation;
    use warpbench::volume::resample::sample_world;

    let ctx = GpuContext::new().unwrap();
    let fixed = warpbench::demo::load_builtin().unwrap().fixed;
    let t = [35.0, -50.0, 28.0];
    // Fixed point x shows at moving point x + t; the moving scan keeps the upper 60 % of the head.
    let [nx, ny, nz] = fixed.grid().dims();
    let keep = nz * 6 / 10;
    let shift = Affine::from_linear_translation(rotation([0.0; 3]), t);
    let grid = warpbench::volume::Grid::new(
        [nx, ny, keep],
        shift
            .then_after(fixed.grid().world_from_voxel())
            .then_after(&Affine::from_linear_translation(
                rotation([0.0; 3]),
                [0.0, 0.0, (nz - keep) as f64],
            )),
    )
    .unwrap();
    let values = (0..grid.voxel_count())
        .map(|n| {
            let y = grid.index_to_world(n);
            let x = std::array::from_fn(|a| y[a] - t[a]);
            255.0 - sample_world(&fixed, x).unwrap_or(0.0)
        })
        .collect();
    let moving = warpbench::volume::ScalarVolume::new(grid, values).unwrap();
    let kernels = (
        &SmoothKernel::new(&ctx).unwrap(),
        &WarpKernel::new(&ctx).unwrap(),
    );
    let found = best_translation(&ctx, kernels, (&fixed, &moving), 4.0).unwrap();
    eprintln!("found {found:?} for {t:?}");
    assert!(
        (0..3).all(|a| (found[a] - t[a]).abs() <= 4.0),
        "found {found:?} for {t:?}"
    );
}

/// Paced runs (the window's: work submitted in small pieces so frames get in between) compute
/// what runs submitted whole compute, bit for bit: every piece of a split dispatch starts where
/// the last ended, and nothing is computed twice.
#[test]
fn paced_submissions_change_nothing_but_the_pieces() {
    use warpbench::register::pipeline::Registration;
    let whole = GpuContext::new().unwrap();
    // A few thousand invocations per submission: every dispatch of the run is cut into pieces.
    let paced = whole.with_submission_budget(3000);
    let case = warpbench::demo::load_builtin().unwrap();
    let config = short_brain_config();
    let run = |ctx: &GpuContext| {
        let before = warpbench::gpu::pacing::submissions();
        let mut r = Registration::new(ctx, case.fixed.clone(), case.moving.clone(), config.clone())
            .unwrap();
        while !r.is_done() {
            r.step().unwrap();
        }
        let pieces = warpbench::gpu::pacing::submissions() - before;
        (r.affine(), r.displacement().unwrap(), pieces)
    };
    let (a_whole, d_whole, pieces_whole) = run(&whole);
    let (a_paced, d_paced, pieces_paced) = run(&paced);
    assert_eq!(pieces_whole, 0);
    assert!(pieces_paced > 1000, "only {pieces_paced} paced submissions");
    assert_eq!(a_whole, a_paced, "the affine differs when paced");
    assert!(
        d_whole.data() == d_paced.data(),
        "the displacement differs when paced"
    );
}

/// A smoothness sweep's later points restart the deformable stage from the affine result: a
/// restarted stage computes what a fresh run with its weight computes, bit for bit, so no state
/// of the point before leaks into it.
#[test]
fn a_restarted_deformable_stage_computes_what_a_fresh_one_does() {
    use warpbench::register::pipeline::Registration;
    let ctx = GpuContext::new().unwrap();
    let case = warpbench::demo::load_builtin().unwrap();
    let config = short_brain_config();
    let finish = |r: &mut Registration| {
        while !r.is_done() {
            r.step().unwrap();
        }
    };
    let new = || {
        Registration::new(
            &ctx,
            case.fixed.clone(),
            case.moving.clone(),
            config.clone(),
        )
        .unwrap()
    };
    let mut fresh = new();
    fresh.set_weight(Regulariser::Diffusion, 2.0);
    finish(&mut fresh);
    let mut restarted = new();
    assert!(
        restarted.restart_deformable(2.0).is_err(),
        "a restart before the affine stage ended"
    );
    restarted.set_weight(Regulariser::Diffusion, 0.0);
    finish(&mut restarted);
    let first = restarted.displacement().unwrap();
    restarted.restart_deformable(2.0).unwrap();
    assert!(!restarted.is_done());
    finish(&mut restarted);
    assert_eq!(fresh.affine(), restarted.affine());
    let (a, b) = (
        fresh.displacement().unwrap(),
        restarted.displacement().unwrap(),
    );
    assert!(a.data() == b.data(), "the restarted stage differs");
    assert!(first.data() != b.data(), "the weight made no difference");
}

/// brain-mri cut short: no angle search, 4 iterations per affine level, and the two coarsest
/// deformable levels with 6 each.
fn short_brain_config() -> warpbench::register::config::RegistrationConfig {
    let mut config = warpbench::register::config::RegistrationConfig::preset("brain-mri").unwrap();
    let affine = config.affine.as_mut().unwrap();
    affine.search_angles_deg = vec![0.0];
    for level in &mut affine.levels {
        level.iterations = 4;
    }
    let deformable = config.deformable.as_mut().unwrap();
    deformable.levels.truncate(2);
    for level in &mut deformable.levels {
        level.iterations = 6;
    }
    config
}
