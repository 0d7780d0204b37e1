//! The affine stage as a stepper: a start (image centres, centres of mass, a translation search,
//! or the landmarks' rigid fit), an exhaustive search over start rotations on the coarsest level
//! (none after a landmark start), a short rigid refinement of the best few starts, then rigid or
//! affine optimisation per pyramid level, all on the GPU.
//!
//! The transform maps fixed world to moving world: `A(x) = T(c + M (x − c) + t)`, with `T` the
//! initial translation, `c` the fixed image's centre (of mass; the fixed landmarks' centroid after
//! a landmark start, whose rotation `M` then starts from), `M` a rotation `R(θ)` (rigid) or a
//! general 3 × 3 matrix (affine) and `t` a translation in mm. The similarity's gradient with
//! respect to `M` and `t` comes from one GPU reduction per iteration
//! (`gpu::kernels::affine_gradient`); the few parameters are updated by Adam on the host.

use super::landmark_fit::{FitModel, centroid, fit_landmarks, landmark_pairs};
use super::pyramid::{LevelPair, MovingPlacement, Pyramid};
use super::translation_search::best_translation;
use super::{LevelSettings, Losses, Stage, StepReport};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::gpu::buffer::storage_f32;
use crate::gpu::kernels::adam::{AdamSettings, adam_reference};
use crate::gpu::kernels::affine_gradient::{AffineGradientKernel, AffineSums};
use crate::gpu::kernels::reduce::{PendingSum, ReduceKernel};
use crate::gpu::kernels::similarity::{
    OUTSIDE, Similarity, SimilarityCall, SimilarityKernel, SimilarityScratch,
};
use crate::gpu::kernels::smooth::SmoothKernel;
use crate::gpu::kernels::warp::{WarpCall, WarpKernel};
use crate::volume::{Affine, LandmarkSet, ScalarVolume};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AffineModel {
    /// Rotation and translation (6 parameters).
    Rigid,
    /// A general affine map (12 parameters), after a rigid start.
    Affine,
}

/// Where the search starts: which fixed point is taken to which moving point.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Initialisation {
    /// The headers' world coordinates as they are.
    Identity,
    /// The fixed image's centre to the moving image's centre.
    Centres,
    /// The intensity centre of mass to the other's (above each image's 10th percentile, so a
    /// CT's air or an MR's background does not pull it).
    CentresOfMass,
    /// The translation whose edges agree best over every overlap of the two images, searched by
    /// FFT on grids of `spacing_mm` (`register::translation_search`): for scans in unrelated
    /// frames with different fields of view, where centres do not correspond.
    TranslationSearch { spacing_mm: f64 },
    /// The rigid transform that best takes the fixed landmarks onto their moving partners
    /// (`register::landmark_fit`; three pairs or more, not on one line): for pairs the images
    /// alone cannot bring together. The start rotations are not searched: the landmarks fix the
    /// rotation.
    Landmarks,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AffineSettings {
    pub model: AffineModel,
    pub similarity: Similarity,
    pub initialisation: Initialisation,
    /// Start rotations tried about each axis on the first level, in degrees (every combination of
    /// three); `[0.0]` for none.
    pub search_angles_deg: Vec<f64>,
    /// How many of the best starts get a rigid refinement before one is kept.
    pub search_keep: usize,
    /// Rigid iterations per kept start, on the first level.
    pub rigid_iterations: u32,
    /// Levels of the main optimisation (rigid or affine, by `model`).
    pub levels: Vec<LevelSettings>,
    /// Loss values are read back every this many iterations; the affine stage reads them on each
    /// iteration anyway (the gradient comes back with them), so this only thins the reports.
    pub report_every: u32,
}

/// Rotation `Rz(θ2) Ry(θ1) Rx(θ0)`, radians.
pub fn rotation(theta: [f64; 3]) -> [[f64; 3]; 3] {
    let (sx, cx) = theta[0].sin_cos();
    let (sy, cy) = theta[1].sin_cos();
    let (sz, cz) = theta[2].sin_cos();
    [
        [cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx],
        [sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx],
        [-sy, cy * sx, cy * cx],
    ]
}

/// Euler angles `θ` (radians) with `rotation(θ) == r`, for a rotation matrix `r`
/// (`R = Rz Ry Rx`).
pub fn rotation_angles(r: [[f64; 3]; 3]) -> [f64; 3] {
    let y = (-r[2][0]).clamp(-1.0, 1.0).asin();
    [r[2][1].atan2(r[2][2]), y, r[1][0].atan2(r[0][0])]
}

/// The optimised parameters, in Adam's units: translation in mm, then angles or matrix entries
/// multiplied by the image radius (so one unit moves a point at that radius by about 1 mm).
#[derive(Clone, Debug, PartialEq)]
struct Pose {
    model: AffineModel,
    q: Vec<f32>,
}

impl Pose {
    fn rigid(theta: [f64; 3], radius: f64) -> Pose {
        let mut q = vec![0f32; 6];
        for a in 0..3 {
            q[3 + a] = (theta[a] * radius) as f32;
        }
        Pose {
            model: AffineModel::Rigid,
            q,
        }
    }

    /// `(M, t)`.
    fn matrix(&self, radius: f64) -> ([[f64; 3]; 3], [f64; 3]) {
        let t = [self.q[0] as f64, self.q[1] as f64, self.q[2] as f64];
        let m = match self.model {
            AffineModel::Rigid => rotation(std::array::from_fn(|a| self.q[3 + a] as f64 / radius)),
            AffineModel::Affine => std::array::from_fn(|r| {
                std::array::from_fn(|c| self.q[3 + 3 * r + c] as f64 / radius)
            }),
        };
        (m, t)
    }

    fn to_affine(&self, radius: f64) -> Pose {
        let (m, t) = self.matrix(radius);
        let mut q = vec![t[0] as f32, t[1] as f32, t[2] as f32];
        q.extend(m.iter().flatten().map(|v| (v * radius) as f32));
        Pose {
            model: AffineModel::Affine,
            q,
        }
    }

    /// The loss gradient in Adam's units from the GPU sums `G` (see the module doc).
    fn gradient(&self, sums: &AffineSums, radius: f64) -> Option<Vec<f32>> {
        let (m, _) = self.matrix(radius);
        let inv = Affine::from_linear_translation(m, [0.0; 3])
            .inverse()?
            .linear();
        // H = M⁻ᵀ G.
        let h: [[f64; 4]; 3] = std::array::from_fn(|r| {
            std::array::from_fn(|k| (0..3).map(|j| inv[j][r] * sums[j][k]).sum())
        });
        let mut g = vec![h[0][3] as f32, h[1][3] as f32, h[2][3] as f32];
        match self.model {
            AffineModel::Affine => {
                for r in 0..3 {
                    for c in 0..3 {
                        g.push((h[r][c] / radius) as f32);
                    }
                }
            }
            AffineModel::Rigid => {
                let theta: [f64; 3] = std::array::from_fn(|a| self.q[3 + a] as f64 / radius);
                for a in 0..3 {
                    let step = 1e-6;
                    let mut up = theta;
                    up[a] += step;
                    let mut down = theta;
                    down[a] -= step;
                    let (ru, rd) = (rotation(up), rotation(down));
                    let d: f64 = (0..3)
                        .flat_map(|r| (0..3).map(move |c| (r, c)))
                        .map(|(r, c)| h[r][c] * (ru[r][c] - rd[r][c]) / (2.0 * step))
                        .sum();
                    g.push((d / radius) as f32);
                }
            }
        }
        Some(g)
    }
}

struct Kernels {
    warp: WarpKernel,
    smooth: SmoothKernel,
    similarity: SimilarityKernel,
    gradient: AffineGradientKernel,
    reduce: ReduceKernel,
}

struct Level {
    pair: LevelPair,
    warped: wgpu::Buffer,
    warp_grad: wgpu::Buffer,
    dsdw: wgpu::Buffer,
    terms: wgpu::Buffer,
    scratch: SimilarityScratch,
}

/// What the stepper does next.
#[derive(Clone, Debug, PartialEq)]
enum Phase {
    Search,
    /// Rigid refinement of start `candidate` of the search's best.
    Refine {
        candidate: usize,
    },
    Fit {
        level: usize,
    },
    Done,
}

/// Adam's state on one phase, and the best pose it has seen.
struct PhaseAdam {
    pose: Pose,
    m: Vec<f32>,
    v: Vec<f32>,
    iteration: u32,
    best: (f64, Pose),
}

impl PhaseAdam {
    fn new(pose: Pose) -> PhaseAdam {
        let n = pose.q.len();
        PhaseAdam {
            best: (f64::INFINITY, pose.clone()),
            pose,
            m: vec![0.0; n],
            v: vec![0.0; n],
            iteration: 0,
        }
    }
}

pub struct AffineRun {
    ctx: GpuContext,
    kernels: Kernels,
    pyramid: Arc<Pyramid>,
    settings: AffineSettings,
    /// The initial translation `T` and the rotation centre `c`.
    initial: Affine,
    /// The rotation the search starts from (Euler angles, radians): a landmark fit's, else none.
    start_rotation: [f64; 3],
    centre: [f64; 3],
    radius: f64,
    phase: Phase,
    level: Option<(usize, Level)>,
    starts: Vec<Pose>,
    refined: Vec<(f64, Pose)>,
    optimiser: Option<PhaseAdam>,
    pose: Pose,
}

impl AffineRun {
    /// The stage on `pyramid`; `landmarks` (fixed, moving) serve
    /// [`Initialisation::Landmarks`].
    pub fn new(
        ctx: &GpuContext,
        pyramid: Arc<Pyramid>,
        settings: AffineSettings,
        landmarks: Option<(&LandmarkSet, &LandmarkSet)>,
    ) -> Result<AffineRun> {
        if settings.levels.is_empty() {
            return Err(Error::Config(
                "the affine stage needs at least one level".into(),
            ));
        }
        let kernels = Kernels {
            warp: WarpKernel::new(ctx)?,
            smooth: SmoothKernel::new(ctx)?,
            similarity: SimilarityKernel::new(ctx, settings.similarity)?,
            gradient: AffineGradientKernel::new(ctx)?,
            reduce: ReduceKernel::new(ctx)?,
        };
        let (fixed, moving) = (pyramid.fixed(), pyramid.moving());
        let mut start_rotation = [0.0; 3];
        let (from, to) = match settings.initialisation {
            Initialisation::Identity => (fixed.grid().centre_mm(), fixed.grid().centre_mm()),
            Initialisation::Centres => (fixed.grid().centre_mm(), moving.grid().centre_mm()),
            Initialisation::CentresOfMass => (centre_of_mass(fixed), centre_of_mass(moving)),
            Initialisation::TranslationSearch { spacing_mm } => {
                let t = best_translation(
                    ctx,
                    (&kernels.smooth, &kernels.warp),
                    (fixed, moving),
                    spacing_mm,
                )?;
                let c = centre_of_mass(fixed);
                (c, std::array::from_fn(|a| c[a] + t[a]))
            }
            Initialisation::Landmarks => {
                // L(x) = L(c) + R (x − c): a translation taking c to L(c) after a rotation about
                // c, which is the pose's own form.
                let pairs = landmark_pairs(landmarks)?;
                let fit = fit_landmarks(&pairs, FitModel::Rigid)?;
                start_rotation = rotation_angles(fit.affine.linear());
                let c = centroid(pairs.iter().map(|p| p.0));
                (c, fit.affine.apply(c))
            }
        };
        let initial = Affine::from_linear_translation(
            Affine::IDENTITY.linear(),
            std::array::from_fn(|a| to[a] - from[a]),
        );
        let (lo, hi) = fixed.grid().world_bounds_mm();
        let radius = ((0..3).map(|a| hi[a] - lo[a]).fold(0.0, f64::max) / 2.0).max(1.0);
        let pose = Pose::rigid(start_rotation, radius);
        Ok(AffineRun {
            ctx: ctx.clone(),
            kernels,
            pyramid,
            settings,
            initial,
            start_rotation,
            centre: from,
            radius,
            phase: Phase::Search,
            level: None,
            starts: Vec::new(),
            refined: Vec::new(),
            optimiser: None,
            pose,
        })
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Changes every level's learning rate from the next step on (finished levels are past it).
    pub fn set_learning_rate(&mut self, rate: f64) {
        for level in &mut self.settings.levels {
            level.learning_rate = rate;
        }
    }

    /// The current best transform, fixed world → moving world.
    pub fn affine(&self) -> Affine {
        let pose = match &self.optimiser {
            Some(o) if o.best.0.is_finite() => &o.best.1,
            _ => &self.pose,
        };
        self.transform(pose)
    }

    fn transform(&self, pose: &Pose) -> Affine {
        let (m, t) = pose.matrix(self.radius);
        let c = self.centre;
        // x ↦ c + M(x − c) + t
        let mc: [f64; 3] = std::array::from_fn(|r| (0..3).map(|k| m[r][k] * c[k]).sum());
        let inner =
            Affine::from_linear_translation(m, std::array::from_fn(|r| c[r] - mc[r] + t[r]));
        self.initial.then_after(&inner)
    }

    /// Makes level `index` the current one (uploading it unless it already is).
    fn prepare_level(&mut self, index: usize) -> Result<()> {
        if self.level.as_ref().is_none_or(|(i, _)| *i != index) {
            self.level = None;
            let ctx = &self.ctx;
            let metric = self.settings.levels[index]
                .similarity
                .unwrap_or(self.settings.similarity);
            if self.kernels.similarity.metric() != metric {
                self.kernels.similarity = SimilarityKernel::new(ctx, metric)?;
            }
            let pair = LevelPair::new(
                ctx,
                (&self.kernels.smooth, &self.kernels.warp),
                &self.pyramid,
                self.settings.levels[index].shrink,
                MovingPlacement::for_stage(metric, None),
            )?;
            let n = pair.grid.voxel_count();
            let level = Level {
                warped: storage_f32(ctx, "warped", n)?,
                warp_grad: storage_f32(ctx, "warp gradient", 3 * n)?,
                dsdw: storage_f32(ctx, "dS/dw", n)?,
                terms: storage_f32(ctx, "similarity terms", n)?,
                scratch: self
                    .kernels
                    .similarity
                    .scratch(ctx, &pair.similarity_level())?,
                pair,
            };
            self.level = Some((index, level));
        }
        Ok(())
    }

    fn current_level(&self) -> &Level {
        &self.level.as_ref().expect("prepared before use").1
    }

    /// Records warp and similarity for `affine` on `level`; with `gradient`, also the sums.
    fn record_evaluation(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        level: &Level,
        affine: &Affine,
        gradient: bool,
    ) -> Result<(
        PendingSum,
        Option<crate::gpu::kernels::affine_gradient::PendingAffineSums>,
    )> {
        let ctx = &self.ctx;
        let k = &self.kernels;
        let grid = &level.pair.grid;
        let warp_affine = level.pair.warp_affine(affine)?;
        let warp = WarpCall {
            fixed: grid,
            moving: &level.pair.moving_grid,
            moving_from_fixed: &warp_affine,
            moving_values: &level.pair.moving,
            displacement: None,
            warped: &level.warped,
            gradient: gradient.then_some(&level.warp_grad),
            outside: OUTSIDE,
        };
        k.warp.record(ctx, encoder, &warp)?;
        k.similarity.record(
            ctx,
            encoder,
            &level.scratch,
            &SimilarityCall {
                warp: &warp,
                fixed: &level.pair.fixed,
                dsdw: &level.dsdw,
                terms: &level.terms,
            },
        )?;
        let sums = if gradient {
            Some(k.gradient.record(
                ctx,
                encoder,
                grid,
                self.centre,
                [&level.dsdw, &level.warp_grad],
            )?)
        } else {
            None
        };
        let loss = k
            .reduce
            .record(ctx, encoder, &level.terms, grid.voxel_count())?;
        Ok((loss, sums))
    }

    /// Every start rotation's loss on the first level; keeps the best `search_keep`.
    fn search(&mut self) -> Result<f64> {
        let landmarks = self.settings.initialisation == Initialisation::Landmarks;
        let angles = if self.settings.search_angles_deg.is_empty() || landmarks {
            vec![0.0]
        } else {
            self.settings.search_angles_deg.clone()
        };
        let mut starts = Vec::new();
        for &a in &angles {
            for &b in &angles {
                for &c in &angles {
                    let delta = [a, b, c].map(f64::to_radians);
                    let theta = std::array::from_fn(|k| self.start_rotation[k] + delta[k]);
                    starts.push(Pose::rigid(theta, self.radius));
                }
            }
        }
        self.prepare_level(0)?;
        let level = self.current_level();
        let mut encoder = self.ctx.device.create_command_encoder(&Default::default());
        let pending = starts
            .iter()
            .map(|p| {
                self.record_evaluation(&mut encoder, level, &self.transform(p), false)
                    .map(|(loss, _)| loss)
            })
            .collect::<Result<Vec<_>>>()?;
        self.ctx.queue.submit([encoder.finish()]);
        let mut scored = pending
            .iter()
            .zip(starts)
            .map(|(l, p)| Ok((l.read(&self.ctx)?, p)))
            .collect::<Result<Vec<_>>>()?;
        scored.sort_by(|a, b| a.0.total_cmp(&b.0));
        let best = scored[0].0;
        self.starts = scored
            .into_iter()
            .take(self.settings.search_keep.max(1))
            .map(|(_, p)| p)
            .collect();
        Ok(best)
    }

    /// One Adam iteration of the current optimiser on `level`; returns the loss before it.
    fn iterate(&mut self, level_index: usize, learning_rate: f64, iterations: u32) -> Result<f64> {
        self.prepare_level(level_index)?;
        let opt = self.optimiser.as_ref().expect("phase has an optimiser");
        let affine = self.transform(&opt.pose);
        let level = self.current_level();
        let mut encoder = self.ctx.device.create_command_encoder(&Default::default());
        let (loss, sums) = self.record_evaluation(&mut encoder, level, &affine, true)?;
        self.ctx.queue.submit([encoder.finish()]);
        let loss = loss.read(&self.ctx)?;
        let sums = sums.expect("asked for").read(&self.ctx)?;
        let radius = self.radius;
        let opt = self.optimiser.as_mut().expect("phase has an optimiser");
        if loss < opt.best.0 {
            opt.best = (loss, opt.pose.clone());
        }
        let grad = opt.pose.gradient(&sums, radius).ok_or_else(|| {
            Error::Registration("the affine stage reached a singular matrix".into())
        })?;
        opt.iteration += 1;
        // Linear decay to a fifth of the rate over the phase: Adam's steps otherwise keep
        // circling the optimum at about the learning rate.
        let progress = (opt.iteration - 1) as f64 / iterations.max(1) as f64;
        let adam = AdamSettings::with_learning_rate(learning_rate * (1.0 - 0.8 * progress));
        adam_reference(
            &adam,
            opt.iteration,
            &grad,
            &mut opt.m,
            &mut opt.v,
            &mut opt.pose.q,
        );
        Ok(loss)
    }

    /// One iteration (or the whole search, as one step).
    pub fn step(&mut self) -> Result<StepReport> {
        let first = self.settings.levels[0].clone();
        let levels = self.settings.levels.len();
        match self.phase.clone() {
            Phase::Search => {
                let best = self.search()?;
                self.phase = Phase::Refine { candidate: 0 };
                Ok(StepReport {
                    stage: Stage::Search,
                    level: 0,
                    levels,
                    iteration: 1,
                    iterations: 1,
                    losses: Some(Losses::similarity_only(best)),
                    label_dice: None,
                })
            }
            Phase::Refine { candidate } => {
                if self.optimiser.is_none() {
                    self.optimiser = Some(PhaseAdam::new(self.starts[candidate].clone()));
                }
                let iterations = self.settings.rigid_iterations.max(1);
                let loss = self.iterate(0, first.learning_rate, iterations)?;
                let opt = self.optimiser.as_ref().expect("set above");
                let iteration = opt.iteration;
                if iteration >= iterations {
                    let opt = self.optimiser.take().expect("set above");
                    self.refined.push(opt.best);
                    self.phase = if candidate + 1 < self.starts.len() {
                        Phase::Refine {
                            candidate: candidate + 1,
                        }
                    } else {
                        self.refined.sort_by(|a, b| a.0.total_cmp(&b.0));
                        let best = self.refined[0].1.clone();
                        self.pose = match self.settings.model {
                            AffineModel::Rigid => best,
                            AffineModel::Affine => best.to_affine(self.radius),
                        };
                        Phase::Fit { level: 0 }
                    };
                }
                Ok(self.report(Stage::Rigid, 0, iteration, iterations, loss))
            }
            Phase::Fit { level } => {
                if self.optimiser.is_none() {
                    self.optimiser = Some(PhaseAdam::new(self.pose.clone()));
                }
                let settings = self.settings.levels[level].clone();
                let loss = self.iterate(level, settings.learning_rate, settings.iterations)?;
                let iteration = self.optimiser.as_ref().expect("set above").iteration;
                if iteration >= settings.iterations {
                    let opt = self.optimiser.take().expect("set above");
                    self.pose = opt.best.1;
                    self.phase = if level + 1 < levels {
                        Phase::Fit { level: level + 1 }
                    } else {
                        self.level = None;
                        Phase::Done
                    };
                }
                let stage = match self.settings.model {
                    AffineModel::Rigid => Stage::Rigid,
                    AffineModel::Affine => Stage::Affine,
                };
                Ok(self.report(stage, level, iteration, settings.iterations, loss))
            }
            Phase::Done => Err(Error::Registration("the affine stage has finished".into())),
        }
    }

    fn report(
        &self,
        stage: Stage,
        level: usize,
        iteration: u32,
        iterations: u32,
        loss: f64,
    ) -> StepReport {
        let every = self.settings.report_every.max(1);
        let shown = iteration == 1 || iteration >= iterations || iteration.is_multiple_of(every);
        StepReport {
            stage,
            level,
            levels: self.settings.levels.len(),
            iteration,
            iterations,
            losses: shown.then(|| Losses::similarity_only(loss)),
            label_dice: None,
        }
    }
}

/// Intensity-weighted centre (world mm) over voxels above the 10th percentile, weighted by how far
/// above; the grid centre when nothing is.
pub fn centre_of_mass(image: &ScalarVolume) -> [f64; 3] {
    let [floor] = image.quantiles([0.1]);
    let grid = image.grid();
    let mut sum = [0f64; 3];
    let mut total = 0f64;
    for (i, &v) in image.data().iter().enumerate() {
        let w = (v - floor) as f64;
        if w > 0.0 && w.is_finite() {
            let x = grid.index_to_world(i);
            for a in 0..3 {
                sum[a] += w * x[a];
            }
            total += w;
        }
    }
    if total > 0.0 {
        sum.map(|s| s / total)
    } else {
        grid.centre_mm()
    }
}
