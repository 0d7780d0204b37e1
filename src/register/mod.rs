//! Classical (instance-optimisation) registration on the GPU: pyramid, deformable stage.

pub mod deformable;
pub mod pyramid;
