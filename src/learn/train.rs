//! One training run as a stepper, like `register::Registration`: `step()` draws a pair, augments
//! it, and takes one Adam step; `validate()` scores the held-out pair on the training grid. The
//! CLI and the worker thread drive it; neither threads nor channels live here.

use super::augment::{random_displacement, random_intensity};
use super::config::{SimilarityLoss, TrainConfig};
use super::data::Dataset;
use super::losses;
use super::model::{self, ModelFiles};
use super::nets::{Lattices, RegNet};
use super::rng::Rng;
use super::score::{TrainMetrics, score_run};
use super::tensor::{scalar_tensor, scalar_value, tensor_from_values, tensor_values};
use crate::error::{Error, Result};
use crate::eval::overlap::{dice_per_label, mean, shared_ids};
use crate::gpu::GpuContext;
use crate::volume::warp::warp_labels;
use crate::volume::{Grid, LabelVolume, VectorField};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Each loss term of one iteration (unweighted), and the weighted total.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LossTerms {
    pub similarity: f64,
    pub smoothness: f64,
    /// `1 − soft Dice`, on iterations whose pair had labels in use.
    pub dice: Option<f64>,
    pub folding: Option<f64>,
    pub total: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IterationRecord {
    pub iteration: u32,
    /// The (fixed, moving) subjects drawn, one per batch item; the same twice for a synthetic
    /// pair. Runs from before batches recorded one `pair`, read here as a batch of one so that
    /// they still resume.
    #[serde(alias = "pair", deserialize_with = "one_or_more_pairs")]
    pub pairs: Vec<[usize; 2]>,
    pub losses: LossTerms,
    pub learning_rate: f64,
    pub seconds: f64,
}

fn one_or_more_pairs<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Vec<[usize; 2]>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Pairs {
        One([usize; 2]),
        More(Vec<[usize; 2]>),
    }
    Ok(match Pairs::deserialize(deserializer)? {
        Pairs::One(pair) => vec![pair],
        Pairs::More(pairs) => pairs,
    })
}

/// The held-out pair scored on the training grid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    pub iteration: u32,
    /// Similarity plus weighted smoothness, without augmentation.
    pub loss: f64,
    /// Mean Dice over the labels both volumes have (NaN without labels).
    pub dice: f64,
    /// The same before the network: the affine alignment alone.
    pub dice_affine: f64,
}

/// What one [`Trainer::advance`] did.
#[derive(Clone, Debug)]
pub struct Advance {
    pub record: IterationRecord,
    pub validation: Option<Validation>,
    pub checkpointed: bool,
}

/// What a run has done so far, written as `training.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub iterations: Vec<IterationRecord>,
    pub validations: Vec<Validation>,
}

pub struct Trainer {
    config: TrainConfig,
    data: Arc<Dataset>,
    /// On the device without autodiff (data, augmentation and validation need no gradients).
    lattices: Lattices,
    images: Vec<Tensor<5>>,
    /// Label ids as values, for subjects with labels.
    label_maps: Vec<Option<Tensor<5>>>,
    model: RegNet,
    optimizer: ModuleOptimizer,
    rng: Rng,
    iteration: u32,
    seconds: f64,
    history: History,
    /// The validation pair's mean Dice after the affine alignment alone (NaN without labels).
    dice_affine: f64,
}

/// One batch item of an iteration.
struct Sample {
    /// (fixed, moving) subjects.
    pair: [usize; 2],
    /// Whether its labels supervise (when both subjects have them).
    supervised: bool,
    fixed: Tensor<5>,
    moving: Tensor<5>,
    /// The augmentations of the fixed and the moving image, in voxels.
    spatial: [Tensor<5>; 2],
}

impl Trainer {
    pub fn new(ctx: &GpuContext, config: TrainConfig, data: Arc<Dataset>) -> Result<Trainer> {
        let device = ctx.burn_device()?;
        device.seed(config.training.seed);
        let model = RegNet::new(&config.model, &device.clone().autodiff());
        Ok(Trainer::with_model(
            device,
            config,
            data,
            model,
            adam().init(),
        ))
    }

    /// Continues the run saved in `dir` (its model, optimizer state, history and iteration) under
    /// `config`, the run's own (read from `dir` by `model::read_config`, perhaps lengthened).
    pub fn resume(
        ctx: &GpuContext,
        config: TrainConfig,
        dir: &Path,
        data: Arc<Dataset>,
    ) -> Result<Trainer> {
        let files = ModelFiles::new(dir);
        let device = ctx.burn_device()?;
        let model = model::load_weights(&files, &config, &device.clone().autodiff())?;
        let optimizer = adam()
            .init()
            .load(files.optimizer())
            .map_err(|e| Error::format(&files.optimizer(), format!("{e:?}")))?;
        let checkpoint = model::read_checkpoint(&files)?;
        let mut trainer = Trainer::with_model(device, config, data, model, optimizer);
        trainer.iteration = checkpoint.iteration;
        trainer.seconds = checkpoint.seconds;
        trainer.history = checkpoint.history;
        // Different draws from the ones the run already made, yet reproducible.
        trainer.rng = Rng::new(trainer.config.training.seed ^ u64::from(trainer.iteration));
        Ok(trainer)
    }

    fn with_model(
        device: Device,
        config: TrainConfig,
        data: Arc<Dataset>,
        model: RegNet,
        optimizer: ModuleOptimizer,
    ) -> Trainer {
        let dims = super::tensor::spatial_dims(&data.grid);
        let lattices = Lattices::new(dims, config.model.pyramid_levels, &device);
        let images = data
            .subjects
            .iter()
            .map(|s| scalar_tensor(&s.image_g, &device))
            .collect();
        let label_maps = data
            .subjects
            .iter()
            .map(|s| {
                s.labels_g.as_ref().map(|l| {
                    let values = l.data().iter().map(|&v| v as f32).collect();
                    tensor_from_values(values, 1, dims, &device)
                })
            })
            .collect();
        let rng = Rng::new(config.training.seed);
        let (f, m) = data.validation;
        let dice_affine = match (&data.subjects[f].labels_g, &data.subjects[m].labels_g) {
            (Some(fixed), Some(moving)) => mean_dice(fixed, moving),
            _ => f64::NAN,
        };
        Trainer {
            config,
            data,
            lattices,
            images,
            label_maps,
            model,
            optimizer,
            rng,
            iteration: 0,
            seconds: 0.0,
            history: History::default(),
            dice_affine,
        }
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    pub fn dataset(&self) -> &Dataset {
        &self.data
    }

    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    pub fn is_done(&self) -> bool {
        self.iteration >= self.config.training.iterations
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    /// Wall time spent in `step` so far.
    pub fn seconds(&self) -> f64 {
        self.seconds
    }

    /// One iteration: `batch_size` drawn pairs, augmented, one optimiser step on their mean loss.
    pub fn step(&mut self) -> Result<IterationRecord> {
        let started = Instant::now();
        let settings = self.config.training.clone();
        let samples: Vec<Sample> = (0..settings.batch_size.max(1))
            .map(|_| self.draw())
            .collect();
        // Each pair goes through the network on its own and their losses are averaged before
        // the one backward pass. A batched pass (tensors of batch 4) failed on lavapipe: cubecl's
        // autotuning measured none of its candidates for the new shapes, and the one it then
        // chose launched more workgroups than a dispatch allows.
        let active = self.config.active_levels(self.iteration + 1);
        let full = &self.lattices.full;
        let mut similarities = Vec::with_capacity(samples.len());
        let mut smoothnesses = Vec::with_capacity(samples.len());
        let mut dice_terms = Vec::new();
        let mut folding_terms = Vec::new();
        for sample in &samples {
            let prediction = self.model.forward_levels(
                &self.lattices,
                self.config.model.field,
                sample.fixed.clone(),
                sample.moving.clone(),
                active,
            );
            let warped = full.warp_linear(sample.moving.clone(), prediction.disp_vox.clone());
            similarities.push(similarity(
                settings.similarity,
                warped,
                sample.fixed.clone(),
            ));
            smoothnesses.push(losses::diffusion(prediction.flow_vox));
            dice_terms.extend(self.label_loss(sample, prediction.disp_vox.clone()));
            if settings.folding_weight > 0.0 {
                folding_terms.push(losses::folding(prediction.disp_vox));
            }
        }
        let mean =
            |terms: Vec<Tensor<1>>| (!terms.is_empty()).then(|| Tensor::cat(terms, 0).mean());
        let similarity = mean(similarities).expect("at least one pair");
        let smoothness = mean(smoothnesses).expect("at least one pair");
        let mut total = similarity.clone() + smoothness.clone().mul_scalar(settings.smoothness);
        let dice = mean(dice_terms);
        if let Some(term) = &dice {
            total = total + term.clone().mul_scalar(settings.label_weight);
        }
        let folding = mean(folding_terms);
        if let Some(term) = &folding {
            total = total + term.clone().mul_scalar(settings.folding_weight);
        }
        let gradients = GradientsParams::from_grads(total.backward(), &self.model);
        let learning_rate = settings.learning_rate_at(self.iteration + 1);
        self.model = self
            .optimizer
            .step(learning_rate, self.model.clone(), gradients);

        let losses = LossTerms {
            similarity: scalar_value(similarity)?,
            smoothness: scalar_value(smoothness)?,
            dice: dice.map(scalar_value).transpose()?,
            folding: folding.map(scalar_value).transpose()?,
            total: scalar_value(total)?,
        };
        if !losses.total.is_finite() {
            return Err(Error::Registration(format!(
                "training diverged at iteration {}: the loss is {}",
                self.iteration + 1,
                losses.total
            )));
        }
        let seconds = started.elapsed().as_secs_f64();
        self.iteration += 1;
        self.seconds += seconds;
        let record = IterationRecord {
            iteration: self.iteration,
            pairs: samples.iter().map(|s| s.pair).collect(),
            losses,
            learning_rate,
            seconds,
        };
        self.history.iterations.push(record.clone());
        Ok(record)
    }

    /// A pair for one batch item: synthetic (one subject under two augmentations) or real,
    /// augmented and with its intensities changed.
    fn draw(&mut self) -> Sample {
        let settings = &self.config.training;
        let augmentation = &self.config.augmentation;
        let spacing = self.config.data.spacing_mm;
        let synthetic =
            self.data.pairs.is_empty() || self.rng.unit() < augmentation.synthetic_fraction;
        // A labelled real pair supervises if it is among the first `label_fraction` of the
        // pairs, so the same pairs are supervised throughout the run (macJNet's partial labels).
        let ((f, m), labelled_pair) = if synthetic {
            let s = self.rng.below(self.data.subjects.len());
            ((s, s), true)
        } else {
            let p = self.rng.below(self.data.pairs.len());
            let share = settings.label_fraction * self.data.pairs.len() as f64;
            (self.data.pairs[p], (p as f64) < share)
        };
        let full = &self.lattices.full;
        let spatial_f = random_displacement(augmentation, full, spacing, &mut self.rng);
        let spatial_m = random_displacement(augmentation, full, spacing, &mut self.rng);
        let fixed = full.warp_linear(self.images[f].clone(), spatial_f.clone());
        let moving = full.warp_linear(self.images[m].clone(), spatial_m.clone());
        Sample {
            pair: [f, m],
            supervised: settings.label_weight > 0.0 && labelled_pair,
            fixed: random_intensity(augmentation, fixed, &mut self.rng),
            moving: random_intensity(augmentation, moving, &mut self.rng),
            spatial: [spatial_f, spatial_m],
        }
    }

    /// `1 − soft Dice` of `sample`'s labels under the network's map `disp_vox`, when the
    /// sample supervises and both of its subjects have labels.
    fn label_loss(&self, sample: &Sample, disp_vox: Tensor<5>) -> Option<Tensor<1>> {
        let [f, m] = sample.pair;
        let ids = &self.data.label_ids;
        if !sample.supervised || ids.is_empty() {
            return None;
        }
        let (Some(fixed_labels), Some(moving_labels)) = (&self.label_maps[f], &self.label_maps[m])
        else {
            return None;
        };
        // Labels follow their image's augmentation by nearest neighbour (one channel), and only
        // the network's warp, which needs the gradient, mixes the one-hot channels.
        let full = &self.lattices.full;
        let [spatial_f, spatial_m] = sample.spatial.clone();
        let fixed_labels = one_hot(full.warp_nearest(fixed_labels.clone(), spatial_f), ids);
        let moving_labels = one_hot(full.warp_nearest(moving_labels.clone(), spatial_m), ids);
        let warped_labels = full.warp_linear(moving_labels, disp_vox);
        Some(losses::soft_dice(warped_labels, fixed_labels))
    }

    /// The network's map for (`fixed`, `moving`) subjects, in mm on the training grid, refined
    /// as the config's `refinement` says when `refine`.
    pub fn predict(&self, fixed: usize, moving: usize, refine: bool) -> Result<VectorField> {
        self.predict_with_loss(fixed, moving, refine)
            .map(|(field, _)| field)
    }

    fn predict_with_loss(
        &self,
        fixed: usize,
        moving: usize,
        refine: bool,
    ) -> Result<(VectorField, f64)> {
        predict_field(
            &self.model.valid(),
            &self.config,
            &self.lattices,
            &self.data.grid,
            (self.images[fixed].clone(), self.images[moving].clone()),
            Predict {
                levels: self.config.active_levels(self.iteration),
                refine,
            },
        )
    }

    /// Scores the held-out pair on the training grid and records it.
    pub fn validate(&mut self) -> Result<Validation> {
        let (f, m) = self.data.validation;
        let (field, loss) = self.predict_with_loss(f, m, false)?;
        let subjects = &self.data.subjects;
        let dice = match (&subjects[f].labels_g, &subjects[m].labels_g) {
            (Some(fixed), Some(moving)) => mean_dice(fixed, &warp_labels(moving, &field)),
            _ => f64::NAN,
        };
        let validation = Validation {
            iteration: self.iteration,
            loss,
            dice,
            dice_affine: self.dice_affine,
        };
        self.history.validations.push(validation.clone());
        Ok(validation)
    }

    /// The held-out pair before any training, when this run has not scored it yet.
    pub fn baseline(&mut self) -> Result<Option<Validation>> {
        if self.iteration == 0 && self.history.validations.is_empty() {
            self.validate().map(Some)
        } else {
            Ok(None)
        }
    }

    /// One iteration, then the validation and the checkpoint (into `dir`) the schedule asks for.
    pub fn advance(&mut self, dir: &Path) -> Result<Advance> {
        let record = self.step()?;
        let settings = &self.config.training;
        let checkpointed = record.iteration % settings.checkpoint_every == 0;
        let validation = if record.iteration % settings.validate_every == 0 {
            Some(self.validate()?)
        } else {
            None
        };
        if checkpointed {
            self.save_checkpoint(dir)?;
        }
        Ok(Advance {
            record,
            validation,
            checkpointed,
        })
    }

    /// Ends the run in `dir`: validates the last iteration unless the schedule just did, saves
    /// the checkpoint, and scores the held-out pair at full resolution into `metrics.json`.
    pub fn finish(&mut self, dir: &Path) -> Result<(Option<Validation>, TrainMetrics)> {
        let validated = self.history.validations.last().map(|v| v.iteration);
        let validation = if validated == Some(self.iteration) {
            None
        } else {
            Some(self.validate()?)
        };
        self.save_checkpoint(dir)?;
        let metrics = score_run(self)?;
        model::write_json(&ModelFiles::new(dir).metrics(), &metrics)?;
        Ok((validation, metrics))
    }

    /// Writes model, optimizer state, config, history and iteration into `dir`.
    pub fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        let files = ModelFiles::new(dir);
        model::save(
            &files,
            &self.model,
            Some(&self.optimizer),
            &self.config,
            &model::Checkpoint {
                iteration: self.iteration,
                seconds: self.seconds,
                history: self.history.clone(),
            },
        )?;
        model::save_atlas(&files, &self.data.alignment_atlas)
    }
}

/// Adam with PyTorch's ε of 1e-8, which VoxelMorph and LapIRN train with, not burn's 1e-5: the
/// flow layer starts near zero (std 1e-5), so the gradients of the layers behind it start near
/// 1e-8 per weight on the brain example, and under an ε of 1e-5 their first steps shrink by as
/// much, while the flow layer alone learns on random features.
pub fn adam() -> AdamConfig {
    AdamConfig::new().with_epsilon(ADAM_EPSILON as f32)
}

/// Adam's ε for training and for refinement's own Adam (see [`adam`]).
pub const ADAM_EPSILON: f64 = 1e-8;

/// The image similarity term.
pub fn similarity(kind: SimilarityLoss, warped: Tensor<5>, fixed: Tensor<5>) -> Tensor<1> {
    match kind {
        SimilarityLoss::Mse => losses::mse(warped, fixed),
        SimilarityLoss::Ncc => losses::global_ncc(warped, fixed),
        SimilarityLoss::Lncc { window } => losses::local_ncc(warped, fixed, window),
        SimilarityLoss::Mind { descriptor } => super::mind::mind_loss(warped, fixed, &descriptor),
    }
}

/// How [`predict_field`] predicts.
pub struct Predict {
    /// Pyramid levels to use (all, once trained).
    pub levels: usize,
    /// Whether the config's `refinement` follows the network.
    pub refine: bool,
}

/// The network's map in mm on `grid` (refined by `config.refinement` when asked), and the
/// network's validation loss (similarity plus weighted smoothness), for one pair of normalised
/// images on the training grid.
pub fn predict_field(
    model: &RegNet,
    config: &TrainConfig,
    lattices: &Lattices,
    grid: &Grid,
    (fixed, moving): (Tensor<5>, Tensor<5>),
    Predict { levels, refine }: Predict,
) -> Result<(VectorField, f64)> {
    let prediction = model.forward_levels(
        lattices,
        config.model.field,
        fixed.clone(),
        moving.clone(),
        levels,
    );
    let warped = lattices
        .full
        .warp_linear(moving.clone(), prediction.disp_vox.clone());
    let loss = similarity(config.training.similarity, warped, fixed.clone())
        + losses::diffusion(prediction.flow_vox).mul_scalar(config.training.smoothness);
    let loss = scalar_value(loss)?;
    let disp_vox = if refine && config.refinement.steps > 0 {
        super::refine::refine(
            &lattices.full,
            &config.training,
            &config.refinement,
            (fixed, moving),
            prediction.disp_vox,
        )
    } else {
        prediction.disp_vox
    };
    let values = tensor_values(disp_vox)?;
    Ok((field_in_mm(&values, grid), loss))
}

/// A `[3, n]` displacement in voxels of the axis-aligned training grid as a field in mm.
fn field_in_mm(values: &[f32], grid: &Grid) -> VectorField {
    let n = grid.voxel_count();
    let spacing = grid.spacing_mm().map(|s| s as f32);
    let data = (0..n)
        .map(|v| std::array::from_fn(|a| values[a * n + v] * spacing[a]))
        .collect();
    VectorField::new(grid.clone(), data).expect("sized from the grid")
}

fn mean_dice(fixed: &LabelVolume, warped: &LabelVolume) -> f64 {
    let ids = shared_ids(fixed, warped);
    let per_label = dice_per_label(fixed, warped, &ids);
    mean(&per_label.into_values().collect::<Vec<_>>())
}

/// `[b, ids, k, j, i]` from a label-id map `[b, 1, k, j, i]`: 1 where the voxel has that label.
fn one_hot(labels: Tensor<5>, ids: &[i32]) -> Tensor<5> {
    let channels = ids
        .iter()
        .map(|&id| labels.clone().equal_elem(id as f32).float())
        .collect();
    Tensor::cat(channels, 1)
}

#[cfg(test)]
mod tests {
    use super::IterationRecord;

    #[test]
    fn records_of_single_pairs_and_of_batches_are_read() {
        let losses = r#""losses": {"similarity": 0.8, "smoothness": 0.0, "dice": null, "folding": null, "total": 0.8}, "learning_rate": 0.0001, "seconds": 3.0"#;
        let old: IterationRecord =
            serde_json::from_str(&format!(r#"{{"iteration": 1, "pair": [2, 1], {losses}}}"#))
                .unwrap();
        assert_eq!(old.pairs, vec![[2, 1]]);
        let new: IterationRecord = serde_json::from_str(&format!(
            r#"{{"iteration": 1, "pairs": [[2, 1], [0, 3]], {losses}}}"#
        ))
        .unwrap();
        assert_eq!(new.pairs, vec![[2, 1], [0, 3]]);
        let text = serde_json::to_string(&new).unwrap();
        assert!(text.contains(r#""pairs":[[2,1],[0,3]]"#), "{text}");
    }
}
