//! A registration case: the fixed and moving images with their optional label maps, label names and
//! landmarks, and the files they came from. The window, the session files and the CLI load cases
//! the same way.

use crate::demo::DemoCase;
use crate::error::{Error, Result};
use crate::register::preset_choice::PresetChoice;
use crate::volume::nifti_io::{read_labels, read_scalar};
use crate::volume::{LabelTable, LabelVolume, LandmarkSet, ScalarVolume};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Where a case's layers come from. `None` for the images means the built-in demo case.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFiles {
    pub fixed: Option<PathBuf>,
    pub moving: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_labels: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moving_labels: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_landmarks: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moving_landmarks: Option<PathBuf>,
    /// Label names and colours (any format [`LabelTable::read`] takes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_names: Option<PathBuf>,
}

/// The loaded layers. The images are shared, so that helper threads (scoring, export, the joint
/// histogram) take them without a copy on the window's thread.
#[derive(Clone, Debug)]
pub struct Case {
    pub fixed: Arc<ScalarVolume>,
    pub moving: Arc<ScalarVolume>,
    pub fixed_labels: Option<Arc<LabelVolume>>,
    pub moving_labels: Option<Arc<LabelVolume>>,
    pub fixed_landmarks: LandmarkSet,
    pub moving_landmarks: LandmarkSet,
    pub label_table: LabelTable,
    pub files: CaseFiles,
}

impl From<DemoCase> for Case {
    fn from(demo: DemoCase) -> Case {
        Case {
            fixed: Arc::new(demo.fixed),
            moving: Arc::new(demo.moving),
            fixed_labels: Some(Arc::new(demo.fixed_labels)),
            moving_labels: Some(Arc::new(demo.moving_labels)),
            fixed_landmarks: demo.fixed_landmarks,
            moving_landmarks: demo.moving_landmarks,
            label_table: LabelTable::from_names(crate::demo::LABEL_NAMES, "the built-in demo's"),
            files: CaseFiles::default(),
        }
    }
}

impl Case {
    /// The preset for this case when the user names none ([`PresetChoice::for_images`]).
    pub fn preset_choice(&self) -> PresetChoice {
        if self.files.is_demo() {
            // Its T2-like image is the T1 with parts of the contrast inverted (CSF bright): a
            // single-modality similarity would pull tissue boundaries apart.
            return PresetChoice {
                name: "ct-mr",
                reason: "the built-in demo pairs a T1 with a T2-like image (a multimodal pair)"
                    .into(),
            };
        }
        PresetChoice::for_images(
            (&self.fixed, self.files.fixed.as_deref()),
            (&self.moving, self.files.moving.as_deref()),
        )
    }
}

impl CaseFiles {
    /// The same files with absolute paths, to be found from any working folder.
    pub fn absolute(&self) -> CaseFiles {
        let absolute = |p: &Option<PathBuf>| {
            p.as_ref()
                .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
        };
        CaseFiles {
            fixed: absolute(&self.fixed),
            moving: absolute(&self.moving),
            fixed_labels: absolute(&self.fixed_labels),
            moving_labels: absolute(&self.moving_labels),
            fixed_landmarks: absolute(&self.fixed_landmarks),
            moving_landmarks: absolute(&self.moving_landmarks),
            label_names: absolute(&self.label_names),
        }
    }

    pub fn is_demo(&self) -> bool {
        self.fixed.is_none() && self.moving.is_none()
    }

    /// A one-line title: the two images' file names, or the demo's description.
    pub fn title(&self) -> String {
        if self.is_demo() {
            return "demo: MNI152 2009a T1 (fixed), its deformed, T2-like copy (moving)".into();
        }
        let name = |p: &Option<PathBuf>| {
            p.as_deref()
                .and_then(Path::file_name)
                .map_or("?".into(), |n| n.to_string_lossy().into_owned())
        };
        format!(
            "{} (fixed), {} (moving)",
            name(&self.fixed),
            name(&self.moving)
        )
    }

    /// How many files `load` reads (for progress).
    fn count(&self) -> usize {
        [
            &self.fixed,
            &self.moving,
            &self.fixed_labels,
            &self.moving_labels,
            &self.fixed_landmarks,
            &self.moving_landmarks,
            &self.label_names,
        ]
        .iter()
        .filter(|p| p.is_some())
        .count()
    }

    /// Reads every file, calling `progress(done fraction, file being read)` before each one and
    /// returning `Error::Cancelled` as soon as `cancel` is set.
    pub fn load(&self, cancel: &AtomicBool, mut progress: impl FnMut(f32, &Path)) -> Result<Case> {
        if self.is_demo() {
            return Ok(crate::demo::load_builtin()?.into());
        }
        let (Some(fixed_path), Some(moving_path)) = (&self.fixed, &self.moving) else {
            return Err(Error::Config(
                "a case needs both a fixed and a moving image".into(),
            ));
        };
        let total = self.count() as f32;
        let mut done = 0.0;
        let mut step = |path: &Path| {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            progress(done / total, path);
            done += 1.0;
            Ok(())
        };
        step(fixed_path)?;
        let fixed = read_scalar(fixed_path)?;
        step(moving_path)?;
        let moving = read_scalar(moving_path)?;
        let mut labels = |path: &Option<PathBuf>| -> Result<Option<LabelVolume>> {
            match path {
                Some(p) => {
                    step(p)?;
                    Ok(Some(read_labels(p)?))
                }
                None => Ok(None),
            }
        };
        let fixed_labels = labels(&self.fixed_labels)?;
        let moving_labels = labels(&self.moving_labels)?;
        let mut landmarks = |path: &Option<PathBuf>, image: &ScalarVolume| match path {
            Some(p) => {
                step(p)?;
                LandmarkSet::read(p, Some(image.grid()))
            }
            None => Ok(LandmarkSet::default()),
        };
        let fixed_landmarks = landmarks(&self.fixed_landmarks, &fixed)?;
        let moving_landmarks = landmarks(&self.moving_landmarks, &moving)?;
        if let Some(p) = &self.label_names {
            step(p)?;
        }
        let label_table = LabelTable::load(
            self.label_names.as_deref(),
            [&self.fixed_labels, &self.moving_labels],
        )?;
        for (labels, image, role) in [
            (&fixed_labels, &fixed, "fixed"),
            (&moving_labels, &moving, "moving"),
        ] {
            if let Some(l) = labels
                && !l.grid().same_as(image.grid(), 1e-3)
            {
                return Err(Error::Mismatch(format!(
                    "the {role} label map's grid ({:?}) differs from the {role} image's ({:?})",
                    l.grid().dims(),
                    image.grid().dims()
                )));
            }
        }
        Ok(Case {
            fixed: Arc::new(fixed),
            moving: Arc::new(moving),
            fixed_labels: fixed_labels.map(Arc::new),
            moving_labels: moving_labels.map(Arc::new),
            fixed_landmarks,
            moving_landmarks,
            label_table,
            files: self.clone(),
        })
    }
}
