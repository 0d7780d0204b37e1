//! Landmark editing: the edits the views and the landmark panel ask for, applied to the document in
//! one place, with undo and redo; and the autosave that keeps edits across restarts without
//! touching the files they came from.

use crate::app::state::Document;
use crate::case::CaseFiles;
use crate::register::landmark_fit::{FitModel, LandmarkFit, fit_landmarks, landmark_pairs};
use crate::volume::Grid;
use crate::volume::landmarks::{Landmark, LandmarkSet};
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
    /// Take back the last step of edits.
    Undo,
    /// Make again the last step taken back.
    Redo,
}

/// Both sides' points and the excluded pairs: what one undo step puts back.
#[derive(Clone, Debug, PartialEq)]
struct LandmarkState {
    fixed: LandmarkSet,
    moving: LandmarkSet,
    excluded: BTreeSet<String>,
}

/// One undo or redo step: what it did, for the user, and the landmarks from before it.
#[derive(Clone, Debug)]
struct Step {
    what: String,
    state: LandmarkState,
}

/// Undo and redo of landmark edits, a step per frame's edits (one drag is one step).
#[derive(Clone, Debug, Default)]
pub struct LandmarkHistory {
    undo: Vec<Step>,
    redo: Vec<Step>,
    /// The point whose drag made the step on top, while that drag goes on: its later moves
    /// belong to that step.
    open_drag: Option<(Side, usize)>,
}

/// Steps kept: whole landmark sets are small, but a long session of edits should not grow
/// without bound.
const HISTORY_STEPS: usize = 200;

impl LandmarkHistory {
    /// What undo would take back ("move fixed L3"), if anything.
    pub fn undo_what(&self) -> Option<&str> {
        self.undo.last().map(|s| s.what.as_str())
    }

    /// What redo would make again, if anything.
    pub fn redo_what(&self) -> Option<&str> {
        self.redo.last().map(|s| s.what.as_str())
    }

    fn record(&mut self, what: String, state: LandmarkState) {
        if self.undo.len() == HISTORY_STEPS {
            self.undo.remove(0);
        }
        self.undo.push(Step { what, state });
        self.redo.clear();
    }
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

    /// Applies one frame's `edits` as one undo step, refreshes the TRE table and counts the edits
    /// (for the autosave). `dragging` is the point a drag in the views is moving, if any: while
    /// it lasts, its moves add to the step its first move made. Indices out of range are
    /// ignored: the point was deleted by an earlier edit of the same frame.
    pub fn edit_landmarks(
        &mut self,
        edits: impl IntoIterator<Item = LandmarkEdit>,
        dragging: Option<(Side, usize)>,
    ) {
        let mut stepped = false;
        let before = self.landmark_edits;
        for edit in edits {
            let changed = match edit {
                LandmarkEdit::Undo | LandmarkEdit::Redo => {
                    stepped = false;
                    self.step_through_history(edit == LandmarkEdit::Redo)
                }
                edit => {
                    if !stepped {
                        self.record_step(&edit, dragging);
                        stepped = true;
                    }
                    self.apply_landmark_edit(edit);
                    true
                }
            };
            if changed {
                self.landmark_edits += 1;
            }
        }
        if dragging.is_none() {
            self.landmark_history.open_drag = None;
        }
        if self.landmark_edits != before {
            self.update_tre();
            self.update_kept_tre();
        }
    }

    /// Records the landmarks from before a frame's first `edit`, unless it moves the point of
    /// the drag whose step is on top.
    fn record_step(&mut self, edit: &LandmarkEdit, dragging: Option<(Side, usize)>) {
        let drag_move = match *edit {
            LandmarkEdit::Move { side, index, .. } => dragging == Some((side, index)),
            _ => false,
        };
        let history = &self.landmark_history;
        if drag_move && history.open_drag == dragging && !history.undo.is_empty() {
            return;
        }
        let what = self.describe(edit);
        let state = self.landmark_state();
        self.landmark_history.record(what, state);
        self.landmark_history.open_drag = dragging.filter(|_| drag_move);
    }

    /// Undo (`forward` false) or redo: swaps the landmarks with the step's. False when there
    /// is no step to take.
    fn step_through_history(&mut self, forward: bool) -> bool {
        let current = self.landmark_state();
        let history = &mut self.landmark_history;
        let (from, to) = if forward {
            (&mut history.redo, &mut history.undo)
        } else {
            (&mut history.undo, &mut history.redo)
        };
        let Some(step) = from.pop() else {
            return false;
        };
        to.push(Step {
            what: step.what,
            state: current,
        });
        history.open_drag = None;
        self.case.fixed_landmarks = step.state.fixed;
        self.case.moving_landmarks = step.state.moving;
        self.excluded_pairs = step.state.excluded;
        true
    }

    fn landmark_state(&self) -> LandmarkState {
        LandmarkState {
            fixed: self.case.fixed_landmarks.clone(),
            moving: self.case.moving_landmarks.clone(),
            excluded: self.excluded_pairs.clone(),
        }
    }

    /// What `edit` does, in the words of the undo button: "move fixed L3".
    fn describe(&self, edit: &LandmarkEdit) -> String {
        let point = |side: Side, index: usize| {
            let name = self
                .landmarks(side)
                .points
                .get(index)
                .and_then(|p| p.name.clone())
                .unwrap_or_else(|| format!("#{}", index + 1));
            format!("{} {name}", side.name())
        };
        match edit {
            LandmarkEdit::Place { side, .. } => {
                format!("place {} {}", side.name(), self.new_landmark_name(*side))
            }
            LandmarkEdit::Move { side, index, .. } => format!("move {}", point(*side, *index)),
            LandmarkEdit::Rename { side, index, .. } => format!("rename {}", point(*side, *index)),
            LandmarkEdit::Delete { side, index } => format!("delete {}", point(*side, *index)),
            LandmarkEdit::Exclude { pair, excluded } => {
                format!("{} {pair}", if *excluded { "exclude" } else { "include" })
            }
            LandmarkEdit::Replace { side, .. } => format!("replace the {} points", side.name()),
            LandmarkEdit::Undo | LandmarkEdit::Redo => String::new(),
        }
    }

    fn apply_landmark_edit(&mut self, edit: LandmarkEdit) {
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
            LandmarkEdit::Undo | LandmarkEdit::Redo => {}
        }
    }

    /// Puts whole landmark sets and exclusions in place at once (an autosave or a session taken
    /// back), as one edit that starts a new undo history.
    pub fn replace_landmarks(
        &mut self,
        fixed: LandmarkSet,
        moving: LandmarkSet,
        excluded_pairs: BTreeSet<String>,
    ) {
        self.landmark_history = LandmarkHistory::default();
        self.case.fixed_landmarks = fixed;
        self.case.moving_landmarks = moving;
        self.excluded_pairs = excluded_pairs;
        self.landmark_edits += 1;
        self.update_tre();
        self.update_kept_tre();
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

    /// How many landmark pairs count (paired and not left out).
    pub fn counted_pairs(&self) -> usize {
        self.tre.as_ref().map_or(0, |tre| {
            tre.pairs
                .iter()
                .filter(|p| !self.excluded_pairs.contains(&p.name))
                .count()
        })
    }

    /// The `model` transform that best fits the counted pairs (fixed world to moving world).
    pub fn landmark_fit(&self, model: FitModel) -> crate::error::Result<LandmarkFit> {
        let sets = self.included_landmarks();
        fit_landmarks(&landmark_pairs(sets.as_ref().map(|(f, m)| (f, m)))?, model)
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
    use crate::volume::VectorField;

    fn demo() -> Document {
        let case: Case = crate::demo::load_builtin().unwrap().into();
        Document::new(case)
    }

    #[test]
    fn placing_alternately_pairs_points_and_edits_update_the_table() {
        let mut doc = demo();
        let pairs = doc.tre.as_ref().unwrap().pairs.len();
        doc.edit_landmarks(
            [LandmarkEdit::Place {
                side: Side::Fixed,
                world_mm: [1.0, 2.0, 3.0],
            }],
            None,
        );
        // One fixed point without a partner: the order no longer pairs, and no names do.
        let fixed_name = doc.case.fixed_landmarks.points.last().unwrap().name.clone();
        doc.edit_landmarks(
            [LandmarkEdit::Place {
                side: Side::Moving,
                world_mm: [4.0, 2.0, 3.0],
            }],
            None,
        );
        assert_eq!(
            doc.case.moving_landmarks.points.last().unwrap().name,
            fixed_name
        );
        let tre = doc.tre.as_ref().unwrap();
        assert_eq!(tre.pairs.len(), pairs + 1);
        let new = tre.pairs.last().unwrap();
        assert!((new.before_mm - 3.0).abs() < 1e-9);
        doc.edit_landmarks(
            [LandmarkEdit::Move {
                side: Side::Moving,
                index: doc.case.moving_landmarks.len() - 1,
                world_mm: [1.0, 2.0, 7.0],
            }],
            None,
        );
        assert!((doc.tre.as_ref().unwrap().pairs.last().unwrap().before_mm - 4.0).abs() < 1e-9);
        let edits = doc.landmark_edits;
        let name = doc.tre.as_ref().unwrap().pairs[0].name.clone();
        let before = doc.tre.as_ref().unwrap().before.mean;
        doc.edit_landmarks(
            [LandmarkEdit::Exclude {
                pair: name,
                excluded: true,
            }],
            None,
        );
        assert_eq!(doc.landmark_edits, edits + 1);
        assert_ne!(doc.tre.as_ref().unwrap().before.mean, before);
        let (f, m) = doc.included_landmarks().unwrap();
        assert_eq!((f.len(), m.len()), (pairs, pairs));
        doc.edit_landmarks(
            [LandmarkEdit::Delete {
                side: Side::Fixed,
                index: 0,
            }],
            None,
        );
        assert_eq!(doc.case.fixed_landmarks.len(), pairs);
    }

    #[test]
    fn undo_takes_back_a_frame_or_a_whole_drag_and_redo_makes_it_again() {
        let mut doc = demo();
        let fixed0 = doc.case.fixed_landmarks.clone();
        let pairs0 = doc.tre.as_ref().unwrap().pairs.len();
        assert_eq!(doc.landmark_history.undo_what(), None);
        let place = |doc: &mut Document| {
            doc.edit_landmarks(
                [LandmarkEdit::Place {
                    side: Side::Fixed,
                    world_mm: [1.0, 2.0, 3.0],
                }],
                None,
            )
        };
        place(&mut doc);
        let placed = doc.case.fixed_landmarks.clone();
        let new = placed.len() - 1;
        let new_name = placed.points[new].name.clone().unwrap();
        assert_eq!(
            doc.landmark_history.undo_what(),
            Some(format!("place fixed {new_name}").as_str())
        );
        // A drag over three frames, then the pointer let go: one step.
        let drag = Some((Side::Fixed, new));
        for x in [5.0, 6.0, 7.0] {
            let to = LandmarkEdit::Move {
                side: Side::Fixed,
                index: new,
                world_mm: [x, 2.0, 3.0],
            };
            doc.edit_landmarks([to], drag);
        }
        doc.edit_landmarks([], None);
        // A second drag of the same point is a step of its own.
        let to = |x| LandmarkEdit::Move {
            side: Side::Fixed,
            index: new,
            world_mm: [x, 2.0, 3.0],
        };
        doc.edit_landmarks([to(9.0)], drag);
        doc.edit_landmarks([to(10.0)], drag);
        doc.edit_landmarks([], None);
        let dragged_twice = doc.case.fixed_landmarks.clone();
        let edits = doc.landmark_edits;
        doc.edit_landmarks([LandmarkEdit::Undo], None);
        assert_eq!(
            doc.case.fixed_landmarks.points[new].world_mm,
            [7.0, 2.0, 3.0]
        );
        assert!(doc.landmark_edits > edits, "an undo is autosaved");
        doc.edit_landmarks([LandmarkEdit::Undo], None);
        assert_eq!(doc.case.fixed_landmarks, placed);
        assert_eq!(
            doc.landmark_history.redo_what(),
            Some(format!("move fixed {new_name}").as_str())
        );
        doc.edit_landmarks([LandmarkEdit::Undo], None);
        assert_eq!(doc.case.fixed_landmarks, fixed0);
        assert_eq!(
            doc.tre.as_ref().unwrap().pairs.len(),
            pairs0,
            "the TRE table follows"
        );
        let edits = doc.landmark_edits;
        doc.edit_landmarks([LandmarkEdit::Undo], None);
        assert_eq!(
            doc.landmark_edits, edits,
            "nothing left to undo changes nothing"
        );
        for _ in 0..3 {
            doc.edit_landmarks([LandmarkEdit::Redo], None);
        }
        assert_eq!(doc.case.fixed_landmarks, dragged_twice);
        // A frame's edits (a pair renamed on both sides) are one step; a new edit drops redo.
        doc.edit_landmarks([LandmarkEdit::Undo], None);
        let rename = |side| LandmarkEdit::Rename {
            side,
            index: 0,
            name: "apex".into(),
        };
        let before_rename = (
            doc.case.fixed_landmarks.clone(),
            doc.case.moving_landmarks.clone(),
        );
        doc.edit_landmarks([rename(Side::Fixed), rename(Side::Moving)], None);
        assert_eq!(doc.landmark_history.redo_what(), None);
        doc.edit_landmarks([LandmarkEdit::Undo], None);
        assert_eq!(
            (
                doc.case.fixed_landmarks.clone(),
                doc.case.moving_landmarks.clone()
            ),
            before_rename
        );
        // Loading a session's or the autosave's points starts a new history.
        doc.replace_landmarks(fixed0.clone(), fixed0, BTreeSet::new());
        assert_eq!(doc.landmark_history.undo_what(), None);
        assert_eq!(doc.landmark_history.redo_what(), None);
    }

    #[test]
    fn each_pair_has_its_error_under_the_affine_stage_alone() {
        let mut doc = demo();
        assert!(doc.tre_affine_mm.is_empty() && doc.tre_affine.is_none());
        let mut affine = crate::volume::Affine::IDENTITY;
        affine.0[2][3] = 5.0;
        let grid = doc.case.fixed.grid().clone();
        // A deformable stage on top that the affine-only errors must not see.
        let u = VectorField::new(grid.clone(), vec![[3.0, 0.0, 0.0]; grid.voxel_count()]).unwrap();
        let field = crate::register::deformable::compose(&affine, &u);
        doc.set_deformation(crate::app::state::Deformation::new(affine, field));
        let (f, m) = (&doc.case.fixed_landmarks, &doc.case.moving_landmarks);
        let expected: Vec<f64> = doc
            .landmark_pairs
            .iter()
            .map(|&(i, j)| {
                let x = f.points[i].world_mm;
                crate::eval::tre::distance([x[0], x[1], x[2] + 5.0], m.points[j].world_mm)
            })
            .collect();
        assert_eq!(doc.tre_affine_mm, expected);
        let all = doc.tre_affine.unwrap().mean;
        let worst = doc.tre.as_ref().unwrap().pairs[expected
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0]
            .name
            .clone();
        doc.edit_landmarks(
            [LandmarkEdit::Exclude {
                pair: worst,
                excluded: true,
            }],
            None,
        );
        assert!(
            doc.tre_affine.as_ref().unwrap().mean < all,
            "excluded pairs do not count"
        );
    }

    #[test]
    fn autosave_restores_edits_and_leaves_the_files_alone() {
        let dir = tempfile::tempdir().unwrap();
        let autosave = Autosave::new(dir.path().to_path_buf());
        let mut doc = demo();
        assert!(autosave.restorable(&doc).is_none());
        doc.edit_landmarks(
            [LandmarkEdit::Rename {
                side: Side::Fixed,
                index: 0,
                name: "apex".into(),
            }],
            None,
        );
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
