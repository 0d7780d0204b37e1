//! A model folder: the network's weights (`model.bpk`), the optimizer state (`optimizer.bpk`),
//! the training config (`config.toml`), the atlas on the training grid (`atlas.nii.gz`, what
//! inference aligns new volumes to), and where training stands (`checkpoint.json`, `training.json`).
//! Every file is written atomically, so a run stopped while saving keeps its last checkpoint.

use super::config::TrainConfig;
use super::nets::RegNet;
use super::train::History;
use crate::atomic::write_bytes;
use crate::error::{Error, Result};
use crate::volume::ScalarVolume;
use crate::volume::nifti_io::write_scalar;
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The files of one model folder.
pub struct ModelFiles {
    dir: PathBuf,
}

impl ModelFiles {
    pub fn new(dir: &Path) -> ModelFiles {
        ModelFiles {
            dir: dir.to_path_buf(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn weights(&self) -> PathBuf {
        self.dir.join("model.bpk")
    }

    pub fn optimizer(&self) -> PathBuf {
        self.dir.join("optimizer.bpk")
    }

    pub fn config(&self) -> PathBuf {
        self.dir.join("config.toml")
    }

    pub fn atlas(&self) -> PathBuf {
        self.dir.join("atlas.nii.gz")
    }

    pub fn checkpoint(&self) -> PathBuf {
        self.dir.join("checkpoint.json")
    }

    pub fn history(&self) -> PathBuf {
        self.dir.join("training.json")
    }

    pub fn metrics(&self) -> PathBuf {
        self.dir.join("metrics.json")
    }
}

/// Where a saved run stands.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Checkpoint {
    pub iteration: u32,
    /// Training wall time so far.
    pub seconds: f64,
    #[serde(skip)]
    pub history: History,
}

/// Saves a model (and, while training, its optimizer and progress) into `files`' folder.
pub fn save(
    files: &ModelFiles,
    model: &RegNet,
    optimizer: Option<&ModuleOptimizer>,
    config: &TrainConfig,
    checkpoint: &Checkpoint,
) -> Result<()> {
    std::fs::create_dir_all(files.dir()).map_err(|e| Error::io(files.dir(), e))?;
    let weights = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| Error::Gpu(format!("packing the model's weights: {e:?}")))?;
    write_bytes(&files.weights(), &weights)?;
    if let Some(optimizer) = optimizer {
        let state = optimizer
            .into_bytes()
            .map_err(|e| Error::Gpu(format!("packing the optimizer state: {e:?}")))?;
        write_bytes(&files.optimizer(), &state)?;
    }
    write_bytes(&files.config(), config.to_toml().as_bytes())?;
    write_json(&files.history(), &checkpoint.history)?;
    write_json(&files.checkpoint(), checkpoint)
}

/// Writes the atlas the model's inputs are aligned to.
pub fn save_atlas(files: &ModelFiles, atlas: &ScalarVolume) -> Result<()> {
    write_scalar(&files.atlas(), atlas)
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("plain data serialises");
    write_bytes(path, text.as_bytes())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::format(path, e.to_string()))
}

/// The config a model was trained with (its data root already absolute).
pub fn read_config(files: &ModelFiles) -> Result<TrainConfig> {
    let path = files.config();
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let config: TrainConfig =
        toml::from_str(&text).map_err(|e| Error::format(&path, e.to_string()))?;
    config
        .validate()
        .map_err(|e| Error::format(&path, e.to_string()))?;
    Ok(config)
}

pub fn read_checkpoint(files: &ModelFiles) -> Result<Checkpoint> {
    let mut checkpoint: Checkpoint = read_json(&files.checkpoint())?;
    checkpoint.history = read_json(&files.history())?;
    Ok(checkpoint)
}

/// The network of `config`, with the weights saved in `files`.
pub fn load_weights(files: &ModelFiles, config: &TrainConfig, device: &Device) -> Result<RegNet> {
    let path = files.weights();
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| Error::format(&path, format!("not a model file: {e:?}")))?;
    RegNet::new(&config.model, device)
        .try_load_record(record)
        .map_err(|e| Error::format(&path, format!("does not fit the configured network: {e:?}")))
}

/// The configuration a run into `dir` trains with: the run's own when resuming, else the one at
/// `config` (a new run refuses a folder that already holds one, which it would overwrite).
pub fn run_config(dir: &Path, config: Option<&Path>, resume: bool) -> Result<TrainConfig> {
    let files = ModelFiles::new(dir);
    match (config, resume) {
        (_, true) => read_config(&files),
        (Some(_), false) if files.checkpoint().exists() => Err(Error::Config(format!(
            "{} already holds a training run: resume it, or choose another output folder",
            dir.display()
        ))),
        (Some(path), false) => TrainConfig::read(path),
        (None, false) => Err(Error::Config(
            "a training configuration is needed unless resuming".into(),
        )),
    }
}
