//! `warpbench info`: a readable or JSON summary of an image or a landmark file.

use crate::volume::landmarks::{IndexBase, LandmarkFormat, LandmarkSet};
use crate::volume::nifti_io;
use anyhow::Context;
use serde_json::json;
use std::path::Path;

fn is_nifti(path: &Path) -> bool {
    let name = path.to_string_lossy().to_lowercase();
    name.ends_with(".nii") || name.ends_with(".nii.gz")
}

pub fn run(
    path: &Path,
    as_json: bool,
    image: Option<&Path>,
    one_based: bool,
) -> anyhow::Result<()> {
    let summary = if is_nifti(path) {
        image_summary(path)?
    } else {
        landmark_summary(path, image, one_based)?
    };
    if as_json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print_text(path, &summary);
    }
    Ok(())
}

/// The JSON object of `info --json` for a NIfTI file: `dims`, `spacing` (mm, from the affine's
/// columns), `affine` (voxel to RAS mm, row-major 4×4), `orientation`, `dtype`, `min`, `max`
/// (after scaling), plus `world_min`/`world_max` (bounds of the voxel centres) and `affine_source`.
pub fn image_summary(path: &Path) -> anyhow::Result<serde_json::Value> {
    let (info, data) = nifti_io::read_all_f32(path)?;
    let (min, max) = data
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let (world_min, world_max) = info.grid.world_bounds_mm();
    Ok(json!({
        "file": path.display().to_string(),
        "dims": info.dims,
        "spacing": info.grid.spacing_mm(),
        "affine": info.grid.world_from_voxel().0,
        "orientation": info.grid.orientation(),
        "dtype": info.dtype.name(),
        "min": min,
        "max": max,
        "world_min": world_min,
        "world_max": world_max,
        "affine_source": format!("{:?}", info.affine_source).to_lowercase(),
        "intent_code": info.intent_code,
    }))
}

fn landmark_summary(
    path: &Path,
    image: Option<&Path>,
    one_based: bool,
) -> anyhow::Result<serde_json::Value> {
    let format = match LandmarkFormat::from_path(path)? {
        LandmarkFormat::VoxelText(_) if one_based => LandmarkFormat::VoxelText(IndexBase::One),
        f => f,
    };
    let grid = match image {
        Some(image) => Some(nifti_io::read_info(image)?.grid),
        None => None,
    };
    let set = LandmarkSet::read_as(path, format, grid.as_ref())
        .with_context(|| format!("reading landmarks from {}", path.display()))?;
    let bounds = set.bounds_mm();
    Ok(json!({
        "file": path.display().to_string(),
        "count": set.len(),
        "named": set.points.iter().filter(|p| p.name.is_some()).count(),
        "bounds_min": bounds.map(|b| b.0),
        "bounds_max": bounds.map(|b| b.1),
    }))
}

fn fmt3(v: &serde_json::Value) -> String {
    match v.as_array() {
        Some(a) => a
            .iter()
            .map(|x| x.as_f64().map_or("?".into(), |f| format!("{f:.3}")))
            .collect::<Vec<_>>()
            .join(" × "),
        None => "–".into(),
    }
}

fn print_text(path: &Path, s: &serde_json::Value) {
    println!("{}", path.display());
    if s.get("dims").is_some() {
        println!("  dims         {}", s["dims"]);
        println!("  spacing (mm) {}", fmt3(&s["spacing"]));
        println!(
            "  orientation  {} (from the {})",
            s["orientation"].as_str().unwrap_or("?"),
            s["affine_source"].as_str().unwrap_or("?")
        );
        println!("  dtype        {}", s["dtype"].as_str().unwrap_or("?"));
        println!("  range        {} .. {}", s["min"], s["max"]);
        println!(
            "  world bounds {} .. {} (RAS mm)",
            fmt3(&s["world_min"]),
            fmt3(&s["world_max"])
        );
        println!("  voxel → RAS mm:");
        for row in s["affine"].as_array().into_iter().flatten() {
            let cells: Vec<String> = row
                .as_array()
                .into_iter()
                .flatten()
                .map(|x| format!("{:>10.4}", x.as_f64().unwrap_or(f64::NAN)))
                .collect();
            println!("    {}", cells.join(" "));
        }
    } else {
        println!("  landmarks    {} ({} named)", s["count"], s["named"]);
        println!(
            "  bounds       {} .. {} (RAS mm)",
            fmt3(&s["bounds_min"]),
            fmt3(&s["bounds_max"])
        );
    }
}
