//! The registration networks: a VoxelMorph-style U-Net that predicts a displacement or a
//! stationary velocity field from the fixed and moving images, optionally with an affine head on
//! its encoder (the joint affine + deformable network), whose affine warps the moving image before
//! the deformable part sees it.
//!
//! The network works at half the training grid's resolution: its first convolution has stride 2
//! and its flow (and the integration of a velocity) is on the half lattice, upsampled to the full
//! one at the end, as LapIRN's levels do. On lavapipe a full-resolution 3×3×3 layer's backward
//! pass alone took seconds per iteration (burn's conv3d input gradient is a transposed
//! convolution); at half resolution every layer costs an eighth. Decoders likewise upsample by
//! linear interpolation ([`resize_linear`]) followed by a convolution, not by `conv_transpose3d`,
//! which is about ten times slower than `conv3d` in burn.

use super::config::{FieldKind, NetConfig};
use super::conv::Conv3x3;
use super::spatial::{Lattice, resize_field, resize_linear};
use burn::module::{Initializer, Module};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::leaky_relu;
use burn::tensor::module::adaptive_avg_pool3d;
use burn::tensor::{Device, Tensor};

/// LeakyReLU slope of VoxelMorph and LapIRN.
const SLOPE: f64 = 0.2;
/// Scaling-and-squaring steps for velocity outputs (LapIRN's 7).
pub const INTEGRATION_STEPS: u32 = 7;

/// A 3×3×3 convolution and LeakyReLU, stride 1 or 2.
#[derive(Module, Debug)]
struct ConvBlock {
    conv: Conv3x3,
}

impl ConvBlock {
    fn new(inputs: usize, outputs: usize, stride: usize, device: &Device) -> ConvBlock {
        ConvBlock {
            conv: Conv3x3::new(inputs, outputs, stride, device),
        }
    }

    fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        leaky_relu(self.conv.forward(x), SLOPE)
    }
}

/// The training grid's lattice and the half-resolution one the flow lives on.
#[derive(Clone, Debug)]
pub struct Lattices {
    pub full: Lattice,
    pub flow: Lattice,
}

impl Lattices {
    /// Lattices for `dims_kji` (each even).
    pub fn new(dims_kji: [usize; 3], device: &Device) -> Lattices {
        Lattices {
            full: Lattice::new(dims_kji, device),
            flow: Lattice::new(dims_kji.map(|n| n / 2), device),
        }
    }
}

/// What a forward pass predicts, in voxels of the input lattice.
pub struct Prediction {
    /// The whole map: the deformable displacement composed after the affine one.
    pub disp_vox: Tensor<5>,
    /// The deformable part alone as the flow layer gives it (the velocity for velocity outputs),
    /// on the half lattice in its voxels, for regularisers.
    pub flow_vox: Tensor<5>,
}

/// U-Net over `[fixed, moving]`, with an optional affine head.
#[derive(Module, Debug)]
pub struct RegNet {
    encoder: Vec<ConvBlock>,
    decoder: Vec<ConvBlock>,
    flow: Conv3x3,
    affine: Option<Linear>,
}

impl RegNet {
    pub fn new(config: &NetConfig, device: &Device) -> RegNet {
        let enc = &config.encoder_channels;
        let mut encoder = Vec::with_capacity(enc.len());
        let mut previous = 2;
        for &c in enc {
            encoder.push(ConvBlock::new(previous, c, 2, device));
            previous = c;
        }
        // Each decoder block works at one encoder level, from the coarsest up, and its output is
        // upsampled and joined with the next finer skip.
        let mut decoder = Vec::with_capacity(enc.len() - 1);
        for level in (0..enc.len() - 1).rev() {
            let c = config.decoder_channels;
            decoder.push(ConvBlock::new(previous, c, 1, device));
            previous = c + enc[level];
        }
        // A near-zero flow layer starts training from the identity map, as VoxelMorph does.
        // The flow reads the finest decoder output joined with the first encoder level directly:
        // another full convolution there would cost as much as the rest of the network.
        let flow = Conv3x3::with_initializer(
            previous,
            3,
            1,
            Initializer::Normal {
                mean: 0.0,
                std: 1e-5,
            },
            device,
        );
        let affine = config.affine_head.then(|| {
            LinearConfig::new(enc[enc.len() - 1], 12)
                .with_initializer(Initializer::Zeros)
                .init(device)
        });
        RegNet {
            encoder,
            decoder,
            flow,
            affine,
        }
    }

    /// Predicts the map from `fixed` to `moving` (both `[b, 1, k, j, i]` on `lattices.full`): the
    /// moving image warped by `disp_vox` matches the fixed one.
    pub fn forward(
        &self,
        lattices: &Lattices,
        field: FieldKind,
        fixed: Tensor<5>,
        moving: Tensor<5>,
    ) -> Prediction {
        let [b, _, d, h, w] = fixed.dims();
        let affine_vox = self.affine.as_ref().map(|head| {
            let code = self.encode(Tensor::cat(vec![fixed.clone(), moving.clone()], 1));
            let bottom = code.last().expect("an encoder level").clone();
            let [_, c, ..] = bottom.dims();
            let pooled = adaptive_avg_pool3d(bottom, [1, 1, 1]).reshape([b, c]);
            lattices.full.affine_displacement(head.forward(pooled))
        });
        let moved = match &affine_vox {
            Some(affine) => lattices.full.warp_linear(moving, affine.clone()),
            None => moving,
        };
        let skips = self.encode(Tensor::cat(vec![fixed, moved], 1));
        let mut x = skips.last().expect("an encoder level").clone();
        for (block, skip) in self.decoder.iter().zip(skips.iter().rev().skip(1)) {
            let [_, _, sd, sh, sw] = skip.dims();
            x = resize_linear(block.forward(x), [sd, sh, sw]);
            x = Tensor::cat(vec![x, skip.clone()], 1);
        }
        let flow_vox = self.flow.forward(x);
        let half = match field {
            FieldKind::Displacement => flow_vox.clone(),
            FieldKind::Velocity => lattices.flow.integrate(flow_vox.clone(), INTEGRATION_STEPS),
        };
        let deformable = resize_field(half, [d, h, w]);
        let disp_vox = match affine_vox {
            Some(affine) => lattices.full.compose(affine, deformable),
            None => deformable,
        };
        Prediction { disp_vox, flow_vox }
    }

    fn encode(&self, x: Tensor<5>) -> Vec<Tensor<5>> {
        let mut levels = Vec::with_capacity(self.encoder.len());
        let mut x = x;
        for block in &self.encoder {
            x = block.forward(x);
            levels.push(x.clone());
        }
        levels
    }
}
