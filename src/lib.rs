//! Warpbench: a workbench for medical image registration.
//!
//! Modules depend one way: `volume` (grids, images, file formats) → `gpu` (the shared device and
//! kernels) → `demo` and `case` (what a user opens) → `cli` and `app`. Everything but `app` is
//! free of UI code, so the CLI and the tests drive the engine directly; `tests/architecture.rs`
//! enforces it. The layout follows
//! `architecture-models.md` of the design notes; the engine stages (registration, evaluation,
//! learning, sessions) join between `gpu` and the front ends as they are built.
//!
//! Beside the design card's top level, `vendor/egui-wgpu` holds egui-wgpu as published with one
//! shader patch (its `WARPBENCH.md` says why): the only dependency not used as published.

// Geometry code indexes several 3-arrays by the same axis; iterator chains there read worse.
#![allow(clippy::needless_range_loop)]

pub mod app;
pub mod atomic;
pub mod case;
pub mod cli;
pub mod demo;
pub mod error;
pub mod eval;
pub mod gpu;
pub mod learn;
pub mod parallel;
pub mod register;
pub mod session;
pub mod volume;

pub use error::{Error, Result};
