//! Label maps for weak supervision of the deformable stage: the ids both maps hold and, per
//! pyramid level, their one-hot occupancies on the device (see `gpu::kernels::label_dice`).

use super::pyramid::{REACH_MARGIN_MM, grown_grid, level_grid};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::gpu::kernels::label_dice::LabelMaps;
use crate::volume::{Affine, Grid, LabelVolume};

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
    /// the level grid, moving ones through `moving_from_fixed` on that grid grown by
    /// [`REACH_MARGIN_MM`] (so the supervision warps them with the identity).
    pub fn level(
        &self,
        ctx: &GpuContext,
        shrink: f64,
        moving_from_fixed: &Affine,
    ) -> Result<LabelMaps> {
        let grid = level_grid(self.fixed.grid(), shrink)?;
        let moving_grid = grown_grid(&grid, REACH_MARGIN_MM)?;
        let fixed = self.occupancies(&self.fixed, &grid, &Affine::IDENTITY)?;
        let moving = self.occupancies(&self.moving, &moving_grid, moving_from_fixed)?;
        LabelMaps::upload(
            ctx,
            (&grid, &fixed),
            (&moving_grid, &moving),
            self.ids.len(),
        )
    }

    /// Each id's share of the voxels of `labels` whose centres fall in each voxel of `target`
    /// (`through` maps target world to `labels` world), interleaved per target voxel: the
    /// partial-volume fractions of a box filter, in one pass over the labels. Target voxels that
    /// no label voxel falls in (the target is finer along some axis) take the label at their
    /// centre, nearest neighbour.
    fn occupancies(
        &self,
        labels: &LabelVolume,
        target: &Grid,
        through: &Affine,
    ) -> Result<Vec<f32>> {
        let channels = self.ids.len();
        let n = target.voxel_count();
        let to_target = target
            .voxel_from_world()
            .then_after(
                &through
                    .inverse()
                    .ok_or_else(|| Error::Registration("the affine is singular".into()))?,
            )
            .then_after(labels.grid().world_from_voxel());
        let dims = target.dims();
        let voxel = |p: [f64; 3]| -> Option<usize> {
            let v: [f64; 3] = std::array::from_fn(|a| p[a].round());
            (0..3)
                .all(|a| v[a] >= 0.0 && v[a] < dims[a] as f64)
                .then(|| target.index(v[0] as usize, v[1] as usize, v[2] as usize))
        };
        let mut counts = vec![0f32; n * channels];
        let mut totals = vec![0u32; n];
        let source = labels.grid();
        for (index, &id) in labels.data().iter().enumerate() {
            let v = source.voxel_of(index).map(|c| c as f64);
            if let Some(t) = voxel(to_target.apply(v)) {
                totals[t] += 1;
                if let Ok(c) = self.ids.binary_search(&id) {
                    counts[t * channels + c] += 1.0;
                }
            }
        }
        let to_source = source
            .voxel_from_world()
            .then_after(through)
            .then_after(target.world_from_voxel());
        let [sx, sy, sz] = source.dims();
        for (t, &total) in totals.iter().enumerate() {
            let cell = &mut counts[t * channels..(t + 1) * channels];
            if total > 0 {
                cell.iter_mut().for_each(|c| *c /= total as f32);
                continue;
            }
            let p = to_source.apply(target.voxel_of(t).map(|c| c as f64));
            let v: [f64; 3] = std::array::from_fn(|a| p[a].round());
            if v.iter()
                .zip([sx, sy, sz])
                .all(|(&c, n)| c >= 0.0 && c < n as f64)
            {
                let id = labels.at(v[0] as usize, v[1] as usize, v[2] as usize);
                if let Ok(c) = self.ids.binary_search(&id) {
                    cell[c] = 1.0;
                }
            }
        }
        Ok(counts)
    }
}
