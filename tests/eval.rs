//! Evaluation measures against independent references: brute-force surface distances, exact
//! Jacobians of linear fields, known landmark shifts, and the demo case's known deformation.

mod common;

use common::{Rng, oblique_grid, random_volume};
use warpbench::eval::jacobian::{jacobian_determinant, jacobian_stats};
use warpbench::eval::overlap::{dice_per_label, worst30_mean};
use warpbench::eval::similarity::{mutual_information, ncc, ssim};
use warpbench::eval::surface::surface_distance;
use warpbench::eval::tre::tre;
use warpbench::volume::warp::{warp_labels, warp_scalar};
use warpbench::volume::{Grid, LabelVolume, Landmark, LandmarkSet, ScalarVolume, VectorField};

fn blob_labels(grid: &Grid, centre: [f64; 3], radius: [f64; 3], id: i32) -> LabelVolume {
    let [nx, ny, _] = grid.dims();
    let data = (0..grid.voxel_count())
        .map(|n| {
            let p = grid.voxel_to_world([
                (n % nx) as f64,
                ((n / nx) % ny) as f64,
                (n / (nx * ny)) as f64,
            ]);
            let r: f64 = (0..3)
                .map(|a| ((p[a] - centre[a]) / radius[a]).powi(2))
                .sum();
            if r <= 1.0 { id } else { 0 }
        })
        .collect();
    LabelVolume::new(grid.clone(), data).unwrap()
}

/// Brute-force directed surface distances, independent of the distance transform.
fn brute_force(a: &LabelVolume, b: &LabelVolume, id: i32) -> (f64, f64) {
    let grid = a.grid();
    let dims = grid.dims();
    let surface = |l: &LabelVolume| -> Vec<[f64; 3]> {
        let mut pts = Vec::new();
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    if l.at(i, j, k) != id {
                        continue;
                    }
                    let p = [i, j, k];
                    let edge = (0..3).any(|ax| {
                        let (mut lo, mut hi) = (p, p);
                        if p[ax] == 0 || p[ax] + 1 == dims[ax] {
                            return true;
                        }
                        lo[ax] -= 1;
                        hi[ax] += 1;
                        l.at(lo[0], lo[1], lo[2]) != id || l.at(hi[0], hi[1], hi[2]) != id
                    });
                    if edge {
                        let s = grid.spacing_mm();
                        pts.push([i as f64 * s[0], j as f64 * s[1], k as f64 * s[2]]);
                    }
                }
            }
        }
        pts
    };
    let (sa, sb) = (surface(a), surface(b));
    let directed = |from: &[[f64; 3]], to: &[[f64; 3]]| -> Vec<f64> {
        from.iter()
            .map(|p| {
                to.iter()
                    .map(|q| (0..3).map(|i| (p[i] - q[i]).powi(2)).sum::<f64>().sqrt())
                    .fold(f64::INFINITY, f64::min)
            })
            .collect()
    };
    let (mut ab, mut ba) = (directed(&sa, &sb), directed(&sb, &sa));
    let assd = (ab.iter().sum::<f64>() + ba.iter().sum::<f64>()) / (ab.len() + ba.len()) as f64;
    let p95 = |v: &mut Vec<f64>| warpbench::eval::surface::percentile(v, 95.0);
    (p95(&mut ab).max(p95(&mut ba)), assd)
}

#[test]
fn surface_distances_match_brute_force_on_anisotropic_grids() {
    let grid = Grid::axis_aligned([30, 26, 14], [0.8, 1.1, 2.5], [0.0; 3]).unwrap();
    let a = blob_labels(&grid, [12.0, 14.0, 16.0], [7.0, 9.0, 10.0], 5);
    let b = blob_labels(&grid, [14.5, 12.0, 18.0], [6.0, 8.0, 12.0], 5);
    let ours = surface_distance(&a, &b, 5).unwrap();
    let (hd95, assd) = brute_force(&a, &b, 5);
    assert!(
        (ours.hd95_mm - hd95).abs() < 1e-9,
        "HD95 {} vs {hd95}",
        ours.hd95_mm
    );
    assert!(
        (ours.assd_mm - assd).abs() < 1e-9,
        "ASSD {} vs {assd}",
        ours.assd_mm
    );
    assert!(ours.hd95_mm > 1.0);
    let same = surface_distance(&a, &a, 5).unwrap();
    assert_eq!((same.hd95_mm, same.assd_mm), (0.0, 0.0));
    assert!(surface_distance(&a, &b, 7).is_none());
}

#[test]
fn dice_and_worst30() {
    let grid = Grid::axis_aligned([10, 10, 10], [1.0; 3], [0.0; 3]).unwrap();
    let a = LabelVolume::new(
        grid.clone(),
        (0..1000).map(|n| if n < 500 { 1 } else { 2 }).collect(),
    )
    .unwrap();
    let b = LabelVolume::new(
        grid,
        (0..1000).map(|n| if n < 400 { 1 } else { 2 }).collect(),
    )
    .unwrap();
    let d = dice_per_label(&a, &b, &[1, 2]);
    assert!((d[&1] - 800.0 / 900.0).abs() < 1e-12);
    assert!((d[&2] - 1000.0 / 1100.0).abs() < 1e-12);
    let values: Vec<f64> = (1..=10).map(|v| v as f64 / 10.0).collect();
    assert!((worst30_mean(&values) - 0.2).abs() < 1e-12);
}

fn linear_field(grid: &Grid, m: [[f64; 3]; 3]) -> VectorField {
    let [nx, ny, _] = grid.dims();
    let data = (0..grid.voxel_count())
        .map(|n| {
            let p = grid.voxel_to_world([
                (n % nx) as f64,
                ((n / nx) % ny) as f64,
                (n / (nx * ny)) as f64,
            ]);
            std::array::from_fn(|r| (0..3).map(|c| m[r][c] * p[c]).sum::<f64>() as f32)
        })
        .collect();
    VectorField::new(grid.clone(), data).unwrap()
}

#[test]
fn jacobian_of_linear_fields_is_exact_on_oblique_grids() {
    let grid = oblique_grid([9, 8, 7]);
    let m = [[0.1, -0.2, 0.05], [0.3, 0.2, 0.0], [-0.1, 0.1, -0.3]];
    let det = jacobian_determinant(&linear_field(&grid, m));
    let j: [[f64; 3]; 3] =
        std::array::from_fn(|r| std::array::from_fn(|c| m[r][c] + (r == c) as u8 as f64));
    let expected = j[0][0] * (j[1][1] * j[2][2] - j[1][2] * j[2][1])
        - j[0][1] * (j[1][0] * j[2][2] - j[1][2] * j[2][0])
        + j[0][2] * (j[1][0] * j[2][1] - j[1][1] * j[2][0]);
    for &v in det.data() {
        assert!((v as f64 - expected).abs() < 1e-4, "{v} vs {expected}");
    }
    let stats = jacobian_stats(&det);
    assert_eq!(stats.fold_fraction, 0.0);
    assert!(stats.sdlogj < 1e-4);
    let folding = jacobian_stats(&jacobian_determinant(&linear_field(
        &grid,
        [[-2.0, 0.0, 0.0], [0.0; 3], [0.0; 3]],
    )));
    assert_eq!(stats.folded_voxels, 0);
    assert_eq!(folding.fold_fraction, 1.0);
}

#[test]
fn tre_of_a_known_shift() {
    let grid = Grid::axis_aligned([20, 20, 20], [1.0; 3], [-10.0; 3]).unwrap();
    let shift = [1.0f32, 2.0, 2.0];
    let field = VectorField::new(grid.clone(), vec![shift; grid.voxel_count()]).unwrap();
    let mut rng = Rng::new(5);
    let fixed = LandmarkSet {
        points: (0..20)
            .map(|i| Landmark {
                name: Some(format!("p{i}")),
                world_mm: [
                    rng.range(-9.0, 9.0),
                    rng.range(-9.0, 9.0),
                    rng.range(-9.0, 9.0),
                ],
            })
            .collect(),
    };
    let moving = LandmarkSet {
        points: fixed
            .points
            .iter()
            .map(|p| Landmark {
                name: p.name.clone(),
                world_mm: std::array::from_fn(|a| p.world_mm[a] + shift[a] as f64),
            })
            .collect(),
    };
    let report = tre(&fixed, &moving, Some(&field)).unwrap();
    assert!((report.before.mean - 3.0).abs() < 1e-9);
    assert!(report.after.max < 1e-6);
}

#[test]
fn warping_by_whole_voxel_shifts_and_zero() {
    let vol = random_volume(
        Grid::axis_aligned([12, 10, 8], [2.0, 1.0, 1.5], [5.0, -3.0, 0.0]).unwrap(),
        8,
    );
    let zero = VectorField::zeros(vol.grid().clone());
    assert_eq!(warp_scalar(&vol, &zero, f32::NAN).data(), vol.data());
    let shift = VectorField::new(
        vol.grid().clone(),
        vec![[4.0, 0.0, -1.5]; vol.grid().voxel_count()],
    )
    .unwrap();
    let warped = warp_scalar(&vol, &shift, f32::NAN);
    assert_eq!(warped.at(3, 4, 5), vol.at(5, 4, 4));
    assert!(warped.at(11, 4, 5).is_nan());
    let labels = LabelVolume::new(
        vol.grid().clone(),
        vol.data().iter().map(|v| *v as i32).collect(),
    )
    .unwrap();
    assert_eq!(warp_labels(&labels, &shift).at(3, 4, 5), labels.at(5, 4, 4));
}

#[test]
fn similarity_measures_at_their_extremes() {
    let a = random_volume(oblique_grid([16, 15, 14]), 21);
    let inverted = ScalarVolume::new(
        a.grid().clone(),
        a.data().iter().map(|v| 3.0 - 2.0 * v).collect(),
    )
    .unwrap();
    assert!((ncc(&a, &a) - 1.0).abs() < 1e-9);
    assert!((ncc(&a, &inverted) + 1.0).abs() < 1e-9);
    let (mi, nmi) = mutual_information(&a, &a);
    assert!(mi > 3.0 && (nmi - 2.0).abs() < 1e-9, "MI {mi} NMI {nmi}");
    let noise = random_volume(a.grid().clone(), 22);
    assert!(mutual_information(&a, &noise).0 < 0.2 * mi);
    assert!((ssim(&a, &a) - 1.0).abs() < 1e-6);
    assert!(ssim(&a, &noise) < 0.2);
}

#[test]
fn eval_command_scores_the_demo_with_its_known_deformation() {
    let dir = tempfile::tempdir().unwrap();
    let case = warpbench::demo::load_builtin().unwrap();
    let phi = warpbench::demo::DemoDeformation::default();
    let grid = case.fixed.grid().clone();
    let [nx, ny, _] = grid.dims();
    // Fixed x corresponds to moving φ⁻¹(x): u(x) = φ⁻¹(x) − x.
    let exact: Vec<[f32; 3]> = (0..grid.voxel_count())
        .map(|n| {
            let x = grid.voxel_to_world([
                (n % nx) as f64,
                ((n / nx) % ny) as f64,
                (n / (nx * ny)) as f64,
            ]);
            let y = phi.moving_from_fixed(x);
            std::array::from_fn(|a| (y[a] - x[a]) as f32)
        })
        .collect();
    let d = dir.path();
    case.write(d).unwrap();
    let field_path = d.join("exact.nii.gz");
    warpbench::volume::nifti_io::write_displacement(
        &field_path,
        &VectorField::new(grid.clone(), exact).unwrap(),
    )
    .unwrap();
    let zero_path = d.join("zero.nii.gz");
    warpbench::volume::nifti_io::write_displacement(&zero_path, &VectorField::zeros(grid)).unwrap();
    let score = |field: &std::path::Path, out: &str| -> serde_json::Value {
        let s = |p: &str| d.join(p).to_string_lossy().into_owned();
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_warpbench"))
            .args([
                "eval",
                "--fixed",
                &s("fixed_t1.nii.gz"),
                "--moving",
                &s("moving_t2like.nii.gz"),
            ])
            .args(["--displacement", field.to_str().unwrap()])
            .args([
                "--fixed-labels",
                &s("fixed_labels.nii.gz"),
                "--moving-labels",
                &s("moving_labels.nii.gz"),
                "--label-names",
                &s("labels.txt"),
            ])
            .args([
                "--fixed-landmarks",
                &s("fixed_landmarks.csv"),
                "--moving-landmarks",
                &s("moving_landmarks.csv"),
            ])
            .args(["--out", &s(out)])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_str(&std::fs::read_to_string(d.join(out)).unwrap()).unwrap()
    };
    let exact = score(&field_path, "exact.json");
    let zero = score(&zero_path, "zero.json");
    let f = |v: &serde_json::Value, k: &str| {
        v[k].as_f64()
            .unwrap_or_else(|| panic!("{k} missing in {v}"))
    };
    assert!(f(&exact, "tre_before_mm") > 3.0);
    assert!(
        f(&exact, "tre_mean_mm") < 0.2,
        "TRE with the exact field: {}",
        f(&exact, "tre_mean_mm")
    );
    assert!(f(&zero, "tre_mean_mm") > 3.0);
    assert!(f(&exact, "dice_mean") > f(&zero, "dice_mean") + 0.15);
    assert!(f(&exact, "hd95_mean") < f(&zero, "hd95_mean"));
    assert_eq!(f(&exact, "fold_fraction"), 0.0);
    assert_eq!(f(&exact, "ndv_fraction"), 0.0);
    assert!(f(&exact, "nmi") > f(&zero, "nmi"));
    assert_eq!(exact["dice"].as_object().unwrap().len(), 4);
    assert_eq!(exact["label_names"]["1"], "left grey matter");
}

#[test]
fn eval_with_the_fixed_labels_alone_reports_how_far_each_structure_moved() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let case = warpbench::demo::load_builtin().unwrap();
    case.write(d).unwrap();
    let shift = [2.0f32, -3.0, 6.0];
    let grid = case.fixed.grid().clone();
    let field = VectorField::new(grid.clone(), vec![shift; grid.voxel_count()]).unwrap();
    let field_path = d.join("shift.nii.gz");
    warpbench::volume::nifti_io::write_displacement(&field_path, &field).unwrap();
    let s = |p: &str| d.join(p).to_string_lossy().into_owned();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_warpbench"))
        .args(["eval", "--fixed", &s("fixed_t1.nii.gz")])
        .args(["--displacement", &s("shift.nii.gz")])
        .args(["--fixed-labels", &s("fixed_labels.nii.gz")])
        .args(["--out", &s("motion.json")])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("motion.json")).unwrap()).unwrap();
    assert!(v["dice_mean"].is_null(), "no moving labels, no overlap");
    let motion = v["motion"].as_object().unwrap();
    assert_eq!(
        motion.keys().collect::<Vec<_>>(),
        ["1", "2", "3", "4"],
        "every structure of the fixed labels"
    );
    for (id, m) in motion {
        for key in ["mean_mm", "p95_mm", "max_mm"] {
            let length = m[key].as_f64().unwrap();
            assert!((length - 7.0).abs() < 1e-4, "label {id} {key} {length}");
        }
        let ras: Vec<f64> = m["shift_ras_mm"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        for (a, b) in ras.iter().zip(shift) {
            assert!((a - b as f64).abs() < 1e-4, "label {id} shift {ras:?}");
        }
        assert!(m["voxels"].as_u64().unwrap() > 0);
    }
}
