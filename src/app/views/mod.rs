//! The slice views: plane geometry, display settings, colour maps, slice composition and the
//! interactive views themselves.

pub mod colour;
pub mod compose;
pub mod display;
pub mod slice;
pub mod viewer;
