//! Bad input: every broken file gives an error naming the file and the problem, never a panic.

mod common;

use std::path::{Path, PathBuf};
use warpbench::volume::landmarks::{IndexBase, LandmarkFormat, LandmarkSet};
use warpbench::volume::nifti_io::{read_info, read_labels, read_scalar, write_scalar};
use warpbench::volume::{Grid, ScalarVolume};

fn good_file(dir: &Path) -> Vec<u8> {
    let grid = Grid::axis_aligned([4, 4, 4], [1.0; 3], [0.0; 3]).unwrap();
    let path = dir.join("good.nii");
    write_scalar(
        &path,
        &ScalarVolume::new(grid, (0..64).map(|v| v as f32).collect()).unwrap(),
    )
    .unwrap();
    std::fs::read(path).unwrap()
}

/// Writes `bytes` as `name`, reads it as a scalar image and returns the error text, asserting that
/// it names the file and contains `expect`.
fn expect_error(dir: &Path, name: &str, bytes: &[u8], expect: &str) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let err = read_scalar(&path).expect_err(name).to_string();
    assert!(err.contains(name), "error does not name the file: {err}");
    assert!(
        err.to_lowercase().contains(expect),
        "error for {name} lacks {expect:?}: {err}"
    );
}

fn patch(mut bytes: Vec<u8>, at: usize, with: &[u8]) -> Vec<u8> {
    bytes[at..at + with.len()].copy_from_slice(with);
    bytes
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn broken_nifti_files_name_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = good_file(d);
    expect_error(d, "empty.nii", &[], "truncated");
    expect_error(d, "short_header.nii", &good[..200], "truncated");
    expect_error(d, "short_data.nii", &good[..good.len() - 10], "truncated");
    expect_error(
        d,
        "short_data.nii.gz",
        &gz(&good[..good.len() - 10]),
        "truncated",
    );
    expect_error(
        d,
        "magic.nii",
        &patch(good.clone(), 344, b"xyz\0"),
        "header",
    );
    expect_error(
        d,
        "sizeof.nii",
        &patch(good.clone(), 0, &123i32.to_le_bytes()),
        "not a nifti-1",
    );
    expect_error(
        d,
        "nifti2.nii",
        &patch(good.clone(), 0, &540i32.to_le_bytes()),
        "nifti-2",
    );
    expect_error(
        d,
        "zero_dim.nii",
        &patch(good.clone(), 44, &0i16.to_le_bytes()),
        "dimension 2 is 0",
    );
    expect_error(
        d,
        "neg_dim.nii",
        &patch(good.clone(), 42, &(-4i16).to_le_bytes()),
        "dimension 1 is -4",
    );
    expect_error(
        d,
        "ndim.nii",
        &patch(good.clone(), 40, &0i16.to_le_bytes()),
        "dim[0]",
    );
    expect_error(
        d,
        "zero_spacing.nii",
        &patch(good.clone(), 80, &0f32.to_le_bytes()),
        "spacing",
    );
    expect_error(
        d,
        "neg_spacing.nii",
        &patch(good.clone(), 84, &(-1f32).to_le_bytes()),
        "spacing",
    );
    expect_error(
        d,
        "nan_affine.nii",
        &patch(good.clone(), 284, &f32::NAN.to_le_bytes()),
        "nan",
    );
    expect_error(
        d,
        "inf_affine.nii",
        &patch(good.clone(), 300, &f32::INFINITY.to_le_bytes()),
        "nan or infinite",
    );
    let singular = patch(
        patch(patch(good.clone(), 280, &[0; 16]), 296, &[0; 16]),
        312,
        &[0; 16],
    );
    expect_error(d, "singular.nii", &singular, "singular");
    expect_error(
        d,
        "dtype.nii",
        &patch(good.clone(), 70, &1536i16.to_le_bytes()),
        "unsupported datatype",
    );
    expect_error(
        d,
        "offset.nii",
        &patch(good.clone(), 108, &100f32.to_le_bytes()),
        "vox_offset",
    );
    let nan_data = patch(good.clone(), 352 + 4 * 7, &f32::NAN.to_le_bytes());
    expect_error(d, "nan_data.nii", &nan_data, "nan or infinite");
    let mut corrupt = gz(&good);
    let mid = corrupt.len() / 2;
    corrupt[mid..mid + 8].copy_from_slice(&[0xFF; 8]);
    expect_error(d, "corrupt.nii.gz", &corrupt, "");
    expect_error(d, "garbage.nii.gz", &[0x1f, 0x8b, 1, 2, 3], "");
}

#[test]
fn huge_dimensions_are_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = good_file(d);
    // 7D of 32767 each overflows usize; 3 × 32767 needs 140 TB.
    let mut overflow = patch(good.clone(), 40, &7i16.to_le_bytes());
    for a in 1..=7 {
        overflow = patch(overflow, 40 + 2 * a, &32767i16.to_le_bytes());
    }
    expect_error(d, "overflow.nii", &overflow, "overflow");
    let mut huge = good.clone();
    for a in 1..=3 {
        huge = patch(huge, 40 + 2 * a, &32767i16.to_le_bytes());
    }
    let path = d.join("huge.nii");
    std::fs::write(&path, &huge).unwrap();
    let err = read_scalar(&path).unwrap_err().to_string();
    assert!(
        err.contains("huge.nii") && (err.contains("GiB") || err.contains("truncated")),
        "{err}"
    );
    // The header alone is fine to read.
    assert_eq!(read_info(&path).unwrap().dims, vec![32767; 3]);
}

#[test]
fn missing_file_and_fractional_labels() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.nii.gz");
    assert!(
        read_scalar(&missing)
            .unwrap_err()
            .to_string()
            .contains("nope.nii.gz")
    );
    let grid = Grid::axis_aligned([2, 2, 2], [1.0; 3], [0.0; 3]).unwrap();
    let path = dir.path().join("frac.nii");
    write_scalar(&path, &ScalarVolume::filled(grid, 1.5)).unwrap();
    let err = read_labels(&path).unwrap_err().to_string();
    assert!(
        err.contains("frac.nii") && err.contains("not an integer"),
        "{err}"
    );
}

fn landmark_error(dir: &Path, name: &str, text: &str, format: LandmarkFormat, expect: &str) {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let grid = Grid::axis_aligned([2, 2, 2], [1.0; 3], [0.0; 3]).unwrap();
    let err = LandmarkSet::read_as(&path, format, Some(&grid))
        .expect_err(name)
        .to_string();
    assert!(err.contains(name), "{err}");
    assert!(
        err.contains(expect),
        "error for {name} lacks {expect:?}: {err}"
    );
}

#[test]
fn broken_landmark_files_name_the_file_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    landmark_error(
        d,
        "row.csv",
        "x,y,z\n1,2,3\n4,five,6\n",
        LandmarkFormat::Csv,
        "line 3",
    );
    landmark_error(
        d,
        "short.csv",
        "x,y,z\n1,2\n",
        LandmarkFormat::Csv,
        "line 2: expected at least 3",
    );
    landmark_error(
        d,
        "nan.csv",
        "x,y,z\n1,NaN,3\n",
        LandmarkFormat::Csv,
        "NaN or infinite",
    );
    landmark_error(
        d,
        "noz.csv",
        "x,y,name\n1,2,a\n",
        LandmarkFormat::Csv,
        "no \"z\" column",
    );
    landmark_error(
        d,
        "bad.fcsv",
        "# CoordinateSystem = LPS\nvtkMRMLMarkupsFiducialNode_0,1,2,x,0,0,0,1,1,1,0,F-1,,\n",
        LandmarkFormat::SlicerFcsv,
        "line 2",
    );
    landmark_error(
        d,
        "cs.fcsv",
        "# CoordinateSystem = XYZ\n",
        LandmarkFormat::SlicerFcsv,
        "coordinate system",
    );
    landmark_error(
        d,
        "bad.mrk.json",
        "{\"markups\": [",
        LandmarkFormat::SlicerJson,
        "not a Slicer markups file",
    );
    landmark_error(
        d,
        "vox.txt",
        "1 2 3\n4 5\n",
        LandmarkFormat::VoxelText(IndexBase::Zero),
        "line 2",
    );
    let path = d.join("noimage.txt");
    std::fs::write(&path, "1 2 3\n").unwrap();
    let err =
        LandmarkSet::read_as(&path, LandmarkFormat::VoxelText(IndexBase::One), None).unwrap_err();
    assert!(err.to_string().contains("need an image"), "{err}");
}

/// The fuzz targets' entry points on deterministic mutations of valid files (bit flips, byte
/// overwrites with boundary values, truncations), so CI exercises them without a fuzzer.
#[test]
fn mutated_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let good = good_file(dir.path());
    let mut rng = common::Rng::new(77);
    let name = Path::new("mutant.nii");
    let specials: [&[u8]; 6] = [
        &[0xFF, 0xFF],
        &[0x00, 0x80],
        &[0x7F, 0xFF],
        &[0, 0, 0xC0, 0x7F],
        &[0, 0, 0x80, 0x7F],
        &[0x80],
    ];
    for round in 0..4000 {
        let mut bytes = if round % 2 == 0 {
            good.clone()
        } else {
            gz(&good)
        };
        for _ in 0..1 + (rng.next_f64() * 4.0) as usize {
            let limit = if round % 2 == 0 { 352 } else { bytes.len() };
            let at = (rng.next_f64() * limit as f64) as usize % bytes.len();
            if rng.next_f64() < 0.5 {
                bytes[at] ^= 1 << (rng.next_f64() * 8.0) as u32;
            } else {
                let s =
                    specials[(rng.next_f64() * specials.len() as f64) as usize % specials.len()];
                let end = (at + s.len()).min(bytes.len());
                bytes[at..end].copy_from_slice(&s[..end - at]);
            }
        }
        if rng.next_f64() < 0.1 {
            bytes.truncate((rng.next_f64() * bytes.len() as f64) as usize);
        }
        let _ = warpbench::volume::nifti_io::read_scalar_bytes(name, &bytes);
        let _ = warpbench::volume::nifti_io::read_labels_bytes(name, &bytes);
    }
    let grid = Grid::axis_aligned([4, 4, 4], [1.0; 3], [0.0; 3]).unwrap();
    let seeds: [(&str, LandmarkFormat); 4] = [
        ("x,y,z,name\n1,2,3,a\n4,5,6,b\n", LandmarkFormat::Csv),
        (
            "# CoordinateSystem = LPS\n# columns = id,x,y,z,label\n1,2,3,4,a\n",
            LandmarkFormat::SlicerFcsv,
        ),
        (
            r#"{"markups":[{"coordinateSystem":"RAS","controlPoints":[{"label":"a","position":[1,2,3]}]}]}"#,
            LandmarkFormat::SlicerJson,
        ),
        ("1 2 3\n4 5 6\n", LandmarkFormat::VoxelText(IndexBase::One)),
    ];
    for round in 0..4000 {
        let (seed, format) = seeds[round % seeds.len()];
        let mut bytes = seed.as_bytes().to_vec();
        for _ in 0..1 + (rng.next_f64() * 3.0) as usize {
            let at = (rng.next_f64() * bytes.len() as f64) as usize % bytes.len();
            bytes[at] = b",\n#=.-e9x\"[]{}0"[(rng.next_f64() * 15.0) as usize % 15];
        }
        let _ = LandmarkSet::parse(Path::new("mutant"), format, &bytes, Some(&grid));
    }
}
