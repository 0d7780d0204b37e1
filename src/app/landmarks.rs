//! Landmark editing: the edits the views and the landmark panel ask for, applied to the document in
//! one place; where a moving landmark shows when the moving image is drawn warped; and the
//! autosave that keeps edits across restarts without touching the files they came from.

use crate::app::state::Document;
use crate::case::CaseFiles;
use crate::volume::landmarks::{Landmark, LandmarkSet};
use crate::volume::warp::displacement_at;
use crate::volume::{Grid, VectorField};
use crossbeam_channel::{Receiver, Sender};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Which image a landmark belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Side {
    Fixed,
    Moving,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Fixed => "fixed",
            Side::Moving => "moving",
        }
    }
}

/// One change to the landmarks.
#[derive(Clone, Debug, PartialEq)]
pub enum LandmarkEdit {
    /// A new point at the end of `side`'s list, named after the first point of the other side
    /// still without a partner (or `L<n>`).
    Place {
        side: Side,
        world_mm: [f64; 3],
    },
    Move {
        side: Side,
        index: usize,
        world_mm: [f64; 3],
    },
    Rename {
        side: Side,
        index: usize,
        name: String,
    },
    Delete {
        side: Side,
        index: usize,
    },
    /// Leave the pair with this name out of the TRE summary and the run's scoring.
    Exclude {
        pair: String,
        excluded: bool,
    },
    /// Replace a side's points (an import, or a revert to the files).
    Replace {
        side: Side,
        set: LandmarkSet,
    },
}

impl Document {
    pub fn landmarks(&self, side: Side) -> &LandmarkSet {
        match side {
            Side::Fixed => &self.case.fixed_landmarks,
            Side::Moving => &self.case.moving_landmarks,
        }
    }

    fn landmarks_mut(&mut self, side: Side) -> &mut LandmarkSet {
        match side {
            Side::Fixed => &mut self.case.fixed_landmarks,
            Side::Moving => &mut self.case.moving_landmarks,
        }
    }

    /// Applies `edit`, refreshes the TRE table and counts the edit (for the autosave). Indices
    /// out of range are ignored: the point was deleted by an earlier edit of the same frame.
    pub fn edit_landmarks(&mut self, edit: LandmarkEdit) {
        match edit {
            LandmarkEdit::Place { side, world_mm } => {
                let name = Some(self.new_landmark_name(side));
                self.landmarks_mut(side)
                    .points
                    .push(Landmark { name, world_mm });
            }
            LandmarkEdit::Move {
                side,
                index,
                world_mm,
            } => {
                if let Some(p) = self.landmarks_mut(side).points.get_mut(index) {
                    p.world_mm = world_mm;
                }
            }
            LandmarkEdit::Rename { side, index, name } => {
                let name = name.trim();
                if let Some(p) = self.landmarks_mut(side).points.get_mut(index) {
                    p.name = (!name.is_empty()).then(|| name.to_string());
                }
            }
            LandmarkEdit::Delete { side, index } => {
                let points = &mut self.landmarks_mut(side).points;
                if index < points.len() {
                    points.remove(index);
                }
            }
            LandmarkEdit::Exclude { pair, excluded } => {
                if excluded {
                    self.excluded_pairs.insert(pair);
                } else {
                    self.excluded_pairs.remove(&pair);
                }
            }
            LandmarkEdit::Replace { side, set } => *self.landmarks_mut(side) = set,
        }
        self.landmark_edits += 1;
        self.update_tre();
    }

    /// Puts whole landmark sets and exclusions in place at once (an autosave or a session taken
    /// back), as one edit.
    pub fn replace_landmarks(
        &mut self,
        fixed: LandmarkSet,
        moving: LandmarkSet,
        excluded_pairs: BTreeSet<String>,
    ) {
        self.case.fixed_landmarks = fixed;
        self.case.moving_landmarks = moving;
        self.excluded_pairs = excluded_pairs;
        self.landmark_edits += 1;
        self.update_tre();
    }

    /// The name of the first point on the other side without a partner here, so placing points
    /// alternately in both images pairs them; otherwise the first free `L<n>`.
    fn new_landmark_name(&self, side: Side) -> String {
        let other_side = match side {
            Side::Fixed => Side::Moving,
            Side::Moving => Side::Fixed,
        };
        let here: BTreeSet<&str> = self
            .landmarks(side)
            .points
            .iter()
            .filter_map(|p| p.name.as_deref())
            .collect();
        let other = self.landmarks(other_side);
        if let Some(name) = other
            .points
            .iter()
            .filter_map(|p| p.name.as_deref())
            .find(|n| !here.contains(n))
        {
            return name.to_string();
        }
        let used =
            |n: &str| here.contains(n) || other.points.iter().any(|p| p.name.as_deref() == Some(n));
        (1..)
            .map(|k| format!("L{k}"))
            .find(|n| !used(n))
            .expect("some name is free")
    }

    /// The pairs still counted (not excluded), as two sets in pair order; `None` without pairs.
    pub fn included_landmarks(&self) -> Option<(LandmarkSet, LandmarkSet)> {
        let (f, m) = (&self.case.fixed_landmarks, &self.case.moving_landmarks);
        let tre = self.tre.as_ref()?;
        let (mut fixed, mut moving) = (LandmarkSet::default(), LandmarkSet::default());
        for (&(i, j), error) in self.landmark_pairs.iter().zip(&tre.pairs) {
            if !self.excluded_pairs.contains(&error.name) {
                fixed.points.push(f.points[i].clone());
                moving.points.push(m.points[j].clone());
            }
        }
        (!fixed.is_empty()).then_some((fixed, moving))
    }
}

/// Where moving point `moving_mm` shows when the moving image is drawn warped into the fixed
/// space: the `p` with `p + u(p) = moving_mm`, by fixed-point iteration (it converges where the
/// field is smooth, and stays put where the field has no inverse).
pub fn warped_position(moving_mm: [f64; 3], field: &VectorField) -> [f64; 3] {
    let mut p = moving_mm;
    for _ in 0..20 {
        let u = displacement_at(field, p);
        let next = std::array::from_fn(|a| moving_mm[a] - u[a]);
        let step: f64 = (0..3).map(|a| (next[a] - p[a]).powi(2)).sum();
        p = next;
        if step < 1e-6 {
            break;
        }
    }
    p
}

/// The point of the moving image behind fixed-space point `p` (through `field` when given).
pub fn moving_point_behind(p: [f64; 3], field: Option<&VectorField>) -> [f64; 3] {
    match field {
        Some(f) => {
            let u = displacement_at(f, p);
            std::array::from_fn(|a| p[a] + u[a])
        }
        None => p,
    }
}

/// What the autosave file holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedLandmarks {
    pub case: CaseFiles,
    pub fixed: LandmarkSet,
    pub moving: LandmarkSet,
    pub excluded: BTreeSet<String>,
}

/// Writes landmark edits to `<dir>/landmarks/<case key>.json` on a helper thread, atomically, the
/// newest content winning when edits come faster than the disk (a drag).
pub struct Autosave {
    dir: PathBuf,
    jobs: Sender<(PathBuf, Vec<u8>)>,
    errors: Receiver<String>,
}

impl Autosave {
    pub fn new(dir: PathBuf) -> Autosave {
        let (jobs, queue) = crossbeam_channel::unbounded::<(PathBuf, Vec<u8>)>();
        let (report, errors) = crossbeam_channel::unbounded();
        let spawned = std::thread::Builder::new()
            .name("landmark autosave".into())
            .spawn(move || {
                while let Ok(mut job) = queue.recv() {
                    while let Ok(newer) = queue.try_recv() {
                        if newer.0 != job.0 {
                            write_or_report(&job, &report);
                        }
                        job = newer;
                    }
                    write_or_report(&job, &report);
                }
            });
        if let Err(e) = spawned {
            log::error!("cannot start the landmark autosave thread: {e}");
        }
        Autosave { dir, jobs, errors }
    }

    /// The autosave file of a case: one per set of input files.
    pub fn path_for(&self, case: &CaseFiles) -> PathBuf {
        let key = serde_json::to_string(case).unwrap_or_default();
        // FNV-1a: stable across builds, unlike std's hasher.
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        self.dir.join("landmarks").join(format!("{hash:016x}.json"))
    }

    pub fn save(&self, doc: &Document) {
        let saved = SavedLandmarks {
            case: doc.case.files.clone(),
            fixed: doc.case.fixed_landmarks.clone(),
            moving: doc.case.moving_landmarks.clone(),
            excluded: doc.excluded_pairs.clone(),
        };
        match serde_json::to_vec_pretty(&saved) {
            Ok(bytes) => {
                let _ = self.jobs.send((self.path_for(&doc.case.files), bytes));
            }
            Err(e) => log::error!("cannot encode the landmark autosave: {e}"),
        }
    }

    /// Failures of earlier writes, for the window to show.
    pub fn errors(&self) -> Vec<String> {
        self.errors.try_iter().collect()
    }

    /// The autosaved edits of `doc`'s case, when they differ from what was loaded and are newer
    /// than the landmark files (a file edited since wins over an old autosave).
    pub fn restorable(&self, doc: &Document) -> Option<(PathBuf, SavedLandmarks)> {
        let path = self.path_for(&doc.case.files);
        let saved_at = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
        let files = &doc.case.files;
        let newer_file = [&files.fixed_landmarks, &files.moving_landmarks]
            .into_iter()
            .flatten()
            .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .any(|t| t > saved_at);
        if newer_file {
            return None;
        }
        let saved: SavedLandmarks = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
        let same = saved.case == doc.case.files
            && saved.fixed == doc.case.fixed_landmarks
            && saved.moving == doc.case.moving_landmarks
            && saved.excluded == doc.excluded_pairs;
        (saved.case == doc.case.files && !same).then_some((path, saved))
    }
}

fn write_or_report((path, bytes): &(PathBuf, Vec<u8>), report: &Sender<String>) {
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .map_err(|e| crate::Error::io(path, e))
        .and_then(|_| crate::atomic::write_bytes(path, bytes));
    if let Err(e) = written {
        let _ = report.send(format!("cannot autosave the landmarks: {e}"));
    }
}

/// The grid a side's voxel-index landmark files refer to.
pub fn side_grid(doc: &Document, side: Side) -> &Grid {
    match side {
        Side::Fixed => doc.case.fixed.grid(),
        Side::Moving => doc.case.moving.grid(),
    }
}

/// Reads a landmark file for `side` (voxel text through that side's image grid).
pub fn import(doc: &Document, side: Side, path: &Path) -> crate::Result<LandmarkSet> {
    LandmarkSet::read(path, Some(side_grid(doc, side)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Case;

    fn demo() -> Document {
        let case: Case = crate::demo::load_builtin().unwrap().into();
        Document::new(case)
    }

    #[test]
    fn placing_alternately_pairs_points_and_edits_update_the_table() {
        let mut doc = demo();
        let pairs = doc.tre.as_ref().unwrap().pairs.len();
        doc.edit_landmarks(LandmarkEdit::Place {
            side: Side::Fixed,
            world_mm: [1.0, 2.0, 3.0],
        });
        // One fixed point without a partner: the order no longer pairs, and no names do.
        let fixed_name = doc.case.fixed_landmarks.points.last().unwrap().name.clone();
        doc.edit_landmarks(LandmarkEdit::Place {
            side: Side::Moving,
            world_mm: [4.0, 2.0, 3.0],
        });
        assert_eq!(
            doc.case.moving_landmarks.points.last().unwrap().name,
            fixed_name
        );
        let tre = doc.tre.as_ref().unwrap();
        assert_eq!(tre.pairs.len(), pairs + 1);
        let new = tre.pairs.last().unwrap();
        assert!((new.before_mm - 3.0).abs() < 1e-9);
        doc.edit_landmarks(LandmarkEdit::Move {
            side: Side::Moving,
            index: doc.case.moving_landmarks.len() - 1,
            world_mm: [1.0, 2.0, 7.0],
        });
        assert!((doc.tre.as_ref().unwrap().pairs.last().unwrap().before_mm - 4.0).abs() < 1e-9);
        let edits = doc.landmark_edits;
        let name = doc.tre.as_ref().unwrap().pairs[0].name.clone();
        let before = doc.tre.as_ref().unwrap().before.mean;
        doc.edit_landmarks(LandmarkEdit::Exclude {
            pair: name,
            excluded: true,
        });
        assert_eq!(doc.landmark_edits, edits + 1);
        assert_ne!(doc.tre.as_ref().unwrap().before.mean, before);
        let (f, m) = doc.included_landmarks().unwrap();
        assert_eq!((f.len(), m.len()), (pairs, pairs));
        doc.edit_landmarks(LandmarkEdit::Delete {
            side: Side::Fixed,
            index: 0,
        });
        assert_eq!(doc.case.fixed_landmarks.len(), pairs);
    }

    #[test]
    fn a_warped_moving_point_shows_where_the_field_takes_it_from() {
        let grid = Grid::new([20, 20, 20], crate::volume::Affine::IDENTITY).unwrap();
        let field =
            VectorField::new(grid.clone(), vec![[2.0, -1.0, 0.5]; grid.voxel_count()]).unwrap();
        let p = warped_position([10.0, 10.0, 10.0], &field);
        let back = moving_point_behind(p, Some(&field));
        for a in 0..3 {
            assert!((back[a] - [10.0, 10.0, 10.0][a]).abs() < 1e-6);
        }
        assert!((p[0] - 8.0).abs() < 1e-6);
    }

    #[test]
    fn autosave_restores_edits_and_leaves_the_files_alone() {
        let dir = tempfile::tempdir().unwrap();
        let autosave = Autosave::new(dir.path().to_path_buf());
        let mut doc = demo();
        assert!(autosave.restorable(&doc).is_none());
        doc.edit_landmarks(LandmarkEdit::Rename {
            side: Side::Fixed,
            index: 0,
            name: "apex".into(),
        });
        autosave.save(&doc);
        let path = autosave.path_for(&doc.case.files);
        let start = std::time::Instant::now();
        while !path.exists() {
            assert!(start.elapsed().as_secs() < 10, "the autosave never came");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let fresh = demo();
        let (_, saved) = autosave.restorable(&fresh).unwrap();
        assert_eq!(saved.fixed.points[0].name.as_deref(), Some("apex"));
        assert!(autosave.errors().is_empty());
    }
}
