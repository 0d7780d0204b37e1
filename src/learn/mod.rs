//! Learning-based registration in burn, on the device the app and our kernels share: the 3D
//! spatial operations and losses, the networks, the training data, a training stepper, model
//! folders, and inference.
//!
//! Tensors are `[batch, channel, k, j, i]`; displacements are in voxels of the tensor's lattice
//! (see [`tensor`]). Volumes are affinely aligned to an atlas by the engine before the network
//! sees them, on a training grid around the atlas ([`data`]); results leave this module as the
//! engine's types (a displacement in mm on the fixed grid), so evaluation and output files are
//! those of `register`.

pub mod augment;
pub mod config;
pub mod conv;
pub mod correlation;
pub mod data;
pub mod infer;
pub mod losses;
pub mod mind;
pub mod model;
pub mod nets;
pub mod refine;
pub mod rng;
pub mod score;
pub mod spatial;
pub mod tensor;
pub mod train;
