//! The side panels: display settings, registration, metrics, and the open-case form.

pub mod display;
pub mod metrics;
pub mod open;
pub mod registration;
