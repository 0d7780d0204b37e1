//! Fuzz the NIfTI header and data decoding: any bytes give a volume or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let name = Path::new("fuzz.nii");
    let _ = warpbench::volume::nifti_io::read_scalar_bytes(name, data);
    let _ = warpbench::volume::nifti_io::read_labels_bytes(name, data);
});
