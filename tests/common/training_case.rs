//! A small training case on generated phantoms: four head-like volumes with labels, and a
//! training config for them on a 16³ grid (`write_case`).

use std::path::{Path, PathBuf};
use warpbench::volume::nifti_io::{write_labels, write_scalar};
use warpbench::volume::{Grid, LabelVolume, ScalarVolume};

const SIZE: usize = 40;

/// A head-like phantom: an ellipsoid body (label 1) holding two balls (labels 2 and 3) whose
/// centres move by `shift` voxels between subjects, as anatomy does.
fn phantom(shift: [f64; 3]) -> (ScalarVolume, LabelVolume) {
    let grid = Grid::axis_aligned([SIZE; 3], [1.0; 3], [-20.0, -20.0, -20.0]).unwrap();
    let c = (SIZE as f64 - 1.0) / 2.0;
    let mut image = Vec::with_capacity(grid.voxel_count());
    let mut labels = Vec::with_capacity(grid.voxel_count());
    for n in 0..grid.voxel_count() {
        let [i, j, k] = grid.voxel_of(n).map(|v| v as f64);
        let body = ((i - c) / 15.0).powi(2) + ((j - c) / 13.0).powi(2) + ((k - c) / 11.0).powi(2);
        let ball = |centre: [f64; 3], r: f64| {
            (i - centre[0] - shift[0]).powi(2)
                + (j - centre[1] - shift[1]).powi(2)
                + (k - centre[2] - shift[2]).powi(2)
                < r * r
        };
        let (value, label) = if ball([c - 6.0, c, c], 5.0) {
            (1.0, 2)
        } else if ball([c + 6.0, c + 2.0, c], 4.0) {
            (0.15, 3)
        } else if body < 1.0 {
            (0.5, 1)
        } else {
            (0.0, 0)
        };
        image.push(value);
        labels.push(label);
    }
    (
        ScalarVolume::new(grid.clone(), image).unwrap(),
        LabelVolume::new(grid, labels).unwrap(),
    )
}

/// Writes the phantoms and `train.toml` (held-out pair a ← b) into `dir`; returns the config.
pub fn write_case(dir: &Path) -> PathBuf {
    let subjects = [
        ("atlas", [0.0, 0.0, 0.0]),
        ("a", [2.0, -1.5, 1.0]),
        ("b", [-2.0, 1.5, -1.0]),
        ("c", [1.0, 2.0, 0.0]),
    ];
    let mut volumes = String::new();
    for (name, shift) in subjects {
        let (image, labels) = phantom(shift);
        write_scalar(&dir.join(format!("{name}.nii.gz")), &image).unwrap();
        write_labels(&dir.join(format!("{name}_labels.nii.gz")), &labels).unwrap();
        volumes.push_str(&format!(
            "[[data.volumes]]\nname = \"{name}\"\nimage = \"{name}.nii.gz\"\nlabels = \"{name}_labels.nii.gz\"\n\n"
        ));
    }
    let config = format!(
        r#"[data]
spacing_mm = 2.0
dims = [16, 16, 16]
atlas = "atlas"
affine_preset = "none"
pairing = "all-pairs"

{volumes}
[data.validation]
fixed = "a"
moving = "b"

[model]
encoder_channels = [8, 16]
decoder_channels = 16
field = "velocity"
affine_head = false
correlation = {{ radius = 1, window = 3 }}

[training]
iterations = 40
learning_rate = 0.01
similarity = {{ kind = "mse" }}
smoothness = 0.1
label_weight = 0.5
validate_every = 10
checkpoint_every = 20
seed = 3

[augmentation]
rotation_deg = 2.0
scale = 0.02
translation_mm = 1.0
deformation_mm = 1.0
deformation_spacing_mm = 16.0
gamma = 0.1
noise = 0.01
synthetic_fraction = 0.3
"#
    );
    let path = dir.join("train.toml");
    std::fs::write(&path, config).unwrap();
    path
}
