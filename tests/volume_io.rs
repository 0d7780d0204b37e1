//! NIfTI round trips, header rules, world-space consistency and resampling on generated data.

mod common;

use common::{Rng, oblique_grid, random_volume};
use warpbench::volume::nifti_io::{
    read_info, read_label_channels, read_labels, read_scalar, read_vector_field, write_labels,
    write_scalar, write_vector_field,
};
use warpbench::volume::resample::{resample_field, resample_labels, resample_scalar};
use warpbench::volume::{Affine, Grid, LabelVolume, ScalarVolume, VectorField};

#[test]
fn scalar_round_trip_is_bit_exact_with_affine_to_1e6() {
    let dir = tempfile::tempdir().unwrap();
    let vol = random_volume(oblique_grid([13, 11, 7]), 1);
    for name in ["a.nii", "a.nii.gz"] {
        let path = dir.path().join(name);
        write_scalar(&path, &vol).unwrap();
        let back = read_scalar(&path).unwrap();
        assert_eq!(back.grid().dims(), vol.grid().dims());
        let diff = back
            .grid()
            .world_from_voxel()
            .max_abs_diff(vol.grid().world_from_voxel());
        assert!(diff < 1e-5, "affine differs by {diff}");
        let bits = |v: &ScalarVolume| v.data().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&vol));
    }
}

#[test]
fn written_qform_agrees_with_sform() {
    // The writer stores the rotation as a quaternion too; a reader preferring the qform must land
    // on the same geometry.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.nii");
    let grid = oblique_grid([5, 6, 7]);
    write_scalar(&path, &ScalarVolume::filled(grid.clone(), 1.0)).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[254..256].copy_from_slice(&0i16.to_le_bytes()); // sform_code = 0 → qform is used
    std::fs::write(&path, &bytes).unwrap();
    let info = read_info(&path).unwrap();
    assert_eq!(
        info.affine_source,
        warpbench::volume::nifti_io::AffineSource::Qform
    );
    let diff = info
        .grid
        .world_from_voxel()
        .max_abs_diff(grid.world_from_voxel());
    assert!(diff < 1e-4, "qform affine differs by {diff}");
}

#[test]
fn labels_and_vector_fields_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let grid = oblique_grid([9, 8, 7]);
    for (scale, offset) in [(1, 0), (200, -3), (100_000, 0)] {
        let data = (0..grid.voxel_count())
            .map(|i| (i as i32 % 5) * scale + offset)
            .collect();
        let labels = LabelVolume::new(grid.clone(), data).unwrap();
        let path = dir.path().join("l.nii.gz");
        write_labels(&path, &labels).unwrap();
        assert_eq!(read_labels(&path).unwrap().data(), labels.data());
    }
    let mut rng = Rng::new(3);
    let data = (0..grid.voxel_count())
        .map(|_| std::array::from_fn(|_| rng.range(-5.0, 5.0) as f32))
        .collect();
    let field = VectorField::new(grid, data).unwrap();
    let path = dir.path().join("f.nii.gz");
    write_vector_field(&path, &field).unwrap();
    let info = read_info(&path).unwrap();
    assert_eq!(info.dims, vec![9, 8, 7, 1, 3]);
    assert_eq!(info.intent_code, 1007);
    assert_eq!(read_vector_field(&path).unwrap().data(), field.data());
}

#[test]
fn resampling_onto_own_grid_is_identity() {
    let vol = random_volume(oblique_grid([12, 10, 9]), 2);
    assert_eq!(resample_scalar(&vol, vol.grid(), 0.0).data(), vol.data());
    let labels = LabelVolume::new(
        vol.grid().clone(),
        vol.data().iter().map(|v| *v as i32).collect(),
    )
    .unwrap();
    assert_eq!(resample_labels(&labels, vol.grid()).data(), labels.data());
    let field = VectorField::new(
        vol.grid().clone(),
        vol.data().iter().map(|&v| [v, -v, 2.0 * v]).collect(),
    )
    .unwrap();
    assert_eq!(resample_field(&field, vol.grid()).data(), field.data());
}

#[test]
fn world_voxel_world_returns_to_itself() {
    let grid = oblique_grid([30, 20, 10]);
    let mut rng = Rng::new(4);
    for _ in 0..1000 {
        let p = [
            rng.range(-200.0, 200.0),
            rng.range(-200.0, 200.0),
            rng.range(-200.0, 200.0),
        ];
        let q = grid.voxel_to_world(grid.world_to_voxel(p));
        assert!(
            (0..3).all(|a| (p[a] - q[a]).abs() < 1e-9),
            "{p:?} came back as {q:?}"
        );
    }
}

/// Rewrites `vol` with its axes permuted by `perm` and flipped where `flip` says, changing the
/// affine to match, so every voxel keeps its world position.
fn permute_flip(vol: &ScalarVolume, perm: [usize; 3], flip: [bool; 3]) -> ScalarVolume {
    let src = vol.grid().dims();
    let dims: [usize; 3] = std::array::from_fn(|a| src[perm[a]]);
    // New index n maps to old index o: o[perm[a]] = flip[a] ? dims[a]-1-n[a] : n[a].
    let mut old_from_new = [[0.0; 4]; 4];
    old_from_new[3][3] = 1.0;
    for a in 0..3 {
        let (s, t) = if flip[a] {
            (-1.0, (dims[a] - 1) as f64)
        } else {
            (1.0, 0.0)
        };
        old_from_new[perm[a]][a] = s;
        old_from_new[perm[a]][3] = t;
    }
    let affine = vol
        .grid()
        .world_from_voxel()
        .then_after(&Affine(old_from_new));
    let grid = Grid::new(dims, affine).unwrap();
    let mut data = vec![0f32; vol.data().len()];
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                let n = [i, j, k];
                let mut o = [0usize; 3];
                for a in 0..3 {
                    o[perm[a]] = if flip[a] { dims[a] - 1 - n[a] } else { n[a] };
                }
                data[grid.index(i, j, k)] = vol.at(o[0], o[1], o[2]);
            }
        }
    }
    ScalarVolume::new(grid, data).unwrap()
}

#[test]
fn permuted_and_flipped_copy_resamples_back_identically() {
    let dir = tempfile::tempdir().unwrap();
    let vol = random_volume(oblique_grid([11, 9, 6]), 5);
    for (perm, flip) in [
        ([2, 0, 1], [true, false, true]),
        ([1, 2, 0], [false, true, false]),
        ([0, 1, 2], [true, true, true]),
    ] {
        let other = permute_flip(&vol, perm, flip);
        assert_ne!(other.grid().orientation(), vol.grid().orientation());
        let path = dir.path().join("p.nii.gz");
        write_scalar(&path, &other).unwrap();
        let reread = read_scalar(&path).unwrap();
        let back = resample_scalar(&reread, vol.grid(), f32::NAN);
        assert_eq!(back.data(), vol.data(), "perm {perm:?} flip {flip:?}");
    }
}

#[test]
fn trilinear_resampling_matches_a_linear_function() {
    // Trilinear interpolation reproduces any affine function of world position exactly (in the
    // interior), whatever the two grids' orientations.
    let source_grid = oblique_grid([20, 18, 16]);
    let f = |p: [f64; 3]| 2.0 * p[0] - 0.5 * p[1] + 0.25 * p[2] + 3.0;
    let data = (0..source_grid.voxel_count())
        .map(|n| {
            let [nx, ny, _] = source_grid.dims();
            let v = [
                (n % nx) as f64,
                ((n / nx) % ny) as f64,
                (n / (nx * ny)) as f64,
            ];
            f(source_grid.voxel_to_world(v)) as f32
        })
        .collect();
    let source = ScalarVolume::new(source_grid.clone(), data).unwrap();
    let c = source_grid.centre_mm();
    let target = Grid::axis_aligned(
        [10, 10, 10],
        [1.1, 0.7, 0.9],
        [c[0] - 5.0, c[1] - 3.0, c[2] - 4.0],
    )
    .unwrap();
    let out = resample_scalar(&source, &target, f32::NAN);
    for (n, &v) in out.data().iter().enumerate() {
        let p = target.voxel_to_world([(n % 10) as f64, ((n / 10) % 10) as f64, (n / 100) as f64]);
        assert!(v.is_finite(), "voxel {n} fell outside");
        assert!((v as f64 - f(p)).abs() < 1e-3, "voxel {n}: {v} vs {}", f(p));
    }
}

#[test]
fn header_rules_trailing_singleton_scaling_and_channels() {
    let dir = tempfile::tempdir().unwrap();
    let grid = Grid::axis_aligned([4, 3, 2], [1.0, 2.0, 3.0], [0.0; 3]).unwrap();
    let vol = ScalarVolume::new(grid.clone(), (0..24).map(|v| v as f32).collect()).unwrap();
    let path = dir.path().join("s.nii");
    write_scalar(&path, &vol).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    // 4D with a trailing singleton, and scl_slope = 2, scl_inter = -1.
    bytes[40..42].copy_from_slice(&4i16.to_le_bytes());
    bytes[48..50].copy_from_slice(&1i16.to_le_bytes());
    bytes[112..116].copy_from_slice(&2f32.to_le_bytes());
    bytes[116..120].copy_from_slice(&(-1f32).to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let back = read_scalar(&path).unwrap();
    assert_eq!(back.grid().dims(), [4, 3, 2]);
    assert_eq!(back.data()[5], 9.0);

    // Two channels: a scalar read refuses it, the label reader returns both.
    let mut two = bytes.clone();
    two[48..50].copy_from_slice(&2i16.to_le_bytes());
    two[112..116].copy_from_slice(&1f32.to_le_bytes());
    two[116..120].copy_from_slice(&0f32.to_le_bytes());
    two.extend_from_slice(bytemuck::cast_slice(
        &(0..24).map(|v| (v % 3) as f32).collect::<Vec<f32>>(),
    ));
    std::fs::write(&path, &two).unwrap();
    assert!(read_scalar(&path).is_err());
    let channels = read_label_channels(&path).unwrap();
    assert_eq!(channels.len(), 2);
    assert_eq!(channels[1].data()[4], 1);
    // The channels share ids 1 and 2: merged, each voxel takes its last channel's number.
    let merged = read_labels(&path).unwrap();
    let numbers: Vec<i32> = (0..24)
        .map(|n| match (channels[0].data()[n], channels[1].data()[n]) {
            (0, 0) => 0,
            (_, 0) => 1,
            _ => 2,
        })
        .collect();
    assert_eq!(merged.data(), numbers);

    // No sform, no qform: the pixdim diagonal.
    let mut plain = bytes;
    plain[252..256].copy_from_slice(&[0, 0, 0, 0]);
    std::fs::write(&path, &plain).unwrap();
    let info = read_info(&path).unwrap();
    assert_eq!(
        info.affine_source,
        warpbench::volume::nifti_io::AffineSource::Pixdim
    );
    assert_eq!(info.grid.spacing_mm(), [1.0, 2.0, 3.0]);
}

#[test]
fn big_endian_files_read_like_little_endian() {
    let dir = tempfile::tempdir().unwrap();
    let grid = Grid::axis_aligned([3, 2, 2], [1.0; 3], [0.0; 3]).unwrap();
    let vol = ScalarVolume::new(grid, (0..12).map(|v| v as f32 * 1.5 - 4.0).collect()).unwrap();
    let path = dir.path().join("le.nii");
    write_scalar(&path, &vol).unwrap();
    let le = std::fs::read(&path).unwrap();
    // Swap every header field of 2 or 4 bytes, then the data.
    let mut be = le.clone();
    let swap = |b: &mut Vec<u8>, at: usize, width: usize| b[at..at + width].reverse();
    for at in [
        0, 32, 56, 60, 64, 108, 112, 116, 124, 128, 132, 136, 140, 144,
    ] {
        swap(&mut be, at, 4);
    }
    for at in (40..56)
        .step_by(2)
        .chain([36, 68, 70, 72, 74, 120, 252, 254])
    {
        swap(&mut be, at, 2);
    }
    for at in (76..108).step_by(4).chain((256..328).step_by(4)) {
        swap(&mut be, at, 4);
    }
    for at in (352..le.len()).step_by(4) {
        swap(&mut be, at, 4);
    }
    std::fs::write(&path, &be).unwrap();
    assert_eq!(read_scalar(&path).unwrap(), vol);
}

#[test]
fn orientation_codes() {
    let make = |m: [[f64; 3]; 3]| {
        Grid::new([2, 2, 2], Affine::from_linear_translation(m, [0.0; 3])).unwrap()
    };
    assert_eq!(
        make([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]).orientation(),
        "RAS"
    );
    assert_eq!(
        make([[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]]).orientation(),
        "LPS"
    );
    assert_eq!(
        make([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]).orientation(),
        "LIA"
    );
}

#[test]
fn box_cover_measures_how_far_two_images_lie_over_each_other() {
    let grid = |dims: [usize; 3], origin: [f64; 3]| {
        Grid::axis_aligned(dims, [2.0, 2.0, 2.0], origin).unwrap()
    };
    let a = grid([11, 11, 11], [0.0; 3]);
    assert!((a.box_covered_by(&a) - 1.0).abs() < 1e-6);
    // Half of it along x: 10 of its 20 mm.
    let shifted = grid([11, 11, 11], [10.0, 0.0, 0.0]);
    assert!((a.box_covered_by(&shifted) - 0.5).abs() < 1e-6);
    let apart = grid([11, 11, 11], [100.0, 0.0, 0.0]);
    assert_eq!(a.box_covered_by(&apart), 0.0);
    // A small image inside a large one is covered whole; the large one only in part.
    let small = grid([3, 3, 3], [4.0, 4.0, 4.0]);
    assert!((small.box_covered_by(&a) - 1.0).abs() < 1e-6);
    assert!((a.box_covered_by(&small) - 0.008).abs() < 1e-6);
    // One slice inside the other's range is covered; beyond it, not.
    let slice = grid([11, 11, 1], [0.0, 0.0, 6.0]);
    assert!((slice.box_covered_by(&a) - 1.0).abs() < 1e-6);
    let slice_beyond = grid([11, 11, 1], [0.0, 0.0, 30.0]);
    assert_eq!(slice_beyond.box_covered_by(&a), 0.0);
}
