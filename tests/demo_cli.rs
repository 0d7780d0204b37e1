//! The built-in demo case and the `warpbench` binary's headless commands.

mod common;

use std::process::Command;
use warpbench::demo::{DemoDeformation, load_builtin};
use warpbench::volume::resample::resample_labels;
use warpbench::volume::{Affine, Grid, LabelVolume};

#[test]
fn demo_case_is_consistent_with_its_known_deformation() {
    let case = load_builtin().unwrap();
    assert_eq!(case.fixed.grid().orientation(), "RAS");
    assert_eq!(case.moving.grid().orientation(), "LPS");
    assert!(case.fixed_landmarks.len() >= 40);
    assert_eq!(case.fixed_landmarks.len(), case.moving_landmarks.len());
    assert_eq!(case.fixed_labels.ids(), vec![1, 2, 3, 4]);
    assert_eq!(case.moving_labels.ids(), vec![1, 2, 3, 4]);

    let phi = DemoDeformation::default();
    let mut largest_shift: f64 = 0.0;
    for (f, m) in case
        .fixed_landmarks
        .points
        .iter()
        .zip(&case.moving_landmarks.points)
    {
        let x = phi.fixed_from_moving(m.world_mm);
        assert!(
            (0..3).all(|a| (x[a] - f.world_mm[a]).abs() < 1e-3),
            "{:?}: {x:?} vs {:?}",
            f.name,
            f.world_mm
        );
        let d: f64 = (0..3)
            .map(|a| (m.world_mm[a] - f.world_mm[a]).powi(2))
            .sum::<f64>()
            .sqrt();
        largest_shift = largest_shift.max(d);
    }
    assert!(
        largest_shift > 5.0,
        "the deformation should move landmarks visibly ({largest_shift} mm)"
    );

    // Fixed labels pulled through φ onto the moving grid overlap the moving labels.
    let grid = case.moving.grid();
    let [nx, ny, _] = grid.dims();
    let pulled: Vec<i32> = (0..grid.voxel_count())
        .map(|n| {
            let y = grid.voxel_to_world([
                (n % nx) as f64,
                ((n / nx) % ny) as f64,
                (n / (nx * ny)) as f64,
            ]);
            let v = case
                .fixed_labels
                .grid()
                .world_to_voxel(phi.fixed_from_moving(y))
                .map(|c| c.round());
            let d = case.fixed_labels.grid().dims();
            if (0..3).all(|a| v[a] >= 0.0 && v[a] < d[a] as f64) {
                case.fixed_labels
                    .at(v[0] as usize, v[1] as usize, v[2] as usize)
            } else {
                0
            }
        })
        .collect();
    let pulled = LabelVolume::new(grid.clone(), pulled).unwrap();
    let dice_pulled = dice(&pulled, &case.moving_labels);
    let dice_unregistered = dice(
        &resample_labels(&case.fixed_labels, grid),
        &case.moving_labels,
    );
    assert!(dice_pulled > 0.8, "labels through φ: Dice {dice_pulled}");
    assert!(
        dice_unregistered < dice_pulled - 0.15,
        "unregistered Dice {dice_unregistered} too high"
    );
}

fn dice(a: &LabelVolume, b: &LabelVolume) -> f64 {
    let ids = a.ids();
    let per: Vec<f64> = ids
        .iter()
        .map(|&id| {
            let (mut both, mut na, mut nb) = (0.0, 0.0, 0.0);
            for (&x, &y) in a.data().iter().zip(b.data()) {
                both += ((x == id) && (y == id)) as u8 as f64;
                na += (x == id) as u8 as f64;
                nb += (y == id) as u8 as f64;
            }
            2.0 * both / (na + nb)
        })
        .collect();
    per.iter().sum::<f64>() / per.len() as f64
}

#[test]
fn demo_regenerates_bit_for_bit_from_the_templates() {
    let Some(dir) = common::shared_data() else {
        return;
    };
    let mni = dir.join("mni152-2009a");
    let out = tempfile::tempdir().unwrap();
    warpbench::demo::generate(&mni, warpbench::demo::DEMO_SPACING_MM)
        .unwrap()
        .write(out.path())
        .unwrap();
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    for name in [
        "fixed_t1.nii.gz",
        "moving_t2like.nii.gz",
        "fixed_labels.nii.gz",
        "moving_labels.nii.gz",
        "fixed_landmarks.csv",
        "moving_landmarks.csv",
        "labels.txt",
    ] {
        let fresh = std::fs::read(out.path().join(name)).unwrap();
        let shipped = std::fs::read(assets.join(name)).unwrap();
        assert!(
            fresh == shipped,
            "{name} differs from a fresh `warpbench make-demo`"
        );
    }
}

fn warpbench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_warpbench"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn info_json_has_the_documented_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lia.nii.gz");
    let grid = Grid::new(
        [4, 5, 6],
        Affine::from_linear_translation(
            [[-1.0, 0.0, 0.0], [0.0, 0.0, 1.5], [0.0, -2.0, 0.0]],
            [10.0, -20.0, 30.0],
        ),
    )
    .unwrap();
    let vol = common::random_volume(grid, 9);
    warpbench::volume::nifti_io::write_scalar(&path, &vol).unwrap();
    let out = warpbench(&["info", "--json", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["dims"], serde_json::json!([4, 5, 6]));
    assert_eq!(v["orientation"], "LIA");
    assert_eq!(v["dtype"], "float32");
    assert_eq!(v["spacing"], serde_json::json!([1.0, 2.0, 1.5]));
    assert_eq!(v["affine"][1], serde_json::json!([0.0, 0.0, 1.5, -20.0]));
    let (lo, hi) = vol.min_max();
    assert_eq!(v["min"].as_f64().unwrap(), lo as f64);
    assert_eq!(v["max"].as_f64().unwrap(), hi as f64);
    let text = warpbench(&["info", path.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("LIA"));
}

#[test]
fn info_on_landmarks_and_on_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("p.csv");
    std::fs::write(&csv, "x,y,z,name\n1,2,3,a\n-4,5,6,b\n").unwrap();
    let out = warpbench(&["info", "--json", csv.to_str().unwrap()]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["count"], 2);
    assert_eq!(v["bounds_min"], serde_json::json!([-4.0, 2.0, 3.0]));

    let broken = dir.path().join("broken.nii.gz");
    std::fs::write(&broken, b"\x1f\x8bnot really gzip").unwrap();
    let out = warpbench(&["info", broken.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.nii.gz") && !err.contains("panicked"),
        "{err}"
    );

    let missing = dir.path().join("missing.nii.gz");
    let out = warpbench(&["info", missing.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // The OS's own words for the error, said once: not again as a chained cause.
    let said = std::fs::read(&missing).unwrap_err().to_string();
    assert!(err.contains("missing.nii.gz"), "{err}");
    assert_eq!(err.matches(&said).count(), 1, "{err}");
}
