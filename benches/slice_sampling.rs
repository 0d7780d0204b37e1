//! Benchmark: sampling the three slices of a new snapshot through a whole displacement field, as
//! the views do: every layer sampled afresh against the moving side alone (the fixed layers kept
//! from the slices' earlier samples). On the brain pair, and on the lung CT (512 × 512 × 141)
//! against itself. `cargo bench --bench slice_sampling`; the data folder is `WARPBENCH_DATA` or
//! `../shared/data`.

mod common;

use common::{data_dir, median};
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use warpbench::app::pull::Pull;
use warpbench::app::views::compose::{Against, Sources, Wanted, sample};
use warpbench::app::views::display::FieldMap;
use warpbench::app::views::slice::{Plane, PlaneView};
use warpbench::case::{Case, CaseFiles};
use warpbench::eval::joint_histogram::Region;
use warpbench::volume::VectorField;

const RUNS: usize = 9;

fn main() {
    let data = data_dir();
    let pair = data.join("brain-pair");
    let brain = CaseFiles {
        fixed: Some(pair.join("subjA_t1.nii.gz")),
        moving: Some(pair.join("subjB_t1.nii.gz")),
        fixed_labels: Some(pair.join("subjA_aseg.nii.gz")),
        moving_labels: Some(pair.join("subjB_aseg.nii.gz")),
        ..Default::default()
    };
    let lung = data.join("lung-ct/ct_phase00.nii.gz");
    let lung = CaseFiles {
        fixed: Some(lung.clone()),
        moving: Some(lung),
        ..Default::default()
    };
    println!(
        "three slices of a new snapshot through a whole field, {} threads, median of {RUNS} (ms)",
        warpbench::parallel::threads()
    );
    println!(
        "| case | layers | pixels | every layer afresh | a new snapshot (fixed layers kept) |"
    );
    println!("|---|---|---|---|---|");
    for (name, files) in [("brain pair", brain), ("lung CT", lung)] {
        let case = match files.load(&AtomicBool::new(false), |_, _| {}) {
            Ok(case) => case,
            Err(e) => {
                eprintln!("slice_sampling: cannot load the {name}: {e}; set WARPBENCH_DATA");
                std::process::exit(1);
            }
        };
        bench(name, &case);
    }
}

fn bench(name: &str, case: &Case) {
    let grid = case.fixed.grid().clone();
    // A smooth field, so the moving points are spread as a registration's would be.
    let field = VectorField::new(
        grid.clone(),
        (0..grid.voxel_count())
            .map(|n| {
                let [i, j, k] = grid.voxel_of(n).map(|v| v as f32 / 20.0);
                [3.0 * j.sin(), 2.0 * k.cos(), 2.5 * i.sin()]
            })
            .collect(),
    )
    .expect("a field on the fixed grid");
    let sources = Sources {
        pull: Pull::Whole(&field),
        // Sampled only where a layer below asks for a kept result to compare against.
        against: Some(Pull::Whole(&field)),
        fixed: &case.fixed,
        moving: &case.moving,
        fixed_labels: case.fixed_labels.as_deref(),
        moving_labels: case.moving_labels.as_deref(),
        field: None,
        jacobian: None,
        folded_cubes: None,
    };
    let views: Vec<PlaneView> = Plane::ALL
        .iter()
        .map(|&plane| PlaneView::new(plane, &grid, grid.centre_mm(), true))
        .collect();
    let pixels: usize = views.iter().map(|v| v.width * v.height).sum();
    let against = Some(Against {
        number: 1,
        affine_only: false,
    });
    let mut layers = vec![
        ("images", None, Region::Everywhere, None),
        (
            "images, against a kept result",
            None,
            Region::Everywhere,
            against,
        ),
    ];
    if case.fixed_labels.is_some() {
        layers.extend([
            (
                "images, moving labels",
                Some(true),
                Region::Everywhere,
                None,
            ),
            (
                "images, fixed labels",
                Some(false),
                Region::Everywhere,
                None,
            ),
            ("images, a region", None, Region::Labelled, None),
        ]);
    }
    for (layer_names, labels, region, against) in layers {
        let wanted = Wanted {
            labels,
            map: FieldMap::None,
            region,
            against,
        };
        let earlier: Vec<_> = views
            .iter()
            .map(|v| sample(v.clone(), &sources, wanted, None))
            .collect();
        let time = |keep: bool| {
            median(
                (0..RUNS)
                    .map(|_| {
                        let t = Instant::now();
                        for (view, e) in views.iter().zip(&earlier) {
                            let s = sample(view.clone(), &sources, wanted, keep.then_some(e));
                            std::hint::black_box(s.moving[s.moving.len() / 2]);
                        }
                        t.elapsed().as_secs_f64() * 1e3
                    })
                    .collect(),
            )
        };
        println!(
            "| {name} | {layer_names} | {pixels} | {:.1} | {:.1} |",
            time(false),
            time(true)
        );
    }
}
