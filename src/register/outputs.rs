//! The files a registration leaves in its output folder, one definition for `warpbench register`
//! and the window's export: `warped.nii.gz`, `warped_labels.nii.gz`, `displacement.nii.gz`,
//! `affine.txt` and `config.toml`, each written atomically.

use crate::error::{Error, Result};
use crate::volume::affine_io::write_itk_affine;
use crate::volume::nifti_io::{write_displacement, write_labels, write_scalar};
use crate::volume::{Affine, LabelVolume, ScalarVolume, VectorField};
use std::path::Path;

/// A finished (or stopped) registration's results.
pub struct Results<'a> {
    /// The moving image warped onto the fixed grid, NaN outside the moving image (written as 0).
    pub warped: &'a ScalarVolume,
    pub warped_labels: Option<&'a LabelVolume>,
    /// The whole displacement in mm on the fixed grid, affine part included.
    pub field: &'a VectorField,
    pub affine: &'a Affine,
    /// The configuration that made them, as TOML (a registration's or a training run's).
    pub config_toml: &'a str,
}

/// Writes `results` into `out`, creating the folder.
pub fn write_results(out: &Path, results: &Results) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let outside_zero = results
        .warped
        .data()
        .iter()
        .map(|&v| if v.is_nan() { 0.0 } else { v })
        .collect();
    write_scalar(
        &out.join("warped.nii.gz"),
        &ScalarVolume::new(results.warped.grid().clone(), outside_zero)?,
    )?;
    if let Some(labels) = results.warped_labels {
        write_labels(&out.join("warped_labels.nii.gz"), labels)?;
    }
    write_displacement(&out.join("displacement.nii.gz"), results.field)?;
    write_itk_affine(&out.join("affine.txt"), results.affine)?;
    crate::atomic::write_bytes(&out.join("config.toml"), results.config_toml.as_bytes())
}
