//! One module per compute shader: parameters, pipeline and dispatch.

pub mod resample;
