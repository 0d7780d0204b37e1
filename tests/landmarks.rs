//! Landmark formats: round trips, LPS/RAS conversion, voxel indices, pairing.

use warpbench::volume::landmarks::{IndexBase, LandmarkFormat, LandmarkSet, pair_landmarks};
use warpbench::volume::{Affine, Grid, Landmark};

fn sample() -> LandmarkSet {
    LandmarkSet {
        points: vec![
            Landmark {
                name: Some("nose".into()),
                world_mm: [1.5, -20.25, 33.0],
            },
            Landmark {
                name: Some("left ear".into()),
                world_mm: [-70.0, 0.125, 1e-3],
            },
            Landmark {
                name: None,
                world_mm: [0.0, 0.0, -5.5],
            },
        ],
    }
}

#[test]
fn every_format_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let grid = Grid::new(
        [50, 50, 50],
        Affine::from_linear_translation(
            [[-1.0, 0.0, 0.0], [0.0, 0.0, 2.0], [0.0, -1.5, 0.0]],
            [40.0, -60.0, 30.0],
        ),
    )
    .unwrap();
    for name in ["a.csv", "a.fcsv", "a.mrk.json", "a.txt"] {
        let path = dir.path().join(name);
        let set = sample();
        set.write(&path, Some(&grid)).unwrap();
        let back = LandmarkSet::read(&path, Some(&grid)).unwrap();
        assert_eq!(back.len(), 3, "{name}");
        for (a, b) in set.points.iter().zip(&back.points) {
            assert!(
                (0..3).all(|i| (a.world_mm[i] - b.world_mm[i]).abs() < 1e-9),
                "{name}: {a:?} vs {b:?}"
            );
        }
        if name != "a.txt" {
            assert_eq!(back.points[0].name.as_deref(), Some("nose"), "{name}");
        }
    }
}

#[test]
fn slicer_lps_files_convert_to_ras() {
    let dir = tempfile::tempdir().unwrap();
    let fcsv = dir.path().join("p.fcsv");
    std::fs::write(
        &fcsv,
        "# Markups fiducial file version = 5.0\n# CoordinateSystem = LPS\n\
         # columns = id,x,y,z,ow,ox,oy,oz,vis,sel,lock,label,desc,associatedNodeID\n\
         vtkMRMLMarkupsFiducialNode_0,10,20,30,0,0,0,1,1,1,0,F-1,,\n",
    )
    .unwrap();
    let set = LandmarkSet::read(&fcsv, None).unwrap();
    assert_eq!(set.points[0].world_mm, [-10.0, -20.0, 30.0]);
    assert_eq!(set.points[0].name.as_deref(), Some("F-1"));

    let json = dir.path().join("p.mrk.json");
    std::fs::write(
        &json,
        r#"{"@schema": "x", "markups": [{"type": "Fiducial", "coordinateSystem": "LPS",
            "controlPoints": [{"id": "1", "label": "A", "position": [1.0, 2.0, 3.0]}]}]}"#,
    )
    .unwrap();
    assert_eq!(
        LandmarkSet::read(&json, None).unwrap().points[0].world_mm,
        [-1.0, -2.0, 3.0]
    );
}

#[test]
fn csv_without_header_and_reordered_columns() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.csv");
    std::fs::write(&plain, "1,2,3\n4,5,6,b\n").unwrap();
    let set = LandmarkSet::read(&plain, None).unwrap();
    assert_eq!(set.points[1].world_mm, [4.0, 5.0, 6.0]);
    assert_eq!(set.points[1].name.as_deref(), Some("b"));
    let reordered = dir.path().join("r.csv");
    std::fs::write(&reordered, "name,z,y,x\nq,3,2,1\n").unwrap();
    let set = LandmarkSet::read(&reordered, None).unwrap();
    assert_eq!(set.points[0].world_mm, [1.0, 2.0, 3.0]);
    assert_eq!(set.points[0].name.as_deref(), Some("q"));
}

#[test]
fn voxel_indices_convert_through_the_grid_with_either_base() {
    let dir = tempfile::tempdir().unwrap();
    let grid = Grid::axis_aligned([10, 10, 10], [2.0, 2.0, 3.0], [-10.0, 5.0, 0.0]).unwrap();
    let path = dir.path().join("v.txt");
    std::fs::write(&path, "1 2 3\n").unwrap();
    let zero = LandmarkSet::read_as(
        &path,
        LandmarkFormat::VoxelText(IndexBase::Zero),
        Some(&grid),
    )
    .unwrap();
    assert_eq!(zero.points[0].world_mm, [-8.0, 9.0, 9.0]);
    let one = LandmarkSet::read_as(
        &path,
        LandmarkFormat::VoxelText(IndexBase::One),
        Some(&grid),
    )
    .unwrap();
    assert_eq!(one.points[0].world_mm, [-10.0, 7.0, 6.0]);
}

#[test]
fn pairs_by_name_else_by_order() {
    let fixed = sample();
    let mut moving = sample();
    moving.points.reverse();
    // One point is unnamed, so pairing falls back to order.
    assert_eq!(
        pair_landmarks(&fixed, &moving).unwrap(),
        vec![(0, 0), (1, 1), (2, 2)]
    );
    let mut fixed_named = fixed.clone();
    fixed_named.points[2].name = Some("chin".into());
    let mut moving_named = fixed_named.clone();
    moving_named.points.reverse();
    assert_eq!(
        pair_landmarks(&fixed_named, &moving_named).unwrap(),
        vec![(0, 2), (1, 1), (2, 0)]
    );
    moving_named.points.pop();
    moving_named.points[0].name = Some("other".into());
    assert!(pair_landmarks(&fixed, &moving_named).is_err());
}
