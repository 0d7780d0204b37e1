//! The side panels: display settings, registration (with its smoothness sweep), network training,
//! landmarks, metrics (with the case's results), the images (with their joint histogram), the
//! open-case form, the session window, and the typed-path field they share.

pub mod display;
pub mod history_plot;
pub mod images;
pub mod joint_histogram;
pub mod landmarks;
pub mod metrics;
pub mod open;
pub mod path_field;
pub mod registration;
pub mod results;
pub mod session;
pub mod sort;
pub mod sweep;
pub mod training;
pub mod window_histogram;
