//! One module per kernel (a shader, or a few that work together): parameters, pipelines and
//! dispatch, and a CPU reference where the reference is not an engine function already.

pub mod adam;
pub mod affine_gradient;
pub mod field_gradient;
pub mod jacobian;
pub mod label_dice;
pub mod mind;
pub mod normalised_step;
pub mod reduce;
pub mod regularisers;
pub mod similarity;
pub mod smooth;
pub mod velocity;
pub mod warp;
