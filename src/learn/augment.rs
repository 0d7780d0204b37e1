//! Random changes to a training pair, made on the device: a random affine plus a smooth random
//! deformation (random control-point displacements interpolated linearly), and intensity changes
//! (gamma, noise). Labels go through the same spatial change as their image.

use super::config::Augmentation;
use super::rng::Rng;
use super::spatial::{Lattice, resize_linear};
use crate::register::affine::rotation;
use burn::tensor::{Distribution, Tensor, TensorData};

/// A random spatial change on `lattice` as a displacement in voxels of `spacing_mm`.
pub fn random_displacement(
    settings: &Augmentation,
    lattice: &Lattice,
    spacing_mm: f64,
    rng: &mut Rng,
) -> Tensor<5> {
    let [d, h, w] = lattice.dims_kji();
    let device = lattice.device();
    let angles = [(); 3].map(|_| rng.symmetric(settings.rotation_deg).to_radians());
    let scales = [(); 3].map(|_| 1.0 + rng.symmetric(settings.scale));
    let shift = [(); 3].map(|_| rng.symmetric(settings.translation_mm) / spacing_mm);
    let m = rotation(angles);
    let mut params = [0.0f32; 12];
    for r in 0..3 {
        for c in 0..3 {
            let identity = if r == c { 1.0 } else { 0.0 };
            params[3 * r + c] = (m[r][c] * scales[c] - identity) as f32;
        }
        params[9 + r] = shift[r] as f32;
    }
    let params = Tensor::<2>::from_data(TensorData::new(params.to_vec(), [1, 12]), &device);
    let affine = lattice.affine_displacement(params);

    let control = |size: usize| {
        ((size as f64 * spacing_mm / settings.deformation_spacing_mm).ceil() as usize + 1).max(2)
    };
    let dims = [control(d), control(h), control(w)];
    let amplitude = settings.deformation_mm / spacing_mm;
    let values: Vec<f32> = (0..3 * dims.iter().product::<usize>())
        .map(|_| rng.symmetric(amplitude) as f32)
        .collect();
    let coarse = Tensor::<5>::from_data(
        TensorData::new(values, [1, 3, dims[0], dims[1], dims[2]]),
        &device,
    );
    affine + resize_linear(coarse, [d, h, w])
}

/// Gamma and additive noise on an image in `[0, 1]`.
pub fn random_intensity(settings: &Augmentation, image: Tensor<5>, rng: &mut Rng) -> Tensor<5> {
    let g = 1.0 + rng.unit() * settings.gamma;
    let gamma = if rng.unit() < 0.5 { g } else { 1.0 / g };
    let image = image.clamp(0.0, 1.0).powf_scalar(gamma as f32);
    if settings.noise > 0.0 {
        let noise = Tensor::random(
            image.shape(),
            Distribution::Normal(0.0, settings.noise),
            &image.device(),
        );
        image + noise
    } else {
        image
    }
}
