//! Training end to end on small generated volumes: iterations run with finite losses and are
//! recorded, a checkpoint reloads to the same network output, a run resumes where it stopped,
//! and bad configs are named.

mod common;

use common::training_case::write_case;
use std::sync::Arc;
use warpbench::learn::config::TrainConfig;
use warpbench::learn::data::Dataset;
use warpbench::learn::infer::TrainedModel;
use warpbench::learn::train::Trainer;

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
        assert_eq!(record.pairs.len(), 1);
        assert!(
            record.pairs[0] != [f, m] && record.pairs[0] != [m, f],
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
    let trained = trainer.predict(f, m, false).unwrap();
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
        assert_eq!(a.pairs, b.pairs);
        assert!((a.losses.total - b.losses.total).abs() < 1e-12);
    }
    assert!(resumed.is_done());
}

#[test]
fn a_batch_draws_its_pairs_as_single_steps_would_and_averages_their_losses() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_case(dir.path());
    let ctx = common::gpu();
    let single = TrainConfig::read(&path).unwrap();
    let data = Arc::new(Dataset::prepare(&ctx, &single, &mut |_| {}).unwrap());
    let mut batched = single.clone();
    batched.training.batch_size = 3;

    let mut one = Trainer::new(&ctx, single, data.clone()).unwrap();
    let drawn: Vec<[usize; 2]> = (0..3).flat_map(|_| one.step().unwrap().pairs).collect();
    let mut three = Trainer::new(&ctx, batched, data).unwrap();
    let record = three.step().unwrap();
    assert_eq!(record.pairs, drawn, "the same draws, in one step");
    let first = &one.history().iterations[0].losses;
    let l = &record.losses;
    assert!(l.total.is_finite() && l.similarity.is_finite() && l.smoothness.is_finite());
    assert!(
        (l.similarity - first.similarity).abs() > 1e-7,
        "the batch's similarity is not its first pair's alone: {} and {}",
        l.similarity,
        first.similarity
    );
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
        (
            "correlation = { radius = 1, window = 3 }",
            "correlation = { radius = 1, window = 4 }",
            "model.correlation",
        ),
        (
            "iterations = 40",
            "iterations = 40\nbatch_size = 0",
            "batch_size",
        ),
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
