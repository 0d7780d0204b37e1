//! Learning-based registration in burn, on the device the app and our kernels share: the 3D
//! spatial operations and losses the networks are trained with.
//!
//! Tensors are `[batch, channel, k, j, i]`; displacements are in voxels of the tensor's lattice
//! (see [`tensor`]). Results leave this module as the engine's types (a displacement in mm on the
//! fixed grid), so evaluation and output files are those of `register`.

pub mod losses;
pub mod spatial;
pub mod tensor;
