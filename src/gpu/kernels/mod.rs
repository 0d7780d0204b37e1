//! One module per compute shader: parameters, pipeline and dispatch.

pub mod jacobian;
pub mod smooth;
pub mod warp;
