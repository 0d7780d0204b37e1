//! The registration networks: a VoxelMorph-style U-Net that predicts a displacement or a
//! stationary velocity field from the fixed and moving images; a LapIRN-style pyramid of such
//! U-Nets (`pyramid_levels` > 1), coarse to fine, each level seeing the images at its resolution
//! with the moving one warped by the coarser levels' field and adding its residual to that field
//! (LapIRN adds velocities, then integrates); and optionally an affine head on the coarsest
//! level's encoder (the joint affine + deformable network), whose affine warps the moving image
//! before the deformable part sees it. With `correlation` set, each level's flow layer also reads
//! the matching estimate of a correlation layer ([`super::correlation`]) between the images the
//! level sees.
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
use super::correlation::matching_estimate;
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

/// The lattices of the training grid, and of each pyramid level (coarsest first): the level's
/// input and the half-resolution one its flow lives on.
#[derive(Clone, Debug)]
pub struct Lattices {
    pub full: Lattice,
    pub levels: Vec<LevelLattices>,
}

#[derive(Clone, Debug)]
pub struct LevelLattices {
    pub input: Lattice,
    pub flow: Lattice,
}

impl Lattices {
    /// Lattices for `dims_kji` (each a multiple of 2^`pyramid_levels`) and `pyramid_levels`
    /// levels, the finest at the training grid's resolution.
    pub fn new(dims_kji: [usize; 3], pyramid_levels: usize, device: &Device) -> Lattices {
        let levels = (0..pyramid_levels)
            .rev()
            .map(|coarser| {
                let input = dims_kji.map(|n| n >> coarser);
                LevelLattices {
                    input: Lattice::new(input, device),
                    flow: Lattice::new(input.map(|n| n / 2), device),
                }
            })
            .collect();
        Lattices {
            full: Lattice::new(dims_kji, device),
            levels,
        }
    }
}

/// What a forward pass predicts, in voxels of the input lattice.
pub struct Prediction {
    /// The whole map: the deformable displacement composed after the affine one.
    pub disp_vox: Tensor<5>,
    /// The deformable part alone as the finest level's flow layer gives it, added to the coarser
    /// levels' (the velocity for velocity outputs), on that level's half lattice in its voxels,
    /// for regularisers.
    pub flow_vox: Tensor<5>,
    /// The affine head's part, on the input lattice, when the network has one.
    pub affine_vox: Option<Tensor<5>>,
}

/// One level's U-Net over `[fixed, moving]`: a flow on the half lattice of its input.
#[derive(Module, Debug)]
struct UNet {
    encoder: Vec<ConvBlock>,
    decoder: Vec<ConvBlock>,
    flow: Conv3x3,
    /// The correlation layer's search radius and window (voxels of the input), 0 without one.
    correlation_radius: usize,
    correlation_window: usize,
}

impl UNet {
    fn new(config: &NetConfig, device: &Device) -> UNet {
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
        // A near-zero flow layer starts training from the identity map, as VoxelMorph does, and
        // a pyramid's finer level from the coarser levels' field.
        // The flow reads the finest decoder output joined with the first encoder level directly:
        // another full convolution there would cost as much as the rest of the network. With a
        // correlation layer it reads the matching estimate too.
        if config.correlation.is_some() {
            previous += 3;
        }
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
        let (correlation_radius, correlation_window) =
            config.correlation.map_or((0, 0), |c| (c.radius, c.window));
        UNet {
            encoder,
            decoder,
            flow,
            correlation_radius,
            correlation_window,
        }
    }

    fn forward(&self, fixed: Tensor<5>, moving: Tensor<5>) -> Tensor<5> {
        let estimate = (self.correlation_radius > 0).then(|| {
            matching_estimate(
                fixed.clone(),
                moving.clone(),
                self.correlation_radius,
                self.correlation_window,
            )
        });
        let skips = self.encode(Tensor::cat(vec![fixed, moving], 1));
        let mut x = skips.last().expect("an encoder level").clone();
        for (block, skip) in self.decoder.iter().zip(skips.iter().rev().skip(1)) {
            let [_, _, sd, sh, sw] = skip.dims();
            x = resize_linear(block.forward(x), [sd, sh, sw]);
            x = Tensor::cat(vec![x, skip.clone()], 1);
        }
        if let Some(estimate) = estimate {
            let [_, _, fd, fh, fw] = x.dims();
            x = Tensor::cat(vec![x, resize_field(estimate, [fd, fh, fw])], 1);
        }
        self.flow.forward(x)
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

/// The pyramid of U-Nets (one level: VoxelMorph's), with an optional affine head.
#[derive(Module, Debug)]
pub struct RegNet {
    levels: Vec<UNet>,
    affine: Option<Linear>,
}

impl RegNet {
    pub fn new(config: &NetConfig, device: &Device) -> RegNet {
        let levels = (0..config.pyramid_levels)
            .map(|_| UNet::new(config, device))
            .collect();
        let affine = config.affine_head.then(|| {
            let bottom = *config.encoder_channels.last().expect("an encoder level");
            LinearConfig::new(bottom, 12)
                .with_initializer(Initializer::Zeros)
                .init(device)
        });
        RegNet { levels, affine }
    }

    /// How many pyramid levels the network has.
    pub fn pyramid_levels(&self) -> usize {
        self.levels.len()
    }

    /// Predicts the map from `fixed` to `moving` (both `[b, 1, k, j, i]` on `lattices.full`) with
    /// every level: the moving image warped by `disp_vox` matches the fixed one.
    pub fn forward(
        &self,
        lattices: &Lattices,
        field: FieldKind,
        fixed: Tensor<5>,
        moving: Tensor<5>,
    ) -> Prediction {
        self.forward_levels(lattices, field, fixed, moving, self.levels.len())
    }

    /// [`RegNet::forward`] with the `active` coarsest levels only (LapIRN trains coarse to fine);
    /// the map is upsampled from the finest active level.
    pub fn forward_levels(
        &self,
        lattices: &Lattices,
        field: FieldKind,
        fixed: Tensor<5>,
        moving: Tensor<5>,
        active: usize,
    ) -> Prediction {
        let [b, _, d, h, w] = fixed.dims();
        let fixed_levels = pyramid(fixed, lattices);
        let affine_vox = self.affine.as_ref().map(|head| {
            let coarse = pyramid(moving.clone(), lattices).swap_remove(0);
            let code = self.levels[0].encode(Tensor::cat(vec![fixed_levels[0].clone(), coarse], 1));
            let bottom = code.last().expect("an encoder level").clone();
            let [_, c, ..] = bottom.dims();
            let pooled = adaptive_avg_pool3d(bottom, [1, 1, 1]).reshape([b, c]);
            // The head gives its shift as a fraction of the half-extent, as the matrix part
            // moves a point at the border by a fraction of it: with Adam moving every output by
            // about the learning rate, a shift in voxels would take hundreds of steps to grow.
            let half = [w, h, d].map(|n| n as f32 / 2.0);
            let mut scale = [1.0f32; 12];
            scale[9..].copy_from_slice(&half);
            let scale = Tensor::<1>::from_floats(scale, &pooled.device()).reshape([1, 12]);
            lattices
                .full
                .affine_displacement(head.forward(pooled) * scale)
        });
        let moved = match &affine_vox {
            Some(affine) => lattices.full.warp_linear(moving, affine.clone()),
            None => moving,
        };
        let active = active.clamp(1, self.levels.len());
        let moved_levels = pyramid(moved, lattices);
        let mut flow_vox: Option<Tensor<5>> = None;
        for (n, (net, level)) in self
            .levels
            .iter()
            .zip(&lattices.levels)
            .take(active)
            .enumerate()
        {
            let moving_n = moved_levels[n].clone();
            let coarser = flow_vox
                .take()
                .map(|f| resize_field(f, level.flow.dims_kji()));
            let warped = match &coarser {
                Some(flow) => {
                    let disp = level_displacement(level, field, flow.clone());
                    level.input.warp_linear(moving_n, disp)
                }
                None => moving_n,
            };
            let residual = net.forward(fixed_levels[n].clone(), warped);
            flow_vox = Some(match coarser {
                Some(flow) => flow + residual,
                None => residual,
            });
        }
        let flow_vox = flow_vox.expect("at least one level");
        let finest = &lattices.levels[active - 1];
        let deformable = resize_field(integrate_flow(finest, field, flow_vox.clone()), [d, h, w]);
        let disp_vox = match &affine_vox {
            Some(affine) => lattices.full.compose(affine.clone(), deformable),
            None => deformable,
        };
        Prediction {
            disp_vox,
            flow_vox,
            affine_vox,
        }
    }
}

/// The displacement of a flow on `level`'s half lattice (integrated when it is a velocity).
fn integrate_flow(level: &LevelLattices, field: FieldKind, flow_vox: Tensor<5>) -> Tensor<5> {
    match field {
        FieldKind::Displacement => flow_vox,
        FieldKind::Velocity => level.flow.integrate(flow_vox, INTEGRATION_STEPS),
    }
}

/// A flow's displacement on `level`'s input lattice.
fn level_displacement(level: &LevelLattices, field: FieldKind, flow_vox: Tensor<5>) -> Tensor<5> {
    resize_field(
        integrate_flow(level, field, flow_vox),
        level.input.dims_kji(),
    )
}

/// `image` on `lattices.full` at every pyramid level, coarsest first: each coarser level halves
/// the next finer one, the average pooling of an image pyramid.
fn pyramid(image: Tensor<5>, lattices: &Lattices) -> Vec<Tensor<5>> {
    let mut levels = vec![image];
    for level in lattices.levels.iter().rev().skip(1) {
        let finer = levels.last().expect("the finest level").clone();
        levels.push(resize_linear(finer, level.input.dims_kji()));
    }
    levels.reverse();
    levels
}
