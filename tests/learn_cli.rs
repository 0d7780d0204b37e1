//! `warpbench train` and `warpbench infer` end to end on the real brain data, with the shipped
//! `examples/train-brain.toml` cut to a few iterations: every output file, the keys of
//! `metrics.json`, and inference writing what `register` writes.

mod common;

use std::process::Command;

#[test]
fn the_brain_example_trains_and_the_model_registers_the_held_out_pair() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/train-brain.toml");
    let text = std::fs::read_to_string(&example).unwrap();
    let root = format!(
        "root = {:?}",
        data.canonicalize().unwrap().to_string_lossy()
    );
    let config = dir.path().join("train.toml");
    std::fs::write(&config, text.replace("root = \"../../shared/data\"", &root)).unwrap();
    let model = dir.path().join("model");
    let status = Command::new(env!("CARGO_BIN_EXE_warpbench"))
        .args(["train", "--iterations", "3", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&model)
        .status()
        .unwrap();
    assert!(status.success());
    for file in [
        "model.bpk",
        "optimizer.bpk",
        "config.toml",
        "atlas.nii.gz",
        "training.json",
    ] {
        assert!(model.join(file).exists(), "{file}");
    }
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("metrics.json")).unwrap())
            .unwrap();
    let number = |key: &str| {
        metrics[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key}: {metrics}"))
    };
    assert!(number("val_dice_affine") > 0.3, "{metrics}");
    assert!((0.0..=1.0).contains(&number("val_dice")), "{metrics}");
    assert!((0.0..=1.0).contains(&number("fold_fraction")), "{metrics}");
    assert!(number("seconds_per_iter") > 0.0);
    assert_eq!(number("iterations"), 3.0);
    // The example refines the network's map by instance optimisation, which must improve on the
    // affine alignment even after three iterations (0.63 against 0.555 when measured).
    let refined = metrics["refined"]["val_dice"]
        .as_f64()
        .expect("refined scores");
    assert!(refined > number("val_dice_affine") + 0.03, "{metrics}");

    let out = dir.path().join("pair");
    let brain = |name: &str| common::shared_file(&data, &format!("brain-pair/{name}"));
    let status = Command::new(env!("CARGO_BIN_EXE_warpbench"))
        .arg("infer")
        .arg("--model")
        .arg(&model)
        .arg("--fixed")
        .arg(brain("subjA_t1.nii.gz"))
        .arg("--moving")
        .arg(brain("subjB_t1.nii.gz"))
        .arg("--fixed-labels")
        .arg(brain("subjA_aseg.nii.gz"))
        .arg("--moving-labels")
        .arg(brain("subjB_aseg.nii.gz"))
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    for file in [
        "warped.nii.gz",
        "warped_labels.nii.gz",
        "displacement.nii.gz",
        "affine.txt",
        "config.toml",
    ] {
        assert!(out.join(file).exists(), "{file}");
    }
    let scores: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    // Three iterations teach the network little; with the example's refinement, inference still
    // improves on the affine alignment.
    let dice = scores["dice_mean"].as_f64().unwrap();
    let affine = scores["dice_affine"].as_f64().unwrap();
    assert!(affine > 0.3 && dice > affine + 0.03, "{scores}");
    assert_eq!(scores["refinement_steps"].as_u64(), Some(50));
    assert!(
        (affine - number("val_dice_affine")).abs() < 0.02,
        "the same alignment as in training"
    );
}
