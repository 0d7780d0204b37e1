//! The shared GPU device and the compute kernels that run on it.

pub mod buffer;
pub mod context;
pub mod kernel;
pub mod kernels;
pub mod pacing;
pub mod shaders;
pub mod slabs;

pub use context::GpuContext;
