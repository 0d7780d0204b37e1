//! `warpbench register` end to end on the demo case: every output file, what each holds, and that
//! `config.toml` reproduces the run's configuration; and on the brain pair, what the folding
//! penalty does.

mod common;

use common::demo_file;
use std::path::Path;
use std::process::Command;
use warpbench::register::config::RegistrationConfig;
use warpbench::volume::affine_io::read_itk_affine;
use warpbench::volume::nifti_io::{read_displacement, read_labels, read_scalar};

#[test]
fn register_writes_every_output_and_improves_the_demo_alignment() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_warpbench"))
        .args(["register", "--fixed", &demo_file("fixed_t1.nii.gz")])
        .args(["--moving", &demo_file("moving_t2like.nii.gz")])
        .args(["--fixed-labels", &demo_file("fixed_labels.nii.gz")])
        .args(["--moving-labels", &demo_file("moving_labels.nii.gz")])
        .args(["--fixed-landmarks", &demo_file("fixed_landmarks.csv")])
        .args(["--moving-landmarks", &demo_file("moving_landmarks.csv")])
        .args(["--preset", "fast", "--threads", "2", "--out"])
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success());
    let fixed = read_scalar(Path::new(&demo_file("fixed_t1.nii.gz"))).unwrap();
    let warped = read_scalar(&out.path().join("warped.nii.gz")).unwrap();
    assert!(warped.grid().same_as(fixed.grid(), 1e-4));
    let labels = read_labels(&out.path().join("warped_labels.nii.gz")).unwrap();
    assert!(labels.grid().same_as(fixed.grid(), 1e-4));
    let field = read_displacement(&out.path().join("displacement.nii.gz")).unwrap();
    assert!(field.grid().same_as(fixed.grid(), 1e-4));

    let config = RegistrationConfig::read(&out.path().join("config.toml")).unwrap();
    // The preset as it ran on the demo's 2 mm voxels.
    let fast = RegistrationConfig::preset("fast").unwrap();
    assert_eq!(config, fast.fitted_to(fixed.grid()));
    assert_eq!(config.deformable.as_ref().unwrap().levels[0].shrink, 2.0);

    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("metrics.json")).unwrap()).unwrap();
    for key in [
        "dice_mean",
        "dice",
        "dice30",
        "hd95_mean",
        "tre_before_mm",
        "tre_mean_mm",
        "fold_fraction",
        "sdlogj",
        "seconds",
        "stage_seconds",
    ] {
        assert!(!metrics[key].is_null(), "metrics.json lacks {key}");
    }
    let number = |k: &str| metrics[k].as_f64().unwrap();
    assert!(metrics["stage_seconds"]["affine"].as_f64().unwrap() > 0.0);
    assert!(metrics["stage_seconds"]["deformable"].as_f64().unwrap() > 0.0);
    // The demo moves the brain by a rotation, a translation and bumps of up to about 6 mm.
    assert!(number("tre_before_mm") > 5.0);
    assert!(number("tre_mean_mm") < 0.5 * number("tre_before_mm"));
    assert!(number("dice_mean") > number("dice_affine"));
    let labels = |k: &str| {
        metrics[k]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(labels("dice_affine_per_label"), labels("dice"));
    assert!(number("tre_affine_mm") < number("tre_before_mm"));
    assert!(number("fold_fraction") < 1e-3);

    // The affine file is the affine part of the result: far from the origin, the displacement is
    // dominated by it, and points map the same through both.
    let affine = read_itk_affine(&out.path().join("affine.txt")).unwrap();
    let corner = field.grid().index_to_world(0);
    let through_affine = affine.apply(corner);
    let through_field: [f64; 3] = std::array::from_fn(|a| corner[a] + field.data()[0][a] as f64);
    let gap = (0..3)
        .map(|a| (through_affine[a] - through_field[a]).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!(
        gap < 5.0,
        "corner maps {gap} mm apart through affine.txt and the field"
    );
}

#[test]
fn register_refuses_a_bad_config_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "[deformable]\nsimilarity = { kind = \"lncc\", radius = 0 }\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_warpbench"))
        .args(["register", "--fixed", &demo_file("fixed_t1.nii.gz")])
        .args(["--moving", &demo_file("moving_t2like.nii.gz"), "--config"])
        .arg(&config)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("bad.toml"), "{message}");
}

#[test]
fn itk_affine_files_round_trip() {
    use warpbench::register::affine::rotation;
    use warpbench::volume::Affine;
    use warpbench::volume::affine_io::write_itk_affine;
    let dir = tempfile::tempdir().unwrap();
    let a = Affine::from_linear_translation(rotation([0.1, -0.2, 0.3]), [4.0, -5.0, 6.5]);
    let path = dir.path().join("affine.txt");
    write_itk_affine(&path, &a).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("#Insight Transform File V1.0"));
    assert!(read_itk_affine(&path).unwrap().max_abs_diff(&a) < 1e-12);
    std::fs::write(&path, text.replace("Parameters:", "Parameters: 1")).unwrap();
    let e = read_itk_affine(&path).unwrap_err().to_string();
    assert!(e.contains("affine.txt"), "{e}");
}

/// ITK reads our displacement as we mean it: SimpleITK resampling the moving image through
/// `displacement.nii.gz` reproduces `warped.nii.gz` (the demo's moving grid is LPS and rotated, so
/// a sign or axis slip would show). Needs python3 with SimpleITK and numpy (`.ci/run` installs
/// them); skipped, saying so, without them.
#[test]
fn simpleitk_applies_our_displacement_as_we_do() {
    let has_sitk = Command::new("python3")
        .args(["-c", "import SimpleITK, numpy"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_sitk {
        eprintln!(
            "skipped: python3 with SimpleITK and numpy not found (pip install SimpleITK numpy)"
        );
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_warpbench"))
        .args(["register", "--fixed", &demo_file("fixed_t1.nii.gz")])
        .args(["--moving", &demo_file("moving_t2like.nii.gz")])
        .args(["--preset", "fast", "--no-surface", "--out"])
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/sitk_apply.py");
    let output = Command::new("python3")
        .arg(script)
        .args([
            &demo_file("fixed_t1.nii.gz"),
            &demo_file("moving_t2like.nii.gz"),
        ])
        .arg(out.path().join("displacement.nii.gz"))
        .arg(out.path().join("warped.nii.gz"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let corr: f64 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!(corr > 0.99, "correlation {corr}");
}

#[test]
fn every_preset_is_valid_and_round_trips_through_toml() {
    use warpbench::register::config::PRESETS;
    for name in PRESETS {
        let config = RegistrationConfig::preset(name).unwrap();
        config.validate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config.to_toml()).unwrap();
        assert_eq!(RegistrationConfig::read(&path).unwrap(), config, "{name}");
    }
    let e = RegistrationConfig::preset("brain").unwrap_err().to_string();
    assert!(e.contains("brain-mri"), "{e}");

    // A velocity-field transform reads back too, and a bad squaring count names the field.
    use warpbench::register::deformable::Transform;
    let mut config = RegistrationConfig::preset("fast").unwrap();
    let deformable = config.deformable.as_mut().unwrap();
    deformable.transform = Transform::Velocity { squarings: 6 };
    let text = config.to_toml();
    assert!(text.contains("velocity"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, &text).unwrap();
    assert_eq!(RegistrationConfig::read(&path).unwrap(), config);
    std::fs::write(&path, text.replace("squarings = 6", "squarings = 0")).unwrap();
    let e = RegistrationConfig::read(&path).unwrap_err().to_string();
    assert!(e.contains("squarings") && e.contains("config.toml"), "{e}");
}

/// The brain pair at 4 and 2 mm (brain-mri without its angle search and its 1 mm level), without
/// and with the folding penalty: the penalty, on the folded cubes between voxel centres, leaves
/// next to no fold by either measure (det J ≤ 0 voxels, NDV) and costs no Dice. The penalised
/// run's volume changes per structure (mean det J) match the label maps' own volumes.
#[test]
fn the_folding_penalty_unfolds_the_brain_pair_and_volumes_follow_its_labels() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let file = |name: &str| common::shared_file(&data, &format!("brain-pair/{name}"));
    let run = |folding: f64| {
        let mut config = RegistrationConfig::preset("brain-mri").unwrap();
        config.affine.as_mut().unwrap().search_angles_deg = vec![0.0];
        let deformable = config.deformable.as_mut().unwrap();
        deformable.levels.truncate(2);
        deformable.folding = folding;
        let out = tempfile::tempdir().unwrap();
        let config_file = out.path().join("in.toml");
        std::fs::write(&config_file, config.to_toml()).unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_warpbench"))
            .arg("register")
            .arg("--fixed")
            .arg(file("subjA_t1.nii.gz"))
            .arg("--moving")
            .arg(file("subjB_t1.nii.gz"))
            .arg("--fixed-labels")
            .arg(file("subjA_aseg.nii.gz"))
            .arg("--moving-labels")
            .arg(file("subjB_aseg.nii.gz"))
            .arg("--config")
            .arg(&config_file)
            .args(["--no-surface", "--out"])
            .arg(out.path().join("out"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        // The log tells the configuration from the preset it changed.
        let log = String::from_utf8_lossy(&output.stderr);
        let levels = RegistrationConfig::preset("brain-mri")
            .unwrap()
            .deformable
            .unwrap()
            .levels;
        for change in [
            "in.toml: brain-mri, changed: ".to_string(),
            "affine.search_angles_deg = [0.0] (".into(),
            format!("deformable.levels = 2 entries ({} entries)", levels.len()),
        ] {
            assert!(log.contains(&change), "{change} not in {log}");
        }
        let metrics: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.path().join("out/metrics.json")).unwrap())
                .unwrap();
        let number = |key: &str| metrics[key].as_f64().unwrap();
        let scores = (
            number("ndv_fraction"),
            number("fold_fraction"),
            number("dice_mean"),
        );
        (scores, metrics)
    };
    let ((free, _), (penalised, metrics)) = (run(0.0), run(60.0));
    // The label maps are named like FreeSurfer's aseg, so the scores carry its names.
    assert_eq!(metrics["label_names"]["17"], "Left-Hippocampus");
    eprintln!("(NDV, det J ≤ 0, Dice): free {free:?}, penalised {penalised:?}");
    assert!(
        free.0 > 1e-4 && free.1 > 1e-4,
        "no folds to remove: {free:?}"
    );
    assert!(
        penalised.0 < 1e-6 && penalised.0 < 1e-3 * free.0,
        "{penalised:?}"
    );
    assert!(penalised.1 < 1e-2 * free.1, "{penalised:?}");
    assert!(penalised.2 > free.2 - 0.01, "Dice {free:?} → {penalised:?}");

    // subjB's structures are about a quarter smaller than subjA's.
    let volumes = |name: &str| {
        let labels = read_labels(&file(name)).unwrap();
        let voxel_mm3 = labels.grid().spacing_mm().iter().product::<f64>();
        let mut mm3 = std::collections::BTreeMap::<String, f64>::new();
        for &id in labels.data().iter().filter(|&&id| id != 0) {
            *mm3.entry(id.to_string()).or_default() += voxel_mm3;
        }
        mm3
    };
    let (fixed, moving) = (volumes("subjA_aseg.nii.gz"), volumes("subjB_aseg.nii.gz"));
    let (mut fixed_total, mut moving_total, mut mapped_total) = (0.0, 0.0, 0.0);
    let mut well_aligned = Vec::new();
    for (id, m) in metrics["motion"].as_object().unwrap() {
        let change = m["volume_change_percent"].as_f64().unwrap();
        let (f, mv) = (fixed[id], moving.get(id).copied().unwrap_or(0.0));
        fixed_total += f;
        moving_total += mv;
        mapped_total += f * (1.0 + change / 100.0);
        if metrics["dice"][id].as_f64().is_some_and(|d| d > 0.8) {
            well_aligned.push((id.clone(), (mv / f - 1.0) * 100.0, change));
        }
    }
    let (truth, mapped) = (
        (moving_total / fixed_total - 1.0) * 100.0,
        (mapped_total / fixed_total - 1.0) * 100.0,
    );
    eprintln!(
        "labelled volume {truth:+.1} %, by det J {mapped:+.1} %; Dice > 0.8: {well_aligned:?}"
    );
    assert!(
        truth < -20.0 && (mapped - truth).abs() < 8.0,
        "{truth} vs {mapped}"
    );
    let close = well_aligned
        .iter()
        .filter(|(_, truth, mapped)| (truth - mapped).abs() < 15.0)
        .count();
    assert!(
        well_aligned.len() >= 10 && close * 5 >= well_aligned.len() * 4,
        "{well_aligned:?}"
    );
}
