//! The document: the loaded case, the current deformation, the run's status and its history of
//! losses and scores. No egui types: the views read it, `WarpbenchApp::logic` feeds it the
//! worker's events, and tests drive it directly.

use crate::app::landmarks::LandmarkHistory;
use crate::app::panels::joint_histogram::BINS as JOINT_BINS;
use crate::app::results::{Origin, Results};
use crate::case::{Case, CaseFiles};
use crate::eval::jacobian::JacobianStats;
use crate::eval::non_diffeomorphic::NonDiffeomorphicVolume;
use crate::eval::tre::{DistanceStats, PairError, TreReport, distance, tre_of_pairs};
use crate::eval::{EvalReport, Scoring};
use crate::register::preset_choice::PresetChoice;
use crate::register::{Losses, StepReport};
use crate::session::{Event, Method, Snapshot, SweepPoint};
use crate::volume::histogram::{Histogram, level_bins};
use crate::volume::landmarks::pair_landmarks;
use crate::volume::nifti_io::{NiftiInfo, read_info};
use crate::volume::{Affine, LabelSite, LabelVolume, LandmarkSet, ScalarVolume, VectorField};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

/// A transform to show: the whole displacement (affine included), its Jacobian determinant and
/// where its tetrahedra fold.
pub struct Deformation {
    pub affine: Affine,
    pub field: VectorField,
    pub jacobian: ScalarVolume,
    pub stats: JacobianStats,
    pub folded_cubes: ScalarVolume,
    pub ndv: NonDiffeomorphicVolume,
}

impl Deformation {
    /// Computes det J, its statistics and the folded cubes (passes over the field: not on the UI
    /// thread).
    pub fn new(affine: Affine, field: VectorField) -> Deformation {
        Snapshot::new(0, None, affine, field).into()
    }
}

impl From<Snapshot> for Deformation {
    fn from(s: Snapshot) -> Deformation {
        Deformation {
            affine: s.affine,
            field: s.displacement,
            jacobian: s.jacobian,
            stats: s.jacobian_stats,
            folded_cubes: s.folded_cubes,
            ndv: s.ndv,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum RunStatus {
    Idle,
    /// `pausable` is false for a network run: it has no iterations to pause between.
    Running {
        paused: bool,
        pausable: bool,
    },
    Finished {
        seconds: f64,
    },
    Cancelled,
    Failed(String),
}

impl RunStatus {
    pub fn is_running(&self) -> bool {
        matches!(self, RunStatus::Running { .. })
    }
}

/// One loss read-back.
#[derive(Clone, Debug, PartialEq)]
pub struct LossPoint {
    /// Iterations run so far over all stages and levels.
    pub step: u64,
    pub stage: &'static str,
    pub level: usize,
    /// Iterations done in this level, this one included (it starts again at each sweep point).
    pub iteration: u32,
    pub losses: Losses,
    pub label_dice: Option<f64>,
}

/// Scores of one snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct ScorePoint {
    pub elapsed_s: f64,
    pub fold_percent: f64,
    /// The non-diffeomorphic volume's share (tetrahedra between voxel centres turned inside out).
    pub ndv_percent: f64,
    pub sdlogj: f64,
    pub tre_mm: Option<f64>,
    pub dice: Option<f64>,
}

/// Bins of the images' histograms: a bin per pixel of a panel's width or so.
const HISTOGRAM_BINS: usize = 256;

/// Facts about the case's layers that take a pass over the voxels or a read of a file's header,
/// found once on the loading thread.
pub struct LayerFacts {
    pub fixed_histogram: Histogram,
    pub moving_histogram: Histogram,
    /// The fixed then the moving value range the joint histogram bins ([`joint_range`]): the 0.1
    /// to 99.9 percentiles, so that a few extreme voxels (metal, a bright vessel) do not squeeze
    /// the tissue into a few bins.
    pub joint_ranges: [(f64, f64); 2],
    pub headers: Headers,
    /// Each fixed label id (in order, background excluded) with its size and a point inside it
    /// (world mm), where "go to" takes the views.
    pub fixed_label_sites: BTreeMap<i32, LabelSite>,
    /// The same for the moving labels, in the moving image's world (mm).
    pub moving_label_sites: BTreeMap<i32, LabelSite>,
    /// The preset the images call for while the user has chosen none.
    pub preset: PresetChoice,
}

impl LayerFacts {
    /// A pass or two over every layer (a tenth of a second for a 256³ label map): the loader
    /// finds them on its thread.
    pub fn of(case: &Case) -> LayerFacts {
        let sites = |l: Option<&LabelVolume>| l.map_or(BTreeMap::new(), LabelVolume::sites);
        let fixed_histogram = Histogram::of(case.fixed.data(), HISTOGRAM_BINS);
        let moving_histogram = Histogram::of(case.moving.data(), HISTOGRAM_BINS);
        LayerFacts {
            joint_ranges: [
                joint_range(&case.fixed, &fixed_histogram, JOINT_BINS),
                joint_range(&case.moving, &moving_histogram, JOINT_BINS),
            ],
            fixed_histogram,
            moving_histogram,
            headers: Headers::of(&case.files),
            fixed_label_sites: sites(case.fixed_labels.as_deref()),
            moving_label_sites: sites(case.moving_labels.as_deref()),
            preset: case.preset_choice(),
        }
    }
}

/// The range of `image` that `bins` joint-histogram bins span: its 0.1 to 99.9 percentiles (its
/// whole range where they meet: a mask, an image mostly of one value). For an image of discrete
/// levels (its `histogram`'s step) it is widened so that each bin holds the same number of
/// levels; bins holding one level more than their neighbours would show as stripes.
fn joint_range(image: &ScalarVolume, histogram: &Histogram, bins: usize) -> (f64, f64) {
    let [lo, hi] = image.quantiles([0.001, 0.999]);
    let (lo, hi) = if hi > lo {
        (lo as f64, hi as f64)
    } else {
        (histogram.min as f64, histogram.max as f64)
    };
    match histogram.step {
        Some(step) => {
            let (start, width, _) = level_bins(lo, hi, step, bins);
            (start, start + width * bins as f64)
        }
        None => (lo, hi),
    }
}

/// Each layer's file header as it was read: none for the built-in demo (or a file gone since).
#[derive(Default)]
pub struct Headers {
    pub fixed: Option<NiftiInfo>,
    pub moving: Option<NiftiInfo>,
    pub fixed_labels: Option<NiftiInfo>,
    pub moving_labels: Option<NiftiInfo>,
}

impl Headers {
    fn of(files: &CaseFiles) -> Headers {
        let read = |p: &Option<PathBuf>| p.as_deref().and_then(|p| read_info(p).ok());
        Headers {
            fixed: read(&files.fixed),
            moving: read(&files.moving),
            fixed_labels: read(&files.fixed_labels),
            moving_labels: read(&files.moving_labels),
        }
    }
}

pub struct Document {
    pub case: Case,
    pub facts: LayerFacts,
    /// Shared, so that helper threads (save, export, scoring, the joint histogram) take it
    /// without a copy on the window's thread.
    pub deformation: Option<Arc<Deformation>>,
    /// Bumped whenever the case or the deformation changes, so cached slices know they are stale.
    pub generation: u64,
    pub run: RunStatus,
    pub progress: Option<StepReport>,
    /// What a network run is doing (it has phases, not iterations).
    pub phase: Option<&'static str>,
    pub elapsed_s: f64,
    pub losses: Vec<LossPoint>,
    pub scores: Vec<ScorePoint>,
    /// The worker's latest scores (labels and landmarks at full resolution).
    pub report: Option<EvalReport>,
    /// Scores with every measure (surface distances, similarity), and the generation they are of.
    pub full_report: Option<(u64, EvalReport)>,
    /// The scores of the same generation's affine stage alone (Dice, motion and TRE): what the
    /// deformable stage added is the difference.
    pub affine_report: Option<(u64, EvalReport)>,
    /// The weights of the running or last smoothness sweep (empty for other runs), and its
    /// finished points.
    pub sweep_weights: Vec<f64>,
    pub sweep: Vec<SweepPoint>,
    /// Landmark errors under the current deformation (before = identity), every pair in the
    /// table and the summaries over the pairs not excluded.
    pub tre: Option<TreReport>,
    /// Each pair's error (mm) under the deformation's affine stage alone, in the order of
    /// `tre.pairs`, and their summary over the pairs not excluded; empty without a deformation.
    pub tre_affine_mm: Vec<f64>,
    pub tre_affine: Option<DistanceStats>,
    /// `(fixed index, moving index)` of each landmark pair, in the order of `tre.pairs`; empty
    /// when the points do not pair.
    pub landmark_pairs: Vec<(usize, usize)>,
    /// Names of the landmark pairs left out of summaries and scoring.
    pub excluded_pairs: BTreeSet<String>,
    /// Counts landmark edits, so the autosave knows when to write.
    pub landmark_edits: u64,
    pub landmark_history: LandmarkHistory,
    /// The landmarks as the case's files gave them, to revert to.
    pub landmark_files: (LandmarkSet, LandmarkSet),
    /// This case's earlier results, to compare and show again.
    pub results: Results,
    /// What the running run will be kept as when it finishes.
    running: Option<Origin>,
    steps: u64,
}

impl Document {
    pub fn new(case: Case) -> Document {
        Document::with_facts(LayerFacts::of(&case), case)
    }

    /// A document on `case`, whose `facts` were found already.
    pub fn with_facts(facts: LayerFacts, case: Case) -> Document {
        let mut doc = Document {
            facts,
            deformation: None,
            generation: 0,
            run: RunStatus::Idle,
            progress: None,
            phase: None,
            elapsed_s: 0.0,
            losses: Vec::new(),
            scores: Vec::new(),
            report: None,
            full_report: None,
            affine_report: None,
            sweep_weights: Vec::new(),
            sweep: Vec::new(),
            tre: None,
            tre_affine_mm: Vec::new(),
            tre_affine: None,
            landmark_pairs: Vec::new(),
            excluded_pairs: BTreeSet::new(),
            landmark_edits: 0,
            landmark_history: LandmarkHistory::default(),
            landmark_files: (case.fixed_landmarks.clone(), case.moving_landmarks.clone()),
            results: Results::default(),
            running: None,
            steps: 0,
            case,
        };
        doc.update_tre();
        doc
    }

    /// What a run or a full scoring of this document scores against: its labels, the pairs
    /// still counted, and its label names.
    pub fn scoring(&self) -> Scoring {
        Scoring {
            fixed_labels: self.case.fixed_labels.clone(),
            moving_labels: self.case.moving_labels.clone(),
            landmarks: self.included_landmarks(),
            label_table: self.case.label_table.clone(),
        }
    }

    /// Forgets the last run's results, for a new run of `method`.
    pub fn start_run(&mut self, method: &Method) {
        self.run = RunStatus::Running {
            paused: false,
            pausable: !matches!(method, Method::Network(_)),
        };
        self.sweep_weights = match method {
            Method::Sweep(sweep) => sweep.diffusion.clone(),
            _ => Vec::new(),
        };
        self.running = Origin::of(method);
        self.results.shown = None;
        self.forget_run_history();
    }

    /// Drops the last run's progress, curves, live scores and sweep points.
    fn forget_run_history(&mut self) {
        self.progress = None;
        self.phase = None;
        self.elapsed_s = 0.0;
        self.losses.clear();
        self.scores.clear();
        self.report = None;
        self.sweep.clear();
        self.steps = 0;
    }

    /// Applies one worker event; `snapshot` is the slot's content when the event announces one.
    pub fn apply(&mut self, event: Event, snapshot: impl FnOnce() -> Option<Snapshot>) {
        match event {
            Event::Started { .. } => {}
            Event::Phase(phase) => self.phase = Some(phase),
            Event::Progress { report, elapsed_s } => {
                self.elapsed_s = elapsed_s;
                // A sweep's next point starts its level again: the iteration count falls.
                let new_level = self.progress.as_ref().is_none_or(|p| {
                    (p.stage, p.level) != (report.stage, report.level)
                        || report.iteration < p.iteration
                });
                self.steps += if new_level {
                    report.iteration as u64
                } else {
                    let last = self.progress.as_ref().map_or(0, |p| p.iteration);
                    report.iteration.saturating_sub(last) as u64
                };
                if let Some(losses) = report.losses {
                    self.losses.push(LossPoint {
                        step: self.steps,
                        stage: report.stage.name(),
                        level: report.level,
                        iteration: report.iteration,
                        losses,
                        label_dice: report.label_dice,
                    });
                }
                self.progress = Some(report);
            }
            Event::SnapshotReady { .. } => {
                if let Some(s) = snapshot() {
                    let (stats, ndv) = (s.jacobian_stats, s.ndv);
                    self.set_deformation(s.into());
                    self.scores.push(ScorePoint {
                        elapsed_s: self.elapsed_s,
                        fold_percent: 100.0 * stats.fold_fraction,
                        ndv_percent: 100.0 * ndv.fraction,
                        sdlogj: stats.sdlogj,
                        tre_mm: self.tre.as_ref().map(|t| t.after.mean),
                        dice: self.report.as_ref().and_then(|r| r.dice_mean),
                    });
                }
            }
            Event::Metrics { report, .. } => {
                if let Some(last) = self.scores.last_mut() {
                    last.dice = report.dice_mean;
                }
                self.report = Some(*report);
            }
            Event::Paused | Event::Resumed => {
                if let RunStatus::Running { paused, .. } = &mut self.run {
                    *paused = matches!(event, Event::Paused);
                }
            }
            Event::Retuned(command) => {
                if let Some(origin) = &mut self.running {
                    origin.retune(&command);
                }
            }
            Event::SweepPoint(point) => self.sweep.push(*point),
            Event::Finished { seconds, .. } => {
                log::info!("the run finished in {seconds:.1} s");
                self.run = RunStatus::Finished { seconds };
                if let Some(origin) = self.running.take() {
                    // A sweep's time is all its points'.
                    let own_time = !matches!(origin, Origin::SweepEnd(_));
                    self.keep_result(origin, own_time.then_some(seconds));
                }
            }
            Event::Cancelled => {
                self.run = RunStatus::Cancelled;
                self.running = None;
            }
            Event::Failed(message) => {
                self.run = RunStatus::Failed(message);
                self.running = None;
            }
        }
    }

    /// The scores to show: the full ones when they are of the current deformation.
    pub fn current_report(&self) -> Option<&EvalReport> {
        match &self.full_report {
            Some((generation, report)) if *generation == self.generation => Some(report),
            _ => self.report.as_ref(),
        }
    }

    /// The affine stage's scores, when they are of the current deformation.
    pub fn affine_stage_report(&self) -> Option<&EvalReport> {
        self.affine_report
            .as_ref()
            .filter(|(generation, _)| *generation == self.generation)
            .map(|(_, report)| report)
    }

    /// Shows a transform computed off the run (the landmarks' fit), kept as a result of
    /// `origin`: the last run's curves, scores and status no longer describe what is shown, so
    /// they go.
    pub fn show_transform(&mut self, deformation: Deformation, origin: Origin) {
        self.run = RunStatus::Idle;
        self.forget_run_history();
        self.full_report = None;
        self.affine_report = None;
        self.sweep_weights.clear();
        self.set_deformation(deformation);
        self.keep_result(origin, None);
    }

    /// Shows `deformation`, which is no kept result (yet).
    pub fn set_deformation(&mut self, deformation: Deformation) {
        self.show_deformation(Arc::new(deformation));
        self.results.shown = None;
    }

    pub(crate) fn show_deformation(&mut self, deformation: Arc<Deformation>) {
        self.deformation = Some(deformation);
        self.generation += 1;
        self.update_tre();
    }

    /// Recomputes the landmark table (after landmark edits or a new deformation).
    pub fn update_tre(&mut self) {
        let (f, m) = (&self.case.fixed_landmarks, &self.case.moving_landmarks);
        self.landmark_pairs = if f.is_empty() || m.is_empty() {
            Vec::new()
        } else {
            pair_landmarks(f, m).unwrap_or_default()
        };
        self.tre = (!self.landmark_pairs.is_empty()).then(|| {
            let field = self.deformation.as_ref().map(|d| &d.field);
            tre_of_pairs(f, m, &self.landmark_pairs, field)
        });
        self.tre_affine_mm = match (&self.deformation, &self.tre) {
            (Some(d), Some(_)) => self
                .landmark_pairs
                .iter()
                .map(|&(i, j)| distance(d.affine.apply(f.points[i].world_mm), m.points[j].world_mm))
                .collect(),
            _ => Vec::new(),
        };
        let excluded = &self.excluded_pairs;
        let counted = |pairs: &[PairError], values: &mut dyn Iterator<Item = f64>| {
            counted_summary(pairs, values, excluded)
        };
        self.tre_affine = None;
        if let Some(t) = &mut self.tre {
            t.before = counted(&t.pairs, &mut t.pairs.iter().map(|p| p.before_mm));
            t.after = counted(&t.pairs, &mut t.pairs.iter().map(|p| p.after_mm));
            if !self.tre_affine_mm.is_empty() {
                self.tre_affine = Some(counted(&t.pairs, &mut self.tre_affine_mm.iter().copied()));
            }
        }
    }
}

/// The summary over the pairs still counted (not in `excluded`) of `values`, given in the order
/// of `pairs`.
pub(crate) fn counted_summary(
    pairs: &[PairError],
    values: &mut dyn Iterator<Item = f64>,
    excluded: &BTreeSet<String>,
) -> DistanceStats {
    let kept: Vec<f64> = pairs
        .iter()
        .zip(values)
        .filter(|(p, _)| !excluded.contains(&p.name))
        .map(|(_, v)| v)
        .collect();
    DistanceStats::of(&kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::Stage;

    fn progress(stage: Stage, level: usize, iteration: u32, losses: bool) -> Event {
        Event::Progress {
            report: StepReport {
                stage,
                level,
                levels: 2,
                iteration,
                iterations: 10,
                losses: losses.then_some(Losses {
                    similarity: 1.0 / iteration as f64,
                    diffusion: Some(0.1),
                    ..Losses::default()
                }),
                label_dice: None,
            },
            elapsed_s: iteration as f64,
        }
    }

    #[test]
    fn events_build_the_history_and_a_snapshot_moves_the_landmarks() {
        let case: Case = crate::demo::load_builtin().unwrap().into();
        let mut doc = Document::new(case);
        let before = doc.tre.as_ref().unwrap().before.mean;
        assert!(
            before > 2.0,
            "the demo's landmarks start apart ({before} mm)"
        );
        let config = crate::register::config::RegistrationConfig::preset("fast").unwrap();
        doc.start_run(&Method::Iterative(Box::new(config)));
        doc.apply(progress(Stage::Affine, 0, 3, true), || None);
        doc.apply(progress(Stage::Affine, 0, 7, false), || None);
        doc.apply(progress(Stage::Affine, 1, 2, true), || None);
        assert_eq!(
            doc.losses.iter().map(|l| l.step).collect::<Vec<_>>(),
            [3, 9]
        );
        // A sweep's next point starts the deformable level again: its iterations count on.
        doc.apply(progress(Stage::Deformable, 0, 5, true), || None);
        doc.apply(progress(Stage::Deformable, 0, 2, true), || None);
        assert_eq!(
            doc.losses.iter().map(|l| l.step).collect::<Vec<_>>(),
            [3, 9, 14, 16]
        );
        // A snapshot whose field carries each fixed landmark exactly onto its moving partner is
        // not needed: a constant shift changes the TRE by a known amount.
        let grid = doc.case.fixed.grid().clone();
        let field =
            VectorField::new(grid.clone(), vec![[1.0, 0.0, 0.0]; grid.voxel_count()]).unwrap();
        let generation = doc.generation;
        doc.apply(Event::SnapshotReady { generation: 1 }, || {
            Some(Snapshot::new(1, None, Affine::IDENTITY, field))
        });
        assert_eq!(doc.generation, generation + 1);
        let tre = doc.tre.as_ref().unwrap();
        assert!((tre.after.mean - tre.before.mean).abs() > 1e-6);
        assert_eq!(doc.scores.len(), 1);
        assert_eq!(doc.scores[0].fold_percent, 0.0);
        assert_eq!(doc.scores[0].ndv_percent, 0.0);
        doc.apply(Event::Paused, || None);
        assert_eq!(
            doc.run,
            RunStatus::Running {
                paused: true,
                pausable: true
            }
        );
        doc.apply(Event::Failed("boom".into()), || None);
        assert_eq!(doc.run, RunStatus::Failed("boom".into()));
    }
}
