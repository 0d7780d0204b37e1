//! A training run's complete configuration (TOML): the dataset, the network, the optimisation and
//! the augmentation. The run writes it back as `config.toml` beside its checkpoints, so a model
//! folder says how it was made and can be resumed.

use crate::error::{Error, Result};
use crate::register::config::RegistrationConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub data: DataConfig,
    #[serde(default)]
    pub model: NetConfig,
    #[serde(default)]
    pub training: TrainingSettings,
    #[serde(default)]
    pub augmentation: Augmentation,
    #[serde(default)]
    pub refinement: Refinement,
}

/// Instance optimisation after the network, as VoxelMorph++ does: Adam steps on the predicted
/// displacement itself, with the similarity and smoothness the network was trained with.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Refinement {
    /// 0 leaves the network's map as it is.
    pub steps: u32,
    /// Adam's step, in training-grid voxels.
    pub learning_rate: f64,
    /// Weight of the diffusion regulariser on the refined map (voxels). Adam moves every voxel
    /// on its own, so the map needs more of it than the network's smooth output does.
    pub smoothness: f64,
}

impl Default for Refinement {
    fn default() -> Self {
        Refinement {
            steps: 0,
            learning_rate: 0.05,
            smoothness: 20.0,
        }
    }
}

/// The volumes, the training grid they are brought onto, and how they are paired.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// The folder volume paths are relative to (itself relative to the config file's folder).
    #[serde(default)]
    pub root: PathBuf,
    /// The training grid: axis-aligned RAS, this voxel size, these dims `[i, j, k]` (each a
    /// multiple of 2^(encoder levels)), centred on the atlas.
    pub spacing_mm: f64,
    pub dims: [usize; 3],
    /// The volume every other one is affinely registered to before training (by the engine, with
    /// `affine_preset`'s affine stage), so the network learns the deformable part; `"none"` for
    /// volumes already aligned (their headers put them in the atlas's space).
    pub atlas: String,
    #[serde(default = "default_affine_preset")]
    pub affine_preset: String,
    /// Voxel size of the atlas copy volumes are aligned to (see `data::alignment_grid`).
    #[serde(default = "default_alignment_spacing")]
    pub alignment_spacing_mm: f64,
    #[serde(default)]
    pub pairing: Pairing,
    pub volumes: Vec<VolumeEntry>,
    /// The held-out pair, never trained on in either direction.
    pub validation: PairNames,
}

fn default_alignment_spacing() -> f64 {
    2.0
}

/// The `affine_preset` of volumes that are already aligned.
pub const NO_ALIGNMENT: &str = "none";

fn default_affine_preset() -> String {
    "brain-mri".into()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeEntry {
    pub name: String,
    pub image: PathBuf,
    #[serde(default)]
    pub labels: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairNames {
    pub fixed: String,
    pub moving: String,
}

/// Which ordered (fixed, moving) pairs training draws from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pairing {
    /// The atlas with every other volume, both ways.
    AtlasToSubject,
    /// Every ordered pair of distinct volumes.
    #[default]
    AllPairs,
}

/// What the network's flow layer means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FieldKind {
    Displacement,
    /// A stationary velocity field, integrated by scaling and squaring (diffeomorphic).
    #[default]
    Velocity,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetConfig {
    /// Channels per encoder level; the first level is at half the training grid's resolution,
    /// each next one halves it again.
    pub encoder_channels: Vec<usize>,
    pub decoder_channels: usize,
    pub field: FieldKind,
    /// An affine head on the encoder (the joint affine + deformable network).
    pub affine_head: bool,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            encoder_channels: vec![16, 32, 32],
            decoder_channels: 32,
            field: FieldKind::Velocity,
            affine_head: false,
        }
    }
}

/// The image similarity the network is trained with.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum SimilarityLoss {
    Mse,
    /// `1 − r` over the whole image.
    Ncc,
    /// Local NCC in a cubic window (voxels, odd).
    Lncc {
        window: usize,
    },
    /// Mean squared difference of MIND-SSC or macMIND descriptors (for CT–MR pairs).
    Mind {
        descriptor: crate::volume::mind::Descriptor,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingSettings {
    pub iterations: u32,
    /// Adam's peak learning rate, reached linearly over `warmup_iterations`, then lowered along
    /// a half cosine to `final_learning_rate` at the last iteration.
    pub learning_rate: f64,
    pub warmup_iterations: u32,
    pub final_learning_rate: f64,
    pub similarity: SimilarityLoss,
    /// Weight of the diffusion regulariser on the predicted field (in voxels).
    pub smoothness: f64,
    /// Weight of soft Dice on warped labels, on pairs that have labels on both sides.
    pub label_weight: f64,
    /// The share of labelled pairs whose labels are used (macJNet's weak supervision).
    pub label_fraction: f64,
    /// The Dice loss uses at most this many labels, the largest ones.
    pub dice_labels: usize,
    /// Weight of the folding penalty (mean of max(0, −det J)).
    pub folding_weight: f64,
    pub validate_every: u32,
    pub checkpoint_every: u32,
    pub seed: u64,
}

impl TrainingSettings {
    /// The learning rate of iteration `n` (1-based) under the warm-up and cosine schedule.
    ///
    /// Adam's first steps move every weight by about the learning rate whatever the gradient's
    /// size, and with one pair per step they follow that pair: at a rate that learns in a few
    /// hundred steps, the first few moved the brain example's map by voxels and wrecked it. The
    /// warm-up lets Adam's moment estimates settle first.
    pub fn learning_rate_at(&self, n: u32) -> f64 {
        let warmup = self
            .warmup_iterations
            .min(self.iterations.saturating_sub(1));
        if n <= warmup {
            return self.learning_rate * f64::from(n) / f64::from(warmup + 1);
        }
        let span = f64::from((self.iterations - warmup).max(1));
        let t = (f64::from(n - warmup) / span).min(1.0);
        let cosine = 0.5 * (1.0 + (std::f64::consts::PI * t).cos());
        self.final_learning_rate + (self.learning_rate - self.final_learning_rate) * cosine
    }
}

impl Default for TrainingSettings {
    fn default() -> Self {
        TrainingSettings {
            iterations: 300,
            learning_rate: 1e-3,
            warmup_iterations: 25,
            final_learning_rate: 1e-4,
            similarity: SimilarityLoss::Lncc { window: 5 },
            smoothness: 1.0,
            label_weight: 0.0,
            label_fraction: 1.0,
            dice_labels: 16,
            folding_weight: 0.0,
            validate_every: 25,
            checkpoint_every: 100,
            seed: 1,
        }
    }
}

/// Random changes to each training pair, so a handful of subjects trains a network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Augmentation {
    /// Largest rotation about each axis (degrees), scaling (fraction) and shift (mm).
    pub rotation_deg: f64,
    pub scale: f64,
    pub translation_mm: f64,
    /// Smooth random deformation: largest displacement (mm) of control points this far apart.
    pub deformation_mm: f64,
    pub deformation_spacing_mm: f64,
    /// Intensity: gamma exponent in `[1/(1+g), 1+g]`, and Gaussian noise (fraction of the range).
    pub gamma: f64,
    pub noise: f64,
    /// The share of iterations that register a volume to a deformed copy of itself, whose
    /// labels then always supervise.
    pub synthetic_fraction: f64,
}

impl Default for Augmentation {
    fn default() -> Self {
        Augmentation {
            rotation_deg: 5.0,
            scale: 0.05,
            translation_mm: 4.0,
            deformation_mm: 4.0,
            deformation_spacing_mm: 32.0,
            gamma: 0.2,
            noise: 0.02,
            synthetic_fraction: 0.3,
        }
    }
}

impl TrainConfig {
    /// Reads and checks a config; relative paths become relative to the file's folder.
    pub fn read(path: &Path) -> Result<TrainConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut config: TrainConfig =
            toml::from_str(&text).map_err(|e| Error::format(path, e.to_string()))?;
        let folder = path.parent().unwrap_or(Path::new("."));
        config.data.root = folder.join(&config.data.root);
        config
            .validate()
            .map_err(|e| Error::format(path, e.to_string()))?;
        Ok(config)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a training config serialises")
    }

    /// A volume entry's file, resolved against the data root.
    pub fn path_of(&self, relative: &Path) -> PathBuf {
        self.data.root.join(relative)
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        let d = &self.data;
        let m = &self.model;
        let t = &self.training;
        let levels = m.encoder_channels.len();
        if levels < 2 || m.encoder_channels.contains(&0) || m.decoder_channels == 0 {
            return bad("model: at least two encoder levels, none with zero channels".into());
        }
        let multiple = 1usize << levels;
        if d.dims.iter().any(|&n| n == 0 || n % multiple != 0) {
            return bad(format!(
                "data.dims {:?}: each must be a positive multiple of {multiple} for {levels} encoder levels",
                d.dims
            ));
        }
        for (name, v) in [
            ("spacing_mm", d.spacing_mm),
            ("alignment_spacing_mm", d.alignment_spacing_mm),
        ] {
            if !(v > 0.0 && v.is_finite()) {
                return bad(format!("data.{name} {v} must be positive"));
            }
        }
        let names: Vec<&str> = d.volumes.iter().map(|v| v.name.as_str()).collect();
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return bad(format!("data.volumes: the name {name:?} is used twice"));
            }
        }
        for (what, name) in [
            ("data.atlas", &d.atlas),
            ("data.validation.fixed", &d.validation.fixed),
            ("data.validation.moving", &d.validation.moving),
        ] {
            if !names.contains(&name.as_str()) {
                return bad(format!("{what} {name:?} is not among data.volumes"));
            }
        }
        if d.validation.fixed == d.validation.moving {
            return bad("data.validation: fixed and moving must differ".into());
        }
        if d.affine_preset != NO_ALIGNMENT {
            RegistrationConfig::preset(&d.affine_preset)?;
        }
        if let SimilarityLoss::Lncc { window } = t.similarity
            && (window % 2 == 0 || window < 3)
        {
            return bad(format!(
                "training.similarity.window {window} must be odd and at least 3"
            ));
        }
        let weights = [
            t.smoothness,
            t.label_weight,
            t.folding_weight,
            t.learning_rate,
            t.final_learning_rate,
        ];
        if weights.iter().any(|w| !(*w >= 0.0 && w.is_finite()))
            || t.learning_rate == 0.0
            || t.final_learning_rate == 0.0
        {
            return bad("training: weights must be ≥ 0 and the learning rates > 0".into());
        }
        if !(0.0..=1.0).contains(&t.label_fraction)
            || !(0.0..=1.0).contains(&self.augmentation.synthetic_fraction)
        {
            return bad("label_fraction and synthetic_fraction are shares in [0, 1]".into());
        }
        let r = &self.refinement;
        let valid = r.learning_rate > 0.0
            && r.learning_rate.is_finite()
            && r.smoothness >= 0.0
            && r.smoothness.is_finite();
        if !valid {
            return bad("refinement: learning_rate must be > 0 and smoothness ≥ 0".into());
        }
        if t.iterations == 0 || t.validate_every == 0 || t.checkpoint_every == 0 {
            return bad(
                "training: iterations, validate_every and checkpoint_every must be > 0".into(),
            );
        }
        Ok(())
    }
}
