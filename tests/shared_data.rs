//! Real data from `../shared/data` (or `WARPBENCH_DATA`): `info --json` agrees with nibabel.
//!
//! `tests/reference/nibabel_info.json` was written by `tests/reference/nibabel_info.py` (nibabel
//! 5.4.2) from the same files: dims, voxel sizes, affine, `aff2axcodes`, `get_fdata()` range and
//! the world bounds of the voxel centres.

mod common;

use serde_json::Value;
use warpbench::cli::info::image_summary;

fn reference() -> Value {
    let text = include_str!("reference/nibabel_info.json");
    serde_json::from_str(text).unwrap()
}

fn close(a: &Value, b: &Value, tol: f64, what: &str, file: &str) {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{file}: {what} length");
            for (p, q) in x.iter().zip(y) {
                close(p, q, tol, what, file);
            }
        }
        _ => {
            let (x, y) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!(
                (x - y).abs() <= tol * (1.0 + y.abs()),
                "{file}: {what} {x} vs nibabel {y}"
            );
        }
    }
}

#[test]
fn info_matches_nibabel_on_every_shared_image() {
    let Some(dir) = common::shared_data() else {
        return;
    };
    let reference = reference();
    let files = reference["files"].as_object().unwrap();
    assert!(files.len() >= 23);
    for (name, expected) in files {
        let path = common::shared_file(&dir, name);
        let ours = image_summary(&path).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert_eq!(ours["dims"], expected["dims"], "{name}: dims");
        assert_eq!(
            ours["orientation"], expected["orientation"],
            "{name}: orientation"
        );
        assert_eq!(ours["dtype"], expected["dtype"], "{name}: dtype");
        close(
            &ours["spacing"],
            &expected["spacing"],
            1e-6,
            "spacing",
            name,
        );
        close(
            &ours["spacing"],
            &expected["zooms"],
            1e-4,
            "spacing vs zooms",
            name,
        );
        close(&ours["affine"], &expected["affine"], 1e-4, "affine", name);
        close(&ours["min"], &expected["min"], 1e-6, "min", name);
        close(&ours["max"], &expected["max"], 1e-6, "max", name);
        close(
            &ours["world_min"],
            &expected["world_min"],
            1e-4,
            "world_min",
            name,
        );
        close(
            &ours["world_max"],
            &expected["world_max"],
            1e-4,
            "world_max",
            name,
        );
    }
}

#[test]
fn every_shared_image_is_covered_by_the_reference() {
    let Some(dir) = common::shared_data() else {
        return;
    };
    let reference = reference();
    let files = reference["files"].as_object().unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let sub = entry.unwrap().path();
        if !sub.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&sub).unwrap() {
            let file = file.unwrap().path();
            if file.to_string_lossy().ends_with(".nii.gz") {
                let rel = file
                    .strip_prefix(&dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                assert!(
                    files.contains_key(&rel),
                    "{rel} is not in nibabel_info.json: rerun nibabel_info.py"
                );
            }
        }
    }
}

#[test]
fn four_d_label_file_reads_as_channels_and_as_one_map() {
    let Some(dir) = common::shared_data() else {
        return;
    };
    let path = common::shared_file(&dir, "headneck-ct/label_4d.nii.gz");
    let channels = warpbench::volume::nifti_io::read_label_channels(&path).unwrap();
    assert_eq!(channels.len(), 2);
    for c in &channels {
        assert_eq!(c.grid().dims(), [128, 128, 37]);
        assert!(!c.ids().is_empty(), "an empty channel");
    }
    // Two binary masks: one map with ids 1 and 2, every voxel of each channel kept.
    let merged = warpbench::volume::nifti_io::read_labels(&path).unwrap();
    assert_eq!(merged.ids(), [1, 2]);
    for (c, channel) in channels.iter().enumerate() {
        let inside = |l: &warpbench::volume::LabelVolume, id: i32| -> Vec<usize> {
            (0..l.data().len()).filter(|&n| l.data()[n] == id).collect()
        };
        assert_eq!(inside(&merged, c as i32 + 1), inside(channel, 1));
    }
}

#[test]
fn brain_pair_shares_world_space_despite_different_grids() {
    // subjB is 256³ LIA, subjA 160×192×224 LIA: resampling B's labels onto A's grid through world
    // space must keep B's anatomy where it is (the label volumes agree in their centroids).
    let Some(dir) = common::shared_data() else {
        return;
    };
    use warpbench::volume::nifti_io::read_labels;
    let b = read_labels(&common::shared_file(&dir, "brain-pair/subjB_aseg.nii.gz")).unwrap();
    let a = read_labels(&common::shared_file(&dir, "brain-pair/subjA_aseg.nii.gz")).unwrap();
    let on_a = warpbench::volume::resample::resample_labels(&b, a.grid());
    let centroid = |l: &warpbench::volume::LabelVolume| {
        let [nx, ny, _] = l.grid().dims();
        let mut sum = [0.0; 3];
        let mut n = 0.0;
        for (i, &v) in l.data().iter().enumerate() {
            if v != 0 {
                let w = l.grid().voxel_to_world([
                    (i % nx) as f64,
                    ((i / nx) % ny) as f64,
                    (i / (nx * ny)) as f64,
                ]);
                (0..3).for_each(|a| sum[a] += w[a]);
                n += 1.0;
            }
        }
        sum.map(|s| s / n)
    };
    let (cb, ca) = (centroid(&b), centroid(&on_a));
    assert!(
        (0..3).all(|i| (cb[i] - ca[i]).abs() < 1.0),
        "{cb:?} vs {ca:?}"
    );
}

#[test]
fn the_brain_pair_float_t1_is_binned_by_its_8_bit_levels() {
    // subjA_t1 holds k/255 as float32: each histogram bin must hold one level, so that a bin is
    // empty only where the image has no voxel of its level.
    let Some(dir) = common::shared_data() else {
        return;
    };
    use warpbench::volume::histogram::{Histogram, level_step};
    use warpbench::volume::nifti_io::read_scalar;
    let t1 = read_scalar(&common::shared_file(&dir, "brain-pair/subjA_t1.nii.gz")).unwrap();
    let step = level_step(t1.data()).expect("a lattice of levels");
    assert!((step - 1.0 / 255.0).abs() < 1e-7, "{step}");
    let h = Histogram::of(t1.data(), 256);
    assert!((h.width - step).abs() < 1e-9);
    let levels: std::collections::BTreeSet<i64> = t1
        .data()
        .iter()
        .map(|&v| (v as f64 * 255.0).round() as i64)
        .collect();
    let lo = *levels.first().unwrap();
    let empty: Vec<usize> = (0..h.counts.len()).filter(|&i| h.counts[i] == 0).collect();
    let missing: Vec<usize> = (0..h.counts.len())
        .filter(|&i| !levels.contains(&(lo + i as i64)))
        .collect();
    assert_eq!(empty, missing);
}

#[test]
fn the_aal_atlas_names_its_regions() {
    let Some(dir) = common::shared_data() else {
        return;
    };
    let path = dir.join("mni152-aal/aal_labels.txt");
    let table = warpbench::volume::LabelTable::read(&path).unwrap();
    assert_eq!(table.name(1), Some("Precentral_L"));
    assert_eq!(table.colour(1), None);
    let labels =
        warpbench::volume::nifti_io::read_labels(&dir.join("mni152-aal/mni152_aal.nii.gz"))
            .unwrap();
    let ids = labels.ids();
    assert_eq!(ids.len(), 116);
    assert!(
        ids.iter().all(|&id| table.name(id).is_some()),
        "every region is named"
    );
}

#[test]
fn a_freesurfer_destrieux_parcellation_is_named_without_a_colour_table() {
    let Some(dir) = common::shared_data() else {
        return;
    };
    let path = dir.join("brain-pair/subjB_aparc_a2009s_aseg.nii.gz");
    let table = warpbench::volume::LabelTable::guess_for([path.as_path()]);
    let labels = warpbench::volume::nifti_io::read_labels(&path).unwrap();
    let ids = labels.ids();
    assert_eq!(
        ids.len(),
        188,
        "40 subcortical labels and 2 × 74 cortical parcels"
    );
    let unnamed: Vec<i32> = ids
        .iter()
        .copied()
        .filter(|&id| table.name(id).is_none() || table.colour(id).is_none())
        .collect();
    assert!(
        unnamed.is_empty(),
        "labels without a name or colour: {unnamed:?}"
    );
    assert_eq!(table.name(12146), Some("ctx_rh_S_central"));
}

#[test]
fn each_shared_pair_gets_the_preset_made_for_its_modalities() {
    let Some(dir) = common::shared_data() else {
        return;
    };
    use warpbench::register::preset_choice::PresetChoice;
    use warpbench::volume::nifti_io::read_scalar;
    let choose = |fixed: &str, moving: &str| {
        let (f, m) = (
            common::shared_file(&dir, fixed),
            common::shared_file(&dir, moving),
        );
        let (fi, mi) = (read_scalar(&f).unwrap(), read_scalar(&m).unwrap());
        PresetChoice::for_images((&fi, Some(&f)), (&mi, Some(&m)))
    };
    // The porcine CT is in Hounsfield units; the Visible Human CT is not, and its name tells.
    let porcine = choose(
        "ct-mr-porcine/ct_1mm.nii.gz",
        "ct-mr-porcine/mr_t2_1mm.nii.gz",
    );
    assert_eq!(porcine.name, "ct-mr", "{}", porcine.reason);
    assert!(porcine.reason.contains("Hounsfield"), "{}", porcine.reason);
    let visible = choose(
        "ct-mr-visible-male/vm_head_mri.nii.gz",
        "ct-mr-visible-male/vm_head_ct.nii.gz",
    );
    assert_eq!(visible.name, "ct-mr", "{}", visible.reason);
    assert!(visible.reason.contains("file name"), "{}", visible.reason);
    let contrasts = choose(
        "mr-multicontrast/chris_t1.nii.gz",
        "mr-multicontrast/chris_PD.nii.gz",
    );
    assert_eq!(contrasts.name, "mr-multicontrast", "{}", contrasts.reason);
    let brains = choose("brain-pair/subjA_t1.nii.gz", "brain-pair/subjB_t1.nii.gz");
    assert_eq!(brains.name, "brain-mri", "{}", brains.reason);
    let headneck = choose("headneck-ct/image.nii.gz", "headneck-ct/image.nii.gz");
    assert_eq!(headneck.name, "lung-ct", "{}", headneck.reason);
    let prostate = choose(
        "prostate-mr-pair/image0.nii.gz",
        "prostate-mr-pair/image1.nii.gz",
    );
    assert_eq!(prostate.name, "brain-mri", "{}", prostate.reason);
}
