//! Fuzz the landmark parsers (CSV, Slicer .fcsv and .mrk.json, voxel text): no input panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use warpbench::volume::Grid;
use warpbench::volume::landmarks::{IndexBase, LandmarkFormat, LandmarkSet};

fuzz_target!(|data: &[u8]| {
    let grid = Grid::axis_aligned([10, 10, 10], [1.0, 2.0, 3.0], [0.0; 3]).expect("valid grid");
    for format in [
        LandmarkFormat::Csv,
        LandmarkFormat::SlicerFcsv,
        LandmarkFormat::SlicerJson,
        LandmarkFormat::VoxelText(IndexBase::One),
    ] {
        let _ = LandmarkSet::parse(Path::new("fuzz"), format, data, Some(&grid));
    }
});
