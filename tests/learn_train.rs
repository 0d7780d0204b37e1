//! Training end to end on small generated volumes: iterations run with finite losses and are
//! recorded, a checkpoint reloads to the same network output, a run resumes where it stopped,
//! and bad configs are named.

mod common;

use std::path::Path;
use std::sync::Arc;
use warpbench::learn::config::TrainConfig;
use warpbench::learn::data::Dataset;
use warpbench::learn::infer::TrainedModel;
use warpbench::learn::train::Trainer;
use warpbench::volume::nifti_io::{write_labels, write_scalar};
use warpbench::volume::{Grid, LabelVolume, ScalarVolume};

const SIZE: usize = 40;

/// A head-like phantom: an ellipsoid body (label 1) holding two balls (labels 2 and 3) whose
/// centres move by `shift` voxels between subjects, as anatomy does.
fn phantom(shift: [f64; 3]) -> (ScalarVolume, LabelVolume) {
    let grid = Grid::axis_aligned([SIZE; 3], [1.0; 3], [-20.0, -20.0, -20.0]).unwrap();
    let c = (SIZE as f64 - 1.0) / 2.0;
    let mut image = Vec::with_capacity(grid.voxel_count());
    let mut labels = Vec::with_capacity(grid.voxel_count());
    for n in 0..grid.voxel_count() {
        let [i, j, k] = grid.voxel_of(n).map(|v| v as f64);
        let body = ((i - c) / 15.0).powi(2) + ((j - c) / 13.0).powi(2) + ((k - c) / 11.0).powi(2);
        let ball = |centre: [f64; 3], r: f64| {
            (i - centre[0] - shift[0]).powi(2)
                + (j - centre[1] - shift[1]).powi(2)
                + (k - centre[2] - shift[2]).powi(2)
                < r * r
        };
        let (value, label) = if ball([c - 6.0, c, c], 5.0) {
            (1.0, 2)
        } else if ball([c + 6.0, c + 2.0, c], 4.0) {
            (0.15, 3)
        } else if body < 1.0 {
            (0.5, 1)
        } else {
            (0.0, 0)
        };
        image.push(value);
        labels.push(label);
    }
    (
        ScalarVolume::new(grid.clone(), image).unwrap(),
        LabelVolume::new(grid, labels).unwrap(),
    )
}

fn write_case(dir: &Path) -> std::path::PathBuf {
    let subjects = [
        ("atlas", [0.0, 0.0, 0.0]),
        ("a", [2.0, -1.5, 1.0]),
        ("b", [-2.0, 1.5, -1.0]),
        ("c", [1.0, 2.0, 0.0]),
    ];
    let mut volumes = String::new();
    for (name, shift) in subjects {
        let (image, labels) = phantom(shift);
        write_scalar(&dir.join(format!("{name}.nii.gz")), &image).unwrap();
        write_labels(&dir.join(format!("{name}_labels.nii.gz")), &labels).unwrap();
        volumes.push_str(&format!(
            "[[data.volumes]]\nname = \"{name}\"\nimage = \"{name}.nii.gz\"\nlabels = \"{name}_labels.nii.gz\"\n\n"
        ));
    }
    let config = format!(
        r#"[data]
spacing_mm = 2.0
dims = [16, 16, 16]
atlas = "atlas"
affine_preset = "none"
pairing = "all-pairs"

{volumes}
[data.validation]
fixed = "a"
moving = "b"

[model]
encoder_channels = [8, 16]
decoder_channels = 16
field = "velocity"
affine_head = false

[training]
iterations = 40
learning_rate = 0.01
similarity = {{ kind = "mse" }}
smoothness = 0.1
label_weight = 0.5
validate_every = 10
checkpoint_every = 20
seed = 3

[augmentation]
rotation_deg = 2.0
scale = 0.02
translation_mm = 1.0
deformation_mm = 1.0
deformation_spacing_mm = 16.0
gamma = 0.1
noise = 0.01
synthetic_fraction = 0.3
"#
    );
    let path = dir.join("train.toml");
    std::fs::write(&path, config).unwrap();
    path
}

#[test]
fn training_runs_and_a_checkpoint_reloads_to_the_same_output() {
    let dir = tempfile::tempdir().unwrap();
    let config = TrainConfig::read(&write_case(dir.path())).unwrap();
    let ctx = common::gpu();
    let data = Arc::new(Dataset::prepare(&ctx, &config, &mut |_| {}).unwrap());
    assert_eq!(
        data.pairs.len(),
        10,
        "12 ordered pairs less the held-out pair both ways"
    );
    assert_eq!(data.label_ids, vec![1, 2, 3]);
    let mut trainer = Trainer::new(&ctx, config, data.clone()).unwrap();
    let before = trainer.validate().unwrap();
    assert_eq!(
        before.dice, before.dice_affine,
        "an untrained network leaves the pair"
    );
    let mut supervised = 0;
    for n in 1..=40 {
        let record = trainer.step().unwrap();
        assert_eq!(record.iteration, n);
        let l = &record.losses;
        assert!(l.total.is_finite() && l.similarity.is_finite() && l.smoothness.is_finite());
        supervised += usize::from(l.dice.is_some());
        let (f, m) = data.validation;
        assert!(
            record.pair != [f, m] && record.pair != [m, f],
            "the held-out pair is never drawn"
        );
    }
    assert!(
        supervised > 0,
        "labelled pairs supervise with label_weight > 0"
    );
    let after = trainer.validate().unwrap();
    assert!(
        after.loss.is_finite() && after.dice.is_finite(),
        "{after:?}"
    );

    let out = dir.path().join("model");
    trainer.save_checkpoint(&out).unwrap();
    let (f, m) = data.validation;
    let trained = trainer.predict(f, m).unwrap();
    let model = TrainedModel::load(&ctx, &out).unwrap();
    let reloaded = model.infer(&data.subjects[f], &data.subjects[m]).unwrap();
    let diff = trained
        .data()
        .iter()
        .zip(reloaded.field_g.data())
        .flat_map(|(a, b)| (0..3).map(move |c| (a[c] - b[c]).abs()))
        .fold(0.0f32, f32::max);
    assert!(diff < 1e-4, "the reloaded model differs by {diff} mm");

    let saved_config =
        warpbench::learn::model::read_config(&warpbench::learn::model::ModelFiles::new(&out))
            .unwrap();
    let resumed = Trainer::resume(&ctx, saved_config, &out, data).unwrap();
    assert_eq!(resumed.iteration(), 40);
    let (saved, kept) = (resumed.history(), trainer.history());
    assert_eq!(saved.iterations.len(), kept.iterations.len());
    assert_eq!(saved.validations.len(), kept.validations.len());
    for (a, b) in saved.iterations.iter().zip(&kept.iterations) {
        assert_eq!(a.pair, b.pair);
        assert!((a.losses.total - b.losses.total).abs() < 1e-12);
    }
    assert!(resumed.is_done());
}

#[test]
fn bad_training_configs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_case(dir.path());
    let text = std::fs::read_to_string(&path).unwrap();
    for (from, to, expected) in [
        (
            "dims = [16, 16, 16]",
            "dims = [16, 18, 16]",
            "multiple of 4",
        ),
        (
            "fixed = \"a\"",
            "fixed = \"nobody\"",
            "\"nobody\" is not among data.volumes",
        ),
        ("iterations = 40", "iterations = \"many\"", "invalid type"),
    ] {
        std::fs::write(&path, text.replace(from, to)).unwrap();
        let error = TrainConfig::read(&path).unwrap_err().to_string();
        assert!(
            error.contains("train.toml") && error.contains(expected),
            "{error}"
        );
    }
    std::fs::write(&path, text.replace("a.nii.gz", "missing.nii.gz")).unwrap();
    let config = TrainConfig::read(&path).unwrap();
    let error = Dataset::prepare(&common::gpu(), &config, &mut |_| {})
        .err()
        .expect("a missing volume fails")
        .to_string();
    assert!(error.contains("missing.nii.gz"), "{error}");
}
