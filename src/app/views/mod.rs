//! The window's views.

pub mod slice;
