//! The slice views: plane geometry, display settings, colour maps, slice composition, rulers and
//! the interactive views themselves.

pub mod colour;
pub mod compose;
pub mod display;
pub mod ruler;
pub mod slice;
pub mod viewer;
