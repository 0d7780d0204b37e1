//! Volumes in physical space and their file formats.

pub mod affine_io;
pub mod filter;
pub mod grid;
pub mod histogram;
pub mod image;
pub mod label_table;
pub mod landmarks;
pub mod mind;
pub mod modality;
pub mod nifti_io;
pub mod resample;
pub mod velocity;
pub mod warp;

pub use grid::{Affine, Grid};
pub use image::{ChannelMerge, LabelSite, LabelVolume, ScalarVolume, VectorField};
pub use label_table::LabelTable;
pub use landmarks::{Landmark, LandmarkSet};
