//! The deformable stage as a stepper: one `step()` is one optimiser iteration on the GPU, so the
//! caller (CLI, worker thread, tests) decides when to report, pause, retune or stop.
//!
//! Per pyramid level: a displacement `u` on the level's grid (world mm, after which the affine `A`
//! applies: the moving point of fixed `x` is `A(x + u(x))`), optimised by Adam (or normalised
//! gradient steps) on `S(fixed, moving∘A∘(id + u)) + λ E_diffusion(u) + β E_bending(u) +
//! γ E_folding(u)` (plus `w (1 − mean soft Dice)` of the warped label maps when they supervise
//! it), the gradient and `u` smoothed by Gaussians where their σ is positive.
//! Between levels `u` is resampled onto the finer grid; being in mm, it needs no rescaling.
//!
//! With [`Transform::Velocity`] the optimised field is a stationary velocity `v` instead, and the
//! `u` above is `exp(v)` by scaling and squaring, recomputed on the GPU before each warp.

use super::labels::LabelPair;
use super::pyramid::{LevelPair, MovingPlacement, Pyramid};
use super::{LevelSettings, Losses, Stage, StepReport};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::gpu::buffer::{read_field, storage_f32, upload_f32};
use crate::gpu::kernel::dims_u32;
use crate::gpu::kernels::adam::{AdamKernel, AdamSettings};
use crate::gpu::kernels::field_gradient::FieldGradientKernel;
use crate::gpu::kernels::label_dice::{LabelDiceKernel, LabelMaps};
use crate::gpu::kernels::normalised_step::NormalisedStepKernel;
use crate::gpu::kernels::reduce::{PendingSum, ReduceKernel};
use crate::gpu::kernels::regularisers::RegularisersKernel;
use crate::gpu::kernels::similarity::{
    OUTSIDE, Similarity, SimilarityCall, SimilarityKernel, SimilarityScratch,
};
use crate::gpu::kernels::smooth::SmoothKernel;
use crate::gpu::kernels::velocity::VelocityExpKernel;
use crate::gpu::kernels::warp::{WarpCall, WarpKernel};
use crate::volume::resample::resample_field;
use crate::volume::{Affine, Grid, VectorField};
use std::sync::Arc;

/// How a step turns the (smoothed) gradient into a displacement update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Optimiser {
    /// Adam, per component: `learning_rate` bounds each component's step.
    Adam,
    /// Plain gradient steps scaled so their root mean square over voxels is `learning_rate`
    /// (greedy's fixed-size steps): strong edges move more than flat regions.
    NormalisedGradient,
}

/// The field the deformable stage optimises.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum Transform {
    /// The displacement `u` itself.
    #[default]
    Displacement,
    /// A stationary velocity field `v`, `u = exp(v)` with `squarings` steps of scaling and
    /// squaring: diffeomorphic up to interpolation error. The similarity's gradient with respect to
    /// `u` stands in for the one with respect to `v` (as in log-domain demons), and the
    /// regularisers act on `v`.
    Velocity { squarings: u32 },
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeformableSettings {
    /// Displacement (default) or stationary velocity field.
    #[serde(default)]
    pub transform: Transform,
    pub similarity: Similarity,
    pub optimiser: Optimiser,
    pub levels: Vec<LevelSettings>,
    /// Weight λ of the diffusion energy.
    pub diffusion: f64,
    /// Weight of the bending energy (Laplacian form, see `shaders/regularisers.wgsl`); 0 for none.
    #[serde(default)]
    pub bending: f64,
    /// Weight of the folding penalty: the folded cubes' share (the NDV's tetrahedra turned inside
    /// out) summed over the voxel count; 0 for none.
    #[serde(default)]
    pub folding: f64,
    /// Gaussian σ (level voxels) applied to the gradient before each step (fluid-like
    /// regularisation: Adam normalises each voxel's step, so an unsmoothed gradient moves flat
    /// regions as far as edges); 0 for none.
    pub gradient_sigma_voxels: f64,
    /// Gaussian σ (level voxels) applied to `u` after each step (elastic-like); 0 for none.
    pub field_sigma_voxels: f64,
    /// Loss values are read back every this many iterations (and at each level's first and last).
    pub report_every: u32,
    /// Weight of the label term `1 − mean soft Dice` of the warped labels (weak supervision; needs
    /// a fixed and a moving label map); 0 for none.
    #[serde(default)]
    pub label_weight: f64,
}

/// A weighted regulariser of the deformable stage: its weight can change while the stage runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regulariser {
    Diffusion,
    Bending,
    Folding,
}

impl Regulariser {
    pub const ALL: [Regulariser; 3] = [
        Regulariser::Diffusion,
        Regulariser::Bending,
        Regulariser::Folding,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Regulariser::Diffusion => "diffusion",
            Regulariser::Bending => "bending",
            Regulariser::Folding => "folding",
        }
    }

    pub fn weight(self, settings: &DeformableSettings) -> f64 {
        match self {
            Regulariser::Diffusion => settings.diffusion,
            Regulariser::Bending => settings.bending,
            Regulariser::Folding => settings.folding,
        }
    }

    pub fn weight_mut(self, settings: &mut DeformableSettings) -> &mut f64 {
        match self {
            Regulariser::Diffusion => &mut settings.diffusion,
            Regulariser::Bending => &mut settings.bending,
            Regulariser::Folding => &mut settings.folding,
        }
    }
}

impl DeformableSettings {
    /// The label maps the stage uses: `labels` when `label_weight` is positive (an error without
    /// them), none otherwise.
    pub fn supervising<T>(&self, labels: Option<T>) -> Result<Option<T>> {
        match (self.label_weight > 0.0, labels) {
            (false, _) => Ok(None),
            (true, Some(labels)) => Ok(Some(labels)),
            (true, None) => Err(Error::Config(
                "deformable.label_weight needs a fixed and a moving label map".into(),
            )),
        }
    }
}

struct Kernels {
    warp: WarpKernel,
    smooth: SmoothKernel,
    similarity: SimilarityKernel,
    gradient: FieldGradientKernel,
    adam: AdamKernel,
    step: NormalisedStepKernel,
    regularisers: RegularisersKernel,
    reduce: ReduceKernel,
    exp: VelocityExpKernel,
    labels: Option<LabelDiceKernel>,
}

/// Device buffers of one level.
struct Level {
    grid: Grid,
    moving_grid: Grid,
    /// The affine the warps apply after `u` (see [`LevelPair::warp_affine`]).
    warp_affine: Affine,
    fixed: wgpu::Buffer,
    moving: wgpu::Buffer,
    /// The optimised field: `u`, or `v` for a velocity transform.
    u: wgpu::Buffer,
    /// `exp(v)` and its number of squarings, for a velocity transform.
    mapping: Option<(wgpu::Buffer, u32)>,
    u_smoothed: wgpu::Buffer,
    scratch: wgpu::Buffer,
    m: wgpu::Buffer,
    v: wgpu::Buffer,
    warped: wgpu::Buffer,
    warp_grad: wgpu::Buffer,
    dsdw: wgpu::Buffer,
    sim_terms: wgpu::Buffer,
    sim_scratch: SimilarityScratch,
    grad: wgpu::Buffer,
    grad_smoothed: wgpu::Buffer,
    /// Each voxel's weighted share of the diffusion and of the bending energy.
    diffusion_terms: wgpu::Buffer,
    bending_terms: wgpu::Buffer,
    /// Each cube's folded share, from which the folding penalty's gradient and energy come.
    fold_share: wgpu::Buffer,
    labels: Option<LabelMaps>,
    iteration: u32,
}

pub struct DeformableRun {
    ctx: GpuContext,
    kernels: Kernels,
    pyramid: Arc<Pyramid>,
    labels: Option<Arc<LabelPair>>,
    affine: Affine,
    settings: DeformableSettings,
    level_index: usize,
    level: Option<Level>,
    /// The optimised field of the last finished level (on that level's grid) and, for a
    /// velocity, its exponential (the displacement).
    field: Option<(VectorField, Option<VectorField>)>,
}

impl DeformableRun {
    /// `affine` maps fixed world to moving world (the affine stage's result, or identity);
    /// `labels` are needed when the settings weight the label term.
    pub fn new(
        ctx: &GpuContext,
        (pyramid, labels): (Arc<Pyramid>, Option<Arc<LabelPair>>),
        affine: Affine,
        settings: DeformableSettings,
    ) -> Result<DeformableRun> {
        let labels = settings.supervising(labels)?;
        let kernels = Kernels {
            warp: WarpKernel::new(ctx)?,
            smooth: SmoothKernel::new(ctx)?,
            similarity: SimilarityKernel::new(ctx, settings.similarity)?,
            gradient: FieldGradientKernel::new(ctx)?,
            adam: AdamKernel::new(ctx)?,
            step: NormalisedStepKernel::new(ctx)?,
            regularisers: RegularisersKernel::new(ctx)?,
            reduce: ReduceKernel::new(ctx)?,
            exp: VelocityExpKernel::new(ctx)?,
            labels: labels
                .as_ref()
                .map(|_| LabelDiceKernel::new(ctx))
                .transpose()?,
        };
        Ok(DeformableRun {
            ctx: ctx.clone(),
            kernels,
            pyramid,
            labels,
            affine,
            settings,
            level_index: 0,
            level: None,
            field: None,
        })
    }

    pub fn is_done(&self) -> bool {
        self.level_index >= self.settings.levels.len()
    }

    /// Changes a regulariser's weight from the next step on.
    pub fn set_weight(&mut self, term: Regulariser, weight: f64) {
        *term.weight_mut(&mut self.settings) = weight;
    }

    /// Changes the current and later levels' learning rate from the next step on.
    pub fn set_learning_rate(&mut self, rate: f64) {
        let from = self.level_index.min(self.settings.levels.len());
        for level in &mut self.settings.levels[from..] {
            level.learning_rate = rate;
        }
    }

    fn start_level(&mut self) -> Result<Level> {
        let ctx = &self.ctx;
        let shrink = self.settings.levels[self.level_index].shrink;
        let metric = self.settings.levels[self.level_index]
            .similarity
            .unwrap_or(self.settings.similarity);
        if self.kernels.similarity.metric() != metric {
            self.kernels.similarity = SimilarityKernel::new(&self.ctx, metric)?;
        }
        let pair = LevelPair::new(
            ctx,
            (&self.kernels.smooth, &self.kernels.warp),
            &self.pyramid,
            shrink,
            MovingPlacement::for_stage(metric, Some(&self.affine)),
        )?;
        let sim_scratch = self
            .kernels
            .similarity
            .scratch(ctx, &pair.similarity_level())?;
        let warp_affine = pair.warp_affine(&self.affine)?;
        let labels = match &self.labels {
            Some(labels) => Some(labels.level(ctx, shrink, &self.affine)?),
            None => None,
        };
        let grid = pair.grid;
        let n = grid.voxel_count();
        let u0 = match &self.field {
            Some((previous, _)) => resample_field(previous, &grid),
            None => VectorField::zeros(grid.clone()),
        };
        Ok(Level {
            fixed: pair.fixed,
            moving: pair.moving,
            u: upload_f32(ctx, "displacement", bytemuck::cast_slice(u0.data()))?,
            mapping: match self.settings.transform {
                Transform::Displacement => None,
                Transform::Velocity { squarings } => {
                    Some((storage_f32(ctx, "exp(velocity)", 3 * n)?, squarings))
                }
            },
            u_smoothed: storage_f32(ctx, "smoothed displacement", 3 * n)?,
            scratch: storage_f32(ctx, "smoothing scratch", 3 * n)?,
            m: storage_f32(ctx, "adam m", 3 * n)?,
            v: storage_f32(ctx, "adam v", 3 * n)?,
            warped: storage_f32(ctx, "warped", n)?,
            warp_grad: storage_f32(ctx, "warp gradient", 3 * n)?,
            dsdw: storage_f32(ctx, "dS/dw", n)?,
            sim_terms: storage_f32(ctx, "similarity terms", n)?,
            sim_scratch,
            grad: storage_f32(ctx, "gradient", 3 * n)?,
            grad_smoothed: storage_f32(ctx, "smoothed gradient", 3 * n)?,
            diffusion_terms: storage_f32(ctx, "diffusion terms", n)?,
            bending_terms: storage_f32(ctx, "bending terms", n)?,
            fold_share: storage_f32(ctx, "folded cube share", n)?,
            labels,
            iteration: 0,
            grid,
            moving_grid: pair.moving_grid,
            warp_affine,
        })
    }

    /// One optimiser iteration (starting the next level first when needed).
    pub fn step(&mut self) -> Result<StepReport> {
        if self.level.is_none() {
            self.level = Some(self.start_level()?);
        }
        let level_settings = self.settings.levels[self.level_index].clone();
        let s = &self.settings;
        let optimiser = s.optimiser;
        let (bending, folding, label_weight) = (s.bending, s.folding, s.label_weight);
        let (diffusion, grad_sigma, sigma, report_every) = (
            s.diffusion,
            s.gradient_sigma_voxels,
            s.field_sigma_voxels,
            s.report_every.max(1),
        );
        let ctx = &self.ctx;
        let k = &self.kernels;
        let l = self.level.as_mut().expect("level started above");
        let n = l.grid.voxel_count();
        l.iteration += 1;
        let last = l.iteration >= level_settings.iterations;
        let report = last || l.iteration == 1 || l.iteration.is_multiple_of(report_every);

        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        let displacement = record_mapping(ctx, k, l, &mut encoder)?;
        let warp = WarpCall {
            fixed: &l.grid,
            moving: &l.moving_grid,
            moving_from_fixed: &l.warp_affine,
            moving_values: &l.moving,
            displacement: Some(displacement),
            warped: &l.warped,
            gradient: Some(&l.warp_grad),
            outside: OUTSIDE,
        };
        k.warp.record(ctx, &mut encoder, &warp)?;
        k.similarity.record(
            ctx,
            &mut encoder,
            &l.sim_scratch,
            &SimilarityCall {
                warp: &warp,
                fixed: &l.fixed,
                dsdw: &l.dsdw,
                terms: &l.sim_terms,
            },
        )?;
        k.gradient.record(
            ctx,
            &mut encoder,
            &l.grid,
            diffusion,
            [&l.dsdw, &l.warp_grad, &l.u, &l.grad, &l.diffusion_terms],
        )?;
        if bending > 0.0 || folding > 0.0 {
            // The smoothed-displacement buffer is free until the field is smoothed below.
            k.regularisers.record(
                ctx,
                &mut encoder,
                &l.grid,
                (bending, folding),
                [
                    &l.u,
                    &l.u_smoothed,
                    &l.fold_share,
                    &l.grad,
                    &l.bending_terms,
                ],
            )?;
        }
        if let (Some(kernel), Some(maps)) = (&k.labels, &l.labels) {
            // The label maps were sampled through the affine: they warp with `u` alone.
            kernel.record(
                ctx,
                &mut encoder,
                maps,
                (&Affine::IDENTITY, displacement),
                label_weight,
                &l.grad,
            )?;
        }
        let dims = dims_u32(&l.grid)?;
        let grad = if grad_sigma > 0.0 {
            k.smooth.record_blur(
                ctx,
                &mut encoder,
                dims,
                3,
                [grad_sigma; 3],
                [&l.grad, &l.scratch, &l.grad_smoothed],
            )?;
            &l.grad_smoothed
        } else {
            &l.grad
        };
        match optimiser {
            Optimiser::Adam => {
                let adam = AdamSettings::with_learning_rate(level_settings.learning_rate);
                k.adam.record(
                    ctx,
                    &mut encoder,
                    &adam,
                    l.iteration,
                    3 * n,
                    [grad, &l.m, &l.v, &l.u],
                )?;
            }
            Optimiser::NormalisedGradient => k.step.record(
                ctx,
                &mut encoder,
                n,
                level_settings.learning_rate,
                [grad, &l.u],
            )?,
        }
        if sigma > 0.0 {
            k.smooth.record_blur(
                ctx,
                &mut encoder,
                dims,
                3,
                [sigma; 3],
                [&l.u, &l.scratch, &l.u_smoothed],
            )?;
            encoder.copy_buffer_to_buffer(&l.u_smoothed, 0, &l.u, 0, (3 * n * 4) as u64);
        }
        // Each term the stage optimises with, summed on the GPU: the similarity, and each
        // regulariser that is on.
        let sums = if report {
            let similarity = k.reduce.record(ctx, &mut encoder, &l.sim_terms, n)?;
            let mut sum = |on: bool, terms: &wgpu::Buffer| -> Result<Option<PendingSum>> {
                on.then(|| k.reduce.record(ctx, &mut encoder, terms, n))
                    .transpose()
            };
            let regularisers = [
                sum(diffusion > 0.0, &l.diffusion_terms)?,
                sum(bending > 0.0, &l.bending_terms)?,
                sum(folding > 0.0, &l.fold_share)?,
            ];
            Some((similarity, regularisers))
        } else {
            None
        };
        ctx.queue.submit([encoder.finish()]);
        let losses = match sums {
            Some((similarity, [diffusion_sum, bending_sum, share_sum])) => {
                let read = |pending: Option<PendingSum>| pending.map(|p| p.read(ctx)).transpose();
                Some(Losses {
                    similarity: similarity.read(ctx)?,
                    diffusion: read(diffusion_sum)?,
                    bending: read(bending_sum)?,
                    folding: read(share_sum)?.map(|shares| folding * shares / n as f64),
                })
            }
            None => None,
        };
        let label_dice = match (&l.labels, report) {
            (Some(maps), true) => {
                let dice = maps.read_dice(ctx)?;
                Some(dice.iter().sum::<f64>() / dice.len() as f64)
            }
            _ => None,
        };
        let out = StepReport {
            stage: Stage::Deformable,
            level: self.level_index,
            levels: self.settings.levels.len(),
            iteration: l.iteration,
            iterations: level_settings.iterations,
            losses,
            label_dice,
        };
        if last {
            let optimised = read_field(ctx, &l.u, &l.grid)?;
            let exp = match l.mapping {
                Some(_) => Some(read_mapping(ctx, k, l)?),
                None => None,
            };
            self.field = Some((optimised, exp));
            self.level = None;
            self.level_index += 1;
        }
        Ok(out)
    }

    /// The current `u` on the grid it is optimised on: the running level's, else the last
    /// finished level's; zero on the fixed grid before the first level.
    fn level_u(&self) -> Result<VectorField> {
        Ok(match (&self.level, &self.field) {
            (Some(l), _) => read_mapping(&self.ctx, &self.kernels, l)?,
            (None, Some((u, exp))) => exp.as_ref().unwrap_or(u).clone(),
            (None, None) => VectorField::zeros(self.pyramid.fixed().grid().clone()),
        })
    }

    /// The current displacement `u` (before the affine) on the fixed grid.
    pub fn current_u(&self) -> Result<VectorField> {
        Ok(resample_field(
            &self.level_u()?,
            self.pyramid.fixed().grid(),
        ))
    }

    /// The whole mapping as it stands on the level's grid (cheap, for live views).
    pub fn level_displacement(&self) -> Result<VectorField> {
        Ok(compose(&self.affine, &self.level_u()?))
    }

    /// The whole mapping as one displacement on the fixed grid: `d(x) = A(x + u(x)) − x`.
    pub fn displacement(&self) -> Result<VectorField> {
        Ok(compose(&self.affine, &self.current_u()?))
    }
}

/// The level's displacement `u`: the optimised field, or its exponential.
fn read_mapping(ctx: &GpuContext, k: &Kernels, l: &Level) -> Result<VectorField> {
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    let buffer = record_mapping(ctx, k, l, &mut encoder)?;
    ctx.queue.submit([encoder.finish()]);
    read_field(ctx, buffer, &l.grid)
}

/// Records what turns the level's optimised field into its displacement, and returns the buffer
/// holding that displacement (the field itself when it is one).
fn record_mapping<'a>(
    ctx: &GpuContext,
    k: &Kernels,
    l: &'a Level,
    encoder: &mut wgpu::CommandEncoder,
) -> Result<&'a wgpu::Buffer> {
    match &l.mapping {
        Some((mapping, squarings)) => {
            k.exp.record(
                ctx,
                encoder,
                &l.grid,
                *squarings,
                [&l.u, &l.scratch, mapping],
            )?;
            Ok(mapping)
        }
        None => Ok(&l.u),
    }
}

/// The displacement `d(x) = A(x) − x` of an affine alone, on `grid`.
pub fn affine_displacement(affine: &Affine, grid: &Grid) -> VectorField {
    compose(affine, &VectorField::zeros(grid.clone()))
}

/// `d(x) = A(x + u(x)) − x` on `u`'s grid.
pub fn compose(affine: &Affine, u: &VectorField) -> VectorField {
    let grid = u.grid().clone();
    let data = u
        .data()
        .iter()
        .enumerate()
        .map(|(n, d)| {
            let x = grid.index_to_world(n);
            let y = affine.apply([x[0] + d[0] as f64, x[1] + d[1] as f64, x[2] + d[2] as f64]);
            std::array::from_fn(|a| (y[a] - x[a]) as f32)
        })
        .collect();
    VectorField::new(grid, data).expect("same grid")
}
