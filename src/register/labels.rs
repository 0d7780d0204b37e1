//! Label maps for weak supervision of the deformable stage: the ids both maps hold and, per
//! pyramid level, their one-hot occupancies on the device (see `gpu::kernels::label_dice`).

use super::pyramid::{REACH_MARGIN_MM, grown_grid, level_grid, resample_through};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::gpu::kernels::label_dice::LabelMaps;
use crate::gpu::kernels::smooth::SmoothKernel;
use crate::gpu::kernels::warp::WarpKernel;
use crate::volume::{Affine, Grid, LabelVolume, ScalarVolume};

/// A fixed and a moving label map and the non-zero ids both hold (the supervised labels).
pub struct LabelPair {
    fixed: LabelVolume,
    moving: LabelVolume,
    ids: Vec<i32>,
}

impl LabelPair {
    /// Pairs two label maps; `fixed_grid` is the fixed image's, which the fixed labels must share.
    pub fn new(fixed: LabelVolume, moving: LabelVolume, fixed_grid: &Grid) -> Result<LabelPair> {
        if !fixed.grid().same_as(fixed_grid, 1e-3) {
            return Err(Error::Mismatch(
                "label supervision: the fixed labels are not on the fixed image's grid".into(),
            ));
        }
        let moving_ids = moving.ids();
        let ids: Vec<i32> = fixed
            .ids()
            .into_iter()
            .filter(|id| moving_ids.binary_search(id).is_ok())
            .collect();
        if ids.is_empty() {
            return Err(Error::Mismatch(
                "label supervision: the fixed and moving label maps share no non-zero label".into(),
            ));
        }
        Ok(LabelPair { fixed, moving, ids })
    }

    pub fn ids(&self) -> &[i32] {
        &self.ids
    }

    /// The level `shrink` times coarser than the fixed grid, on the device: fixed occupancies on
    /// the level grid, moving ones sampled through `moving_from_fixed` onto that grid grown by
    /// [`REACH_MARGIN_MM`] (so the supervision warps them with the identity).
    pub fn level(
        &self,
        ctx: &GpuContext,
        kernels: (&SmoothKernel, &WarpKernel),
        shrink: f64,
        moving_from_fixed: &Affine,
    ) -> Result<LabelMaps> {
        let grid = level_grid(self.fixed.grid(), shrink)?;
        let moving_grid = grown_grid(&grid, REACH_MARGIN_MM)?;
        let fixed = self.one_hot(ctx, kernels, &self.fixed, (&grid, &Affine::IDENTITY))?;
        let moving = self.one_hot(
            ctx,
            kernels,
            &self.moving,
            (&moving_grid, moving_from_fixed),
        )?;
        LabelMaps::upload(
            ctx,
            (&grid, &fixed),
            (&moving_grid, &moving),
            self.ids.len(),
        )
    }

    /// Each id's occupancy of `labels` (0 to 1), smoothed and sampled through `through` onto
    /// `target`, interleaved per voxel.
    fn one_hot(
        &self,
        ctx: &GpuContext,
        kernels: (&SmoothKernel, &WarpKernel),
        labels: &LabelVolume,
        (target, through): (&Grid, &Affine),
    ) -> Result<Vec<f32>> {
        let channels = self.ids.len();
        let mut out = vec![0f32; target.voxel_count() * channels];
        for (c, &id) in self.ids.iter().enumerate() {
            let mask = labels
                .data()
                .iter()
                .map(|&v| (v == id) as u8 as f32)
                .collect();
            let mask = ScalarVolume::new(labels.grid().clone(), mask)?;
            let level = resample_through(ctx, kernels, &mask, (target, through), 0.0)?;
            for (n, v) in level.data().iter().enumerate() {
                out[n * channels + c] = *v;
            }
        }
        Ok(out)
    }
}
