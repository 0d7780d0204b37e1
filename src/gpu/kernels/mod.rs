//! One module per compute shader: parameters, pipeline and dispatch, and a CPU reference where the
//! reference is not an engine function already.

pub mod adam;
pub mod affine_gradient;
pub mod field_gradient;
pub mod jacobian;
pub mod normalised_step;
pub mod reduce;
pub mod regularisers;
pub mod similarity;
pub mod smooth;
pub mod velocity;
pub mod warp;
