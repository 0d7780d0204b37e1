//! A trained model applied to a new pair: both volumes aligned to the model's atlas by the engine,
//! the network run on the training grid, and its map carried back to the fixed volume's own grid
//! as a displacement in mm, the form `register` produces.

use super::config::TrainConfig;
use super::data::{Subject, alignment_config, native_displacement, training_grid};
use super::model::{ModelFiles, load_weights, read_config};
use super::nets::{Lattices, RegNet};
use super::tensor::{scalar_tensor, spatial_dims};
use super::train::{Predict, predict_field};
use crate::error::Result;
use crate::gpu::GpuContext;
use crate::volume::nifti_io::read_scalar;
use crate::volume::{Affine, Grid, LabelVolume, ScalarVolume, VectorField};
use burn::module::Module;
use burn::tensor::Device;
use std::path::Path;

pub struct TrainedModel {
    config: TrainConfig,
    model: RegNet,
    device: Device,
    lattices: Lattices,
    /// The atlas volumes are aligned to, and the training grid around it.
    alignment_atlas: ScalarVolume,
    grid: Grid,
}

/// A pair registered by the network.
pub struct Inference {
    /// The whole map (affine alignment included), mm on the fixed grid.
    pub field: VectorField,
    /// The affine alignment alone: fixed world → moving world.
    pub affine: Affine,
    /// The network's map on the training grid (mm), before it is carried to the fixed grid.
    pub field_g: VectorField,
}

impl TrainedModel {
    pub fn load(ctx: &GpuContext, dir: &Path) -> Result<TrainedModel> {
        let files = ModelFiles::new(dir);
        let config = read_config(&files)?;
        let device = ctx.burn_device()?;
        let model = load_weights(&files, &config, &device)?.valid();
        let alignment_atlas = read_scalar(&files.atlas())?;
        // The alignment grid is centred on the atlas, as the training grid is.
        let grid = training_grid(
            alignment_atlas.grid(),
            config.data.spacing_mm,
            config.data.dims,
        )?;
        let lattices = Lattices::new(spatial_dims(&grid), config.model.pyramid_levels, &device);
        Ok(TrainedModel {
            config,
            model,
            device,
            lattices,
            alignment_atlas,
            grid,
        })
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// A volume aligned to the model's atlas and brought onto its training grid.
    pub fn subject(
        &self,
        ctx: &GpuContext,
        name: &str,
        image: ScalarVolume,
        labels: Option<LabelVolume>,
    ) -> Result<Subject> {
        let alignment = alignment_config(&self.config.data.affine_preset)?
            .map(|config| (ctx, &self.alignment_atlas, config));
        Subject::new(name, image, labels, self.grid(), alignment)
    }

    /// Sets how many instance-optimisation steps follow the network (0: none).
    pub fn set_refinement_steps(&mut self, steps: u32) {
        self.config.refinement.steps = steps;
    }

    /// Registers `moving` to `fixed` (both from [`TrainedModel::subject`]), the network's map
    /// refined as the model's config says.
    pub fn infer(&self, fixed: &Subject, moving: &Subject) -> Result<Inference> {
        let tensor = |s: &Subject| scalar_tensor(&s.image_g, &self.device);
        let (field_g, _) = predict_field(
            &self.model,
            &self.config,
            &self.lattices,
            self.grid(),
            (tensor(fixed), tensor(moving)),
            Predict {
                levels: self.model.pyramid_levels(),
                refine: true,
            },
        )?;
        Ok(Inference {
            field: native_displacement(fixed, moving, &field_g)?,
            affine: moving.from_atlas.then_after(&fixed.to_atlas()?),
            field_g,
        })
    }
}
