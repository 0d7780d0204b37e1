//! A saved session (what ITK-SNAP calls a workspace): the case's files, the edited landmarks and
//! excluded pairs, the transform, the view (crosshair, display, layout, zoom and pan), the
//! registration parameters and the table of results (their scores and settings). It is a JSON
//! file; the displacement, too big for JSON, goes beside it as `<name>.displacement.nii.gz`.
//! Both are written atomically. (Named so because `crate::session` is the registration worker's
//! session.)

use crate::app::Layout;
use crate::app::results::SavedResult;
use crate::app::state::Deformation;
use crate::app::views::display::Display;
use crate::app::views::ruler::Ruler;
use crate::case::{Case, CaseFiles};
use crate::error::{Error, Result};
use crate::register::config::RegistrationConfig;
use crate::volume::nifti_io::{read_displacement, write_displacement};
use crate::volume::{Affine, LandmarkSet, VectorField};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

const FORMAT: &str = "warpbench-session-1";

/// One view's zoom and pan.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViewZoom {
    pub zoom: f32,
    pub pan: [f32; 2],
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViewState {
    pub cursor_mm: [f64; 3],
    pub display: Display,
    pub layout: Layout,
    /// Axial, coronal, sagittal.
    pub zoom: [ViewZoom; 3],
    /// The measuring tool's rulers, per view as `zoom`; sessions saved before rulers had none.
    #[serde(default)]
    pub rulers: [Option<Ruler>; 3],
}

/// The transform part: the affine, and whether a displacement file goes with the session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedTransform {
    pub affine: Affine,
    /// The displacement's file name, beside the session file.
    pub displacement: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedSession {
    pub format: String,
    pub files: CaseFiles,
    pub fixed_landmarks: LandmarkSet,
    pub moving_landmarks: LandmarkSet,
    pub excluded_pairs: BTreeSet<String>,
    pub transform: Option<SavedTransform>,
    pub view: ViewState,
    pub registration: RegistrationConfig,
    /// The case's results; sessions saved before the table had none.
    #[serde(default)]
    pub results: Vec<SavedResult>,
    /// The number of the result whose transform the session holds, if it is one of them.
    #[serde(default)]
    pub shown_result: Option<usize>,
}

/// A session read back with its case and transform, ready for the window.
pub struct Restored {
    pub session: SavedSession,
    pub case: Case,
    pub deformation: Option<Deformation>,
}

/// Where the displacement of session file `path` goes.
fn displacement_path(path: &Path) -> (PathBuf, String) {
    let name = path
        .file_name()
        .map_or("session".into(), |n| n.to_string_lossy().into_owned());
    let stem = name
        .strip_suffix(".json")
        .unwrap_or(&name)
        .trim_end_matches(".warpbench")
        .to_string();
    let file = format!("{stem}.displacement.nii.gz");
    (path.with_file_name(&file), file)
}

impl SavedSession {
    /// The session with the case's file paths made absolute, so it reopens from anywhere.
    pub fn new(
        files: &CaseFiles,
        landmarks: (&LandmarkSet, &LandmarkSet),
        excluded_pairs: &BTreeSet<String>,
        view: ViewState,
        registration: &RegistrationConfig,
        results: &crate::app::results::Results,
    ) -> SavedSession {
        SavedSession {
            format: FORMAT.into(),
            files: files.absolute(),
            fixed_landmarks: landmarks.0.clone(),
            moving_landmarks: landmarks.1.clone(),
            excluded_pairs: excluded_pairs.clone(),
            transform: None,
            view,
            registration: registration.clone(),
            results: results.kept.iter().map(|r| r.saved.clone()).collect(),
            shown_result: results.shown,
        }
    }

    /// Writes the session to `path` and the displacement (when given) beside it; the session
    /// file last, so it never names a displacement that is not there.
    pub fn write(mut self, path: &Path, transform: Option<(&Affine, &VectorField)>) -> Result<()> {
        self.transform = match transform {
            Some((affine, field)) => {
                let (file, name) = displacement_path(path);
                write_displacement(&file, field)?;
                Some(SavedTransform {
                    affine: *affine,
                    displacement: name,
                })
            }
            None => None,
        };
        let json = serde_json::to_vec_pretty(&self)
            .map_err(|e| Error::format(path, format!("cannot encode the session: {e}")))?;
        crate::atomic::write_bytes(path, &json)
    }

    pub fn read(path: &Path) -> Result<SavedSession> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let session: SavedSession = serde_json::from_slice(&bytes)
            .map_err(|e| Error::format(path, format!("not a Warpbench session: {e}")))?;
        if session.format != FORMAT {
            return Err(Error::format(
                path,
                format!("session format {:?}, expected {FORMAT:?}", session.format),
            ));
        }
        Ok(session)
    }

    /// Reads the session at `path`, its case and its displacement (checked against the fixed
    /// image's grid).
    pub fn open(
        path: &Path,
        cancel: &AtomicBool,
        mut progress: impl FnMut(f32, &Path),
    ) -> Result<Restored> {
        progress(0.0, path);
        let session = SavedSession::read(path)?;
        let case = session.files.load(cancel, |f, p| progress(0.9 * f, p))?;
        let deformation = match &session.transform {
            Some(t) => {
                let file = path.with_file_name(&t.displacement);
                progress(0.9, &file);
                let field = read_displacement(&file)?;
                if !field.grid().same_as(case.fixed.grid(), 1e-3) {
                    return Err(Error::Mismatch(format!(
                        "{}: the displacement is not on the fixed image's grid",
                        file.display()
                    )));
                }
                Some(Deformation::new(t.affine, field))
            }
            None => None,
        };
        Ok(Restored {
            session,
            case,
            deformation,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a_view() -> ViewState {
        ViewState {
            cursor_mm: [0.0; 3],
            display: Display::new(
                crate::app::views::colour::Window { lo: 0.0, hi: 1.0 },
                crate::app::views::colour::Window { lo: 0.0, hi: 1.0 },
            ),
            layout: Layout::Single(crate::app::views::slice::Plane::Axial),
            zoom: [ViewZoom {
                zoom: 1.0,
                pan: [0.0; 2],
            }; 3],
            rulers: [None; 3],
        }
    }

    #[test]
    fn a_broken_session_or_a_displacement_off_the_grid_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.warpbench.json");
        std::fs::write(&path, b"{ not json").unwrap();
        let e = SavedSession::open(&path, &AtomicBool::new(false), |_, _| {})
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("broken.warpbench.json") && e.contains("not a Warpbench session"),
            "{e}"
        );

        let session = SavedSession::new(
            &CaseFiles::default(),
            (&LandmarkSet::default(), &LandmarkSet::default()),
            &BTreeSet::new(),
            a_view(),
            &RegistrationConfig::preset("fast").unwrap(),
            &Default::default(),
        );
        let grid = crate::volume::Grid::new([4, 4, 4], Affine::IDENTITY).unwrap();
        let small = VectorField::new(grid, vec![[0.0; 3]; 64]).unwrap();
        let path = dir.path().join("demo.warpbench.json");
        session
            .write(&path, Some((&Affine::IDENTITY, &small)))
            .unwrap();
        let e = SavedSession::open(&path, &AtomicBool::new(false), |_, _| {})
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("demo.displacement.nii.gz") && e.contains("grid"),
            "{e}"
        );
    }

    #[test]
    fn the_displacement_goes_beside_the_session() {
        let (path, name) = displacement_path(Path::new("/d/case1.warpbench.json"));
        assert_eq!(path, Path::new("/d/case1.displacement.nii.gz"));
        assert_eq!(name, "case1.displacement.nii.gz");
        assert_eq!(
            displacement_path(Path::new("s")).0,
            Path::new("s.displacement.nii.gz")
        );
    }

    #[test]
    fn a_session_saved_before_rulers_or_results_reads_with_none_and_rulers_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.warpbench.json");
        let mut view = a_view();
        let ruler = Ruler {
            ends_mm: [[1.0, 2.0, 3.0], [4.0, -5.0, 3.0]],
        };
        view.rulers[1] = Some(ruler);
        let session = SavedSession::new(
            &CaseFiles::default(),
            (&LandmarkSet::default(), &LandmarkSet::default()),
            &BTreeSet::new(),
            view,
            &RegistrationConfig::preset("fast").unwrap(),
            &Default::default(),
        );
        session.clone().write(&path, None).unwrap();
        assert_eq!(SavedSession::read(&path).unwrap(), session);

        let mut json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        json["view"]
            .as_object_mut()
            .unwrap()
            .remove("rulers")
            .unwrap();
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
        assert_eq!(SavedSession::read(&path).unwrap().view.rulers, [None; 3]);
        // Nor had it results.
        for key in ["results", "shown_result"] {
            json.as_object_mut().unwrap().remove(key).unwrap();
        }
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
        let old = SavedSession::read(&path).unwrap();
        assert!(old.results.is_empty() && old.shown_result.is_none());
    }
}
