//! The results of the open case's runs and fits, kept so that they can be compared side by side
//! and shown again: each with what made it, its scores and curves, and its transform while
//! memory allows. A saved session keeps them all, with the transform of the one shown.

use crate::app::state::{Deformation, Document, LossPoint, RunStatus, ScorePoint, counted_summary};
use crate::eval::EvalReport;
use crate::eval::jacobian::JacobianStats;
use crate::eval::non_diffeomorphic::NonDiffeomorphicVolume;
use crate::eval::tre::tre_of_pairs;
use crate::register::config::RegistrationConfig;
use crate::register::deformable::Regulariser;
use crate::register::landmark_fit::FitModel;
use crate::session::{Command, Method};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Kept transforms (field, det J and folded cubes) may take this much memory together; the
/// oldest results give theirs up first and keep their scores and settings.
pub const KEPT_TRANSFORM_BYTES: usize = 1 << 30;

/// What made a result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// An iterative run, with the configuration it ran (weight changes during the run included).
    Run(Box<RegistrationConfig>),
    /// A smoothness sweep's last point: what a run of this configuration (its λ) gives. The
    /// other points have the sweep's table.
    SweepEnd(Box<RegistrationConfig>),
    /// A trained network's registration, by its model folder's name.
    Network(String),
    /// The least-squares fit of the landmark pairs.
    Landmarks(FitModel),
    /// The transform a reopened session brought.
    Session,
}

impl Origin {
    /// What a run of `method` will be kept as.
    pub fn of(method: &Method) -> Option<Origin> {
        match method {
            Method::Iterative(config) => Some(Origin::Run(config.clone())),
            Method::Sweep(sweep) => {
                let mut config = Box::new(sweep.config.clone());
                if let (Some(d), Some(&last)) = (&mut config.deformable, sweep.diffusion.last()) {
                    *Regulariser::Diffusion.weight_mut(d) = last;
                }
                Some(Origin::SweepEnd(config))
            }
            Method::Network(job) => Some(Origin::Network(job.model.file_name().map_or_else(
                || job.model.display().to_string(),
                |n| n.to_string_lossy().into(),
            ))),
        }
    }

    /// Applies a parameter change that took effect in the run.
    pub fn retune(&mut self, command: &Command) {
        if let (Origin::Run(config), Command::SetWeight(term, weight)) = (self, command)
            && let Some(deformable) = &mut config.deformable
        {
            *term.weight_mut(deformable) = *weight;
        }
    }

    /// The configuration an iterative run (or a sweep's last point) ran with.
    pub fn config(&self) -> Option<&RegistrationConfig> {
        match self {
            Origin::Run(config) | Origin::SweepEnd(config) => Some(config),
            _ => None,
        }
    }
}

/// What of a result a session saves: all but its transform.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedResult {
    /// From 1, in the order they were made.
    pub number: usize,
    /// Its name in the table: the preset (or "custom") and λ of a run, the network, the fit.
    pub name: String,
    pub origin: Origin,
    /// The run's wall time.
    pub seconds: Option<f64>,
    /// Mean Dice over the labels, from the full scores when made, else the run's own.
    pub dice: Option<f64>,
    /// Mean TRE of the counted pairs under it (kept up to date with landmark edits while its
    /// transform is kept).
    pub tre_mm: Option<f64>,
    pub stats: JacobianStats,
    pub ndv: NonDiffeomorphicVolume,
}

/// One kept result.
pub struct KeptResult {
    pub saved: SavedResult,
    /// `None` once newer results needed its memory (or for one a session brought back, but the
    /// one it showed).
    pub deformation: Option<Arc<Deformation>>,
    losses: Vec<LossPoint>,
    scores: Vec<ScorePoint>,
    report: Option<EvalReport>,
    /// Every measure of it, and of its affine stage alone, once scored in full.
    full: Option<(EvalReport, EvalReport)>,
}

impl std::ops::Deref for KeptResult {
    type Target = SavedResult;

    fn deref(&self) -> &SavedResult {
        &self.saved
    }
}

impl KeptResult {
    /// A result a session brought back, without its transform.
    fn restored(saved: SavedResult) -> KeptResult {
        KeptResult {
            saved,
            deformation: None,
            losses: Vec::new(),
            scores: Vec::new(),
            report: None,
            full: None,
        }
    }

    /// Its Dice per label (label id → Dice): the full scores' when made, else the run's own.
    pub fn label_dice(&self) -> Option<&BTreeMap<String, f64>> {
        self.full
            .as_ref()
            .map(|(whole, _)| &whole.dice)
            .or(self.report.as_ref().map(|r| &r.dice))
            .filter(|d| !d.is_empty())
    }

    /// Memory its transform holds.
    fn bytes(&self) -> usize {
        self.deformation.as_ref().map_or(0, |d| {
            std::mem::size_of_val(d.field.data())
                + std::mem::size_of_val(d.jacobian.data())
                + std::mem::size_of_val(d.folded_cubes.data())
        })
    }
}

/// The results of the open case.
#[derive(Default)]
pub struct Results {
    pub kept: Vec<KeptResult>,
    /// The number of the result the views show, if they show one.
    pub shown: Option<usize>,
    /// The result each document generation showed, for full scores that arrive after the views
    /// moved on.
    generations: BTreeMap<u64, usize>,
    /// The highest number handed out: a removed result's number is not given again, so late
    /// full scores meant for it cannot land on a newer one.
    last_number: usize,
}

impl Results {
    pub fn shown(&self) -> Option<&KeptResult> {
        self.shown
            .and_then(|n| self.kept.iter().find(|r| r.number == n))
    }

    pub fn get(&self, number: usize) -> Option<&KeptResult> {
        self.kept.iter().find(|r| r.number == number)
    }

    /// Result `number`'s transform, when the shown transform can be compared with it: while it
    /// is kept, and but for the result shown (a result is not compared with itself).
    pub fn comparable(&self, number: usize) -> Option<&Arc<Deformation>> {
        let result = self.get(number).filter(|_| self.shown != Some(number))?;
        result.deformation.as_ref()
    }

    /// Takes result `number` out of the table, unless the views show it (its scores and curves
    /// are on show). False when it stays.
    pub fn remove(&mut self, number: usize) -> bool {
        if self.shown == Some(number) {
            return false;
        }
        let before = self.kept.len();
        self.kept.retain(|r| r.number != number);
        self.generations.retain(|_, n| *n != number);
        self.kept.len() < before
    }

    /// Drops the transforms of the oldest results (never the newest) until the kept ones fit in
    /// `budget` bytes.
    fn fit_in(&mut self, budget: usize) {
        let mut total: usize = self.kept.iter().map(KeptResult::bytes).sum();
        let newest = self.kept.len().saturating_sub(1);
        for result in &mut self.kept[..newest] {
            if total <= budget {
                break;
            }
            total -= result.bytes();
            result.deformation = None;
        }
    }
}

impl Document {
    /// Keeps what the views show now as a result of `origin`, and marks it shown.
    pub fn keep_result(&mut self, origin: Origin, seconds: Option<f64>) {
        let Some(deformation) = self.deformation.clone() else {
            return;
        };
        self.results.last_number += 1;
        let number = self.results.last_number;
        let name = match &origin {
            Origin::Run(config) | Origin::SweepEnd(config) => {
                let preset = config
                    .preset_name(self.case.fixed.grid())
                    .unwrap_or("custom");
                let run = match &config.deformable {
                    Some(d) => format!("{preset}, λ {}", Regulariser::Diffusion.weight(d)),
                    None => format!("{preset}, affine only"),
                };
                match origin {
                    Origin::SweepEnd(_) => format!("{run} (a sweep's last point)"),
                    _ => run,
                }
            }
            Origin::Network(model) => format!("network {model}"),
            Origin::Landmarks(model) => format!("landmarks, {} fit", model.name()),
            Origin::Session => "reopened session".into(),
        };
        self.results.kept.push(KeptResult {
            saved: SavedResult {
                number,
                name,
                origin,
                seconds,
                dice: self.report.as_ref().and_then(|r| r.dice_mean),
                tre_mm: self.tre.as_ref().map(|t| t.after.mean),
                stats: deformation.stats,
                ndv: deformation.ndv,
            },
            deformation: Some(deformation),
            losses: self.losses.clone(),
            scores: self.scores.clone(),
            report: self.report.clone(),
            full: None,
        });
        self.results.shown = Some(number);
        self.results.generations.insert(self.generation, number);
        self.results.fit_in(KEPT_TRANSFORM_BYTES);
    }

    /// Takes in the full scores of generation `generation`, for the views and for the result
    /// that generation shows.
    pub fn set_full_scores(&mut self, generation: u64, whole: EvalReport, affine: EvalReport) {
        let number = self.results.generations.get(&generation).copied();
        if let Some(result) = self
            .results
            .kept
            .iter_mut()
            .find(|r| Some(r.number) == number)
        {
            result.saved.dice = whole.dice_mean.or(result.saved.dice);
            result.full = Some((whole.clone(), affine.clone()));
        }
        self.full_report = Some((generation, whole));
        self.affine_report = Some((generation, affine));
    }

    /// Shows kept result `number` again, with its curves and scores. False when it has no
    /// transform any more, or a run is going on (whose snapshots the views follow).
    pub fn show_result(&mut self, number: usize) -> bool {
        if self.run.is_running() {
            return false;
        }
        let Some(result) = self.results.kept.iter().find(|r| r.number == number) else {
            return false;
        };
        let Some(deformation) = result.deformation.clone() else {
            return false;
        };
        self.losses = result.losses.clone();
        self.scores = result.scores.clone();
        self.report = result.report.clone();
        self.run = match result.seconds {
            Some(seconds) => RunStatus::Finished { seconds },
            None => RunStatus::Idle,
        };
        let full = result.full.clone();
        self.progress = None;
        self.phase = None;
        self.sweep.clear();
        self.sweep_weights.clear();
        self.show_deformation(deformation);
        (self.full_report, self.affine_report) = match full {
            Some((whole, affine)) => (
                Some((self.generation, whole)),
                Some((self.generation, affine)),
            ),
            None => (None, None),
        };
        self.results.generations.insert(self.generation, number);
        self.results.shown = Some(number);
        true
    }

    /// Recomputes each kept result's TRE after the landmarks or their exclusions changed (a new
    /// transform leaves the kept ones' as they are). Results whose transform went for memory
    /// keep the TRE they had.
    pub(crate) fn update_kept_tre(&mut self) {
        let (f, m) = (&self.case.fixed_landmarks, &self.case.moving_landmarks);
        for result in &mut self.results.kept {
            if self.landmark_pairs.is_empty() {
                result.saved.tre_mm = None;
            } else if let Some(d) = &result.deformation {
                let t = tre_of_pairs(f, m, &self.landmark_pairs, Some(&d.field));
                let mut after = t.pairs.iter().map(|p| p.after_mm);
                let summary = counted_summary(&t.pairs, &mut after, &self.excluded_pairs);
                result.saved.tre_mm = Some(summary.mean);
            }
        }
    }

    /// Brings back the results a session saved, the shown one (`shown`) with the transform the
    /// session reopened, which is kept as a new result when the session named none (or is older
    /// than saved results).
    pub fn restore_results(&mut self, saved: Vec<SavedResult>, shown: Option<usize>) {
        self.results.kept = saved.into_iter().map(KeptResult::restored).collect();
        self.results.shown = None;
        self.results.last_number = self
            .results
            .kept
            .iter()
            .map(|r| r.number)
            .max()
            .unwrap_or(0);
        let Some(deformation) = self.deformation.clone() else {
            return;
        };
        match self
            .results
            .kept
            .iter_mut()
            .find(|r| Some(r.number) == shown)
        {
            Some(result) => {
                result.deformation = Some(deformation);
                self.results.shown = shown;
                self.results
                    .generations
                    .insert(self.generation, result.number);
            }
            None => self.keep_result(Origin::Session, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::{Affine, VectorField};

    fn shift(doc: &Document, x: f32) -> Deformation {
        let grid = doc.case.fixed.grid().clone();
        let n = grid.voxel_count();
        Deformation::new(
            Affine::IDENTITY,
            VectorField::new(grid, vec![[x, 0.0, 0.0]; n]).unwrap(),
        )
    }

    #[test]
    fn results_are_kept_shown_again_and_give_up_old_transforms_for_memory() {
        let case: crate::case::Case = crate::demo::load_builtin().unwrap().into();
        let mut doc = Document::new(case);
        doc.set_deformation(shift(&doc, 1.0));
        doc.keep_result(Origin::Landmarks(FitModel::Rigid), None);
        let first_tre = doc.results.kept[0].tre_mm.unwrap();
        let config = RegistrationConfig::preset("fast")
            .unwrap()
            .fitted_to(doc.case.fixed.grid());
        doc.start_run(&Method::Iterative(Box::new(config.clone())));
        assert_eq!(
            doc.results.shown, None,
            "a run's snapshots are not a kept result"
        );
        doc.set_deformation(shift(&doc, 3.0));
        doc.apply(
            crate::session::Event::Finished {
                seconds: 2.5,
                stage_seconds: Default::default(),
            },
            || None,
        );
        assert_eq!(doc.results.kept.len(), 2);
        assert_eq!(doc.results.shown, Some(2));
        assert_eq!(doc.results.kept[1].seconds, Some(2.5));
        assert_eq!(doc.results.kept[0].name, "landmarks, rigid fit");
        let name = &doc.results.kept[1].name;
        assert!(name.starts_with("fast, λ "), "{name}");

        let shown_generation = doc.generation;
        assert!(doc.show_result(1));
        assert!(doc.generation > shown_generation);
        assert_eq!(doc.run, RunStatus::Idle);
        let tre = doc.tre.as_ref().unwrap().after.mean;
        assert!((tre - first_tre).abs() < 1e-9, "{tre} vs {first_tre}");
        assert_eq!(doc.results.shown, Some(1));
        // Full scores made of the shown generation stay with the result and come back with it,
        // even when they arrive after the views moved on to another result.
        let generation = doc.generation;
        assert!(doc.show_result(2));
        let scored = EvalReport {
            dice_mean: Some(0.5),
            ..EvalReport::default()
        };
        doc.set_full_scores(generation, scored, EvalReport::default());
        assert_eq!(doc.results.kept[0].dice, Some(0.5));
        assert_eq!(doc.run, RunStatus::Finished { seconds: 2.5 });
        assert!(doc.current_report().is_none());
        assert!(doc.show_result(1));
        assert_eq!(doc.current_report().unwrap().dice_mean, Some(0.5));

        // A budget for one transform keeps the newest one's only; the older keeps its scores.
        let one = doc.results.kept[1].bytes();
        doc.results.fit_in(one);
        assert!(doc.results.kept[0].deformation.is_none());
        assert!(doc.results.kept[1].deformation.is_some());
        assert!(doc.results.kept[0].tre_mm.is_some());
        assert!(!doc.show_result(1));
    }

    #[test]
    fn a_result_leaves_the_table_unless_shown_and_its_number_is_not_given_again() {
        let case: crate::case::Case = crate::demo::load_builtin().unwrap().into();
        let mut doc = Document::new(case);
        for x in [1.0, 2.0, 3.0] {
            doc.set_deformation(shift(&doc, x));
            doc.keep_result(Origin::Landmarks(FitModel::Rigid), None);
        }
        assert!(doc.show_result(2));
        let generation_of_2 = doc.generation;
        assert!(doc.show_result(3));
        assert!(!doc.results.remove(3), "the shown result stays");
        assert!(doc.results.remove(2));
        assert!(!doc.results.remove(2));
        let numbers = |doc: &Document| {
            doc.results
                .kept
                .iter()
                .map(|r| r.number)
                .collect::<Vec<_>>()
        };
        assert_eq!(numbers(&doc), [1, 3]);
        assert!(!doc.show_result(2));
        assert!(doc.show_result(1));
        assert!(doc.results.remove(3));
        doc.set_deformation(shift(&doc, 4.0));
        doc.keep_result(Origin::Landmarks(FitModel::Affine), None);
        assert_eq!(numbers(&doc), [1, 4]);
        // Full scores of the removed result's generation reach no other result.
        let scored = EvalReport {
            dice_mean: Some(0.5),
            ..EvalReport::default()
        };
        let dice = |doc: &Document| doc.results.kept.iter().map(|r| r.dice).collect::<Vec<_>>();
        let before = dice(&doc);
        doc.set_full_scores(generation_of_2, scored, EvalReport::default());
        assert_eq!(dice(&doc), before);
        assert!(before.iter().all(|d| *d != Some(0.5)));
    }

    #[test]
    fn a_session_brings_its_results_back_with_the_shown_ones_transform() {
        let case: crate::case::Case = crate::demo::load_builtin().unwrap().into();
        let mut doc = Document::new(case.clone());
        doc.set_deformation(shift(&doc, 1.0));
        doc.keep_result(Origin::Landmarks(FitModel::Similarity), None);
        let config = RegistrationConfig::preset("fast").unwrap();
        doc.set_deformation(shift(&doc, 3.0));
        doc.keep_result(Origin::Run(Box::new(config.clone())), Some(4.0));
        // As a session file has them.
        let saved: Vec<SavedResult> = doc.results.kept.iter().map(|r| r.saved.clone()).collect();
        let json = serde_json::to_string(&saved).unwrap();
        let saved: Vec<SavedResult> = serde_json::from_str(&json).unwrap();
        assert_eq!(saved[1].origin.config(), Some(&config));
        assert_eq!(saved[0].origin, Origin::Landmarks(FitModel::Similarity));

        let mut reopened = Document::new(case.clone());
        reopened.set_deformation(shift(&reopened, 3.0));
        reopened.restore_results(saved.clone(), Some(2));
        let kept = &reopened.results.kept;
        assert_eq!(kept.len(), 2);
        assert_eq!(reopened.results.shown, Some(2));
        assert!(kept[0].deformation.is_none() && kept[1].deformation.is_some());
        assert_eq!(kept[0].saved, doc.results.kept[0].saved);
        assert!(!reopened.show_result(1), "its transform was not saved");
        reopened.keep_result(Origin::Landmarks(FitModel::Rigid), None);
        assert_eq!(reopened.results.kept[2].number, 3);

        // A transform that was no kept result comes back as one of its own.
        let mut other = Document::new(case);
        other.set_deformation(shift(&other, 2.0));
        other.restore_results(saved, None);
        let names: Vec<&str> = other.results.kept.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names[2], "reopened session");
        assert_eq!(other.results.shown, Some(3));
    }

    #[test]
    fn a_run_is_kept_with_the_weights_it_ran_with() {
        let mut origin = Origin::Run(Box::new(RegistrationConfig::preset("fast").unwrap()));
        origin.retune(&Command::SetWeight(Regulariser::Diffusion, 0.7));
        origin.retune(&Command::SetLearningRate(0.2));
        let d = origin.config().unwrap().deformable.as_ref().unwrap();
        assert_eq!(Regulariser::Diffusion.weight(d), 0.7);
    }
}
