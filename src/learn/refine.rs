//! Instance optimisation: the network's map refined on one pair by Adam steps on the displacement
//! itself (VoxelMorph++'s refinement), under the similarity of training and its own smoothness.

use super::config::{Refinement, TrainingSettings};
use super::losses;
use super::spatial::Lattice;
use super::train::{ADAM_EPSILON, similarity};
use burn::tensor::Tensor;

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;

/// `disp_vox` (`[1, 3, k, j, i]` on `lattice`) after `refinement.steps` Adam steps that warp
/// `moving` closer to `fixed`. Adam is written out here: it updates one tensor, not a module.
pub fn refine(
    lattice: &Lattice,
    settings: &TrainingSettings,
    refinement: &Refinement,
    (fixed, moving): (Tensor<5>, Tensor<5>),
    disp_vox: Tensor<5>,
) -> Tensor<5> {
    let mut disp = disp_vox;
    let mut first = disp.zeros_like();
    let mut second = disp.zeros_like();
    for step in 1..=refinement.steps {
        let x = disp.clone().autodiff().require_grad();
        let warped = lattice.warp_linear(moving.clone(), x.clone());
        let loss = similarity(settings.similarity, warped, fixed.clone())
            + losses::diffusion(x.clone()).mul_scalar(refinement.smoothness);
        let gradients = loss.backward();
        let Some(g) = x.grad(&gradients) else {
            break;
        };
        first = first.mul_scalar(BETA1) + g.clone().mul_scalar(1.0 - BETA1);
        second = second.mul_scalar(BETA2) + g.square().mul_scalar(1.0 - BETA2);
        let m = first.clone().div_scalar(1.0 - BETA1.powi(step as i32));
        let v = second.clone().div_scalar(1.0 - BETA2.powi(step as i32));
        disp = disp - (m / v.sqrt().add_scalar(ADAM_EPSILON)).mul_scalar(refinement.learning_rate);
    }
    disp
}
