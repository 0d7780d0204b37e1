//! MIND-SSC and macMIND descriptors of `[b, 1, k, j, i]` images as burn tensors, so the MIND loss
//! for CT–MR pairs has autodiff gradients. The definition is `volume::mind`'s (its CPU reference):
//! shifted samples clamped to the volume, box sums with zero edges, `exp(−D / mean D)` per scale
//! (less the smallest D for MIND-SSC), macMIND's scales mixed by α and averaged over log-polar bins.

use super::losses::box_sum;
use crate::volume::mind::{Descriptor, MIN_VARIANCE};
use burn::tensor::{Int, Tensor, TensorData};

/// `[b, channels, k, j, i]`, channels ordered as `volume::mind::descriptor` orders them.
pub fn descriptor(image: Tensor<5>, descriptor: &Descriptor) -> Tensor<5> {
    let alphas = match *descriptor {
        Descriptor::MindSsc { .. } => vec![1.0],
        Descriptor::MacMind { alpha, .. } => alpha.to_vec(),
    };
    let window = 2 * descriptor.box_radius() as usize + 1;
    let mut mixed: Option<Tensor<5>> = None;
    for (&distance, alpha) in descriptor.distances().iter().zip(alphas) {
        let squares = descriptor
            .pairs(distance)
            .iter()
            .map(|&(a, b)| (shifted(image.clone(), a) - shifted(image.clone(), b)).square())
            .collect();
        let mut d = box_sum(Tensor::cat(squares, 1), window);
        if matches!(descriptor, Descriptor::MindSsc { .. }) {
            d = d.clone() - d.min_dim(1);
        }
        let variance = d.clone().mean_dim(1).clamp_min(MIN_VARIANCE);
        let scale = (d.neg() / variance).exp().mul_scalar(alpha);
        mixed = Some(match mixed {
            Some(m) => m + scale,
            None => scale,
        });
    }
    let mixed = mixed.expect("a descriptor has at least one scale");
    if matches!(descriptor, Descriptor::MindSsc { .. }) {
        return mixed;
    }
    let bins = descriptor
        .bins()
        .iter()
        .map(|offsets| {
            let sum = offsets
                .iter()
                .map(|&o| shifted(mixed.clone(), o))
                .reduce(|a, b| a + b)
                .expect("bins are not empty");
            sum.div_scalar(offsets.len() as f32)
        })
        .collect();
    Tensor::cat(bins, 1)
}

/// Mean squared difference of the two images' descriptors: the MIND loss.
pub fn mind_loss(a: Tensor<5>, b: Tensor<5>, kind: &Descriptor) -> Tensor<1> {
    (descriptor(a, kind) - descriptor(b, kind)).square().mean()
}

/// `x(v + offset)` with `offset` in voxels along `[i, j, k]`, samples clamped to the volume.
fn shifted(x: Tensor<5>, offset_ijk: [i32; 3]) -> Tensor<5> {
    let device = x.device();
    let mut x = x;
    for (axis, &o) in offset_ijk.iter().enumerate() {
        if o == 0 {
            continue;
        }
        let dim = 4 - axis;
        let n = x.dims()[dim];
        let indices: Vec<i32> = (0..n)
            .map(|i| (i as i32 + o).clamp(0, n as i32 - 1))
            .collect();
        let indices = Tensor::<1, Int>::from_data(TensorData::new(indices, [n]), &device);
        x = x.select(dim, indices);
    }
    x
}
