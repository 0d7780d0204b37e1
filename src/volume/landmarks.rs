//! Landmarks: ordered point sets in world RAS millimetres, with optional names.
//!
//! Formats, chosen by file name:
//! - `.csv`: a header line naming `x`, `y`, `z` (RAS mm) and optionally `name`, in any order; a
//!   file without a header is read as `x,y,z[,name]`;
//! - `.fcsv`: 3D Slicer's fiducial list; the `CoordinateSystem` comment (`LPS`/`RAS`, or `1`/`0`) is
//!   honoured, LPS points are converted to RAS;
//! - `.mrk.json`: 3D Slicer's markups JSON, with its `coordinateSystem` honoured likewise;
//! - `.txt`: one voxel index `i j k` per line (0- or 1-based by option), converted through an image grid.

use super::grid::Grid;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

/// One point in world RAS mm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Landmark {
    pub name: Option<String>,
    pub world_mm: [f64; 3],
}

/// An ordered set of landmarks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LandmarkSet {
    pub points: Vec<Landmark>,
}

/// Whether voxel-index text counts from 0 or 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexBase {
    Zero,
    One,
}

impl IndexBase {
    fn offset(self) -> f64 {
        match self {
            IndexBase::Zero => 0.0,
            IndexBase::One => 1.0,
        }
    }
}

/// A landmark file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LandmarkFormat {
    Csv,
    SlicerFcsv,
    SlicerJson,
    /// Voxel indices of the given image grid.
    VoxelText(IndexBase),
}

impl LandmarkFormat {
    /// The format a file name implies (`.txt` reads as 0-based voxel indices).
    pub fn from_path(path: &Path) -> Result<LandmarkFormat> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        Ok(if name.ends_with(".mrk.json") || name.ends_with(".json") {
            LandmarkFormat::SlicerJson
        } else if name.ends_with(".fcsv") {
            LandmarkFormat::SlicerFcsv
        } else if name.ends_with(".csv") {
            LandmarkFormat::Csv
        } else if name.ends_with(".txt") {
            LandmarkFormat::VoxelText(IndexBase::Zero)
        } else {
            return Err(Error::format(
                path,
                "unknown landmark format (expected .csv, .fcsv, .mrk.json or .txt)",
            ));
        })
    }
}

impl LandmarkSet {
    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// World-space bounds `(min, max)` of the points, `None` when empty.
    pub fn bounds_mm(&self) -> Option<([f64; 3], [f64; 3])> {
        let first = self.points.first()?.world_mm;
        Some(self.points.iter().fold((first, first), |(lo, hi), p| {
            (
                std::array::from_fn(|a| lo[a].min(p.world_mm[a])),
                std::array::from_fn(|a| hi[a].max(p.world_mm[a])),
            )
        }))
    }

    /// Reads a file in the format its name implies; voxel text needs `grid`.
    pub fn read(path: &Path, grid: Option<&Grid>) -> Result<LandmarkSet> {
        Self::read_as(path, LandmarkFormat::from_path(path)?, grid)
    }

    pub fn read_as(
        path: &Path,
        format: LandmarkFormat,
        grid: Option<&Grid>,
    ) -> Result<LandmarkSet> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::parse(path, format, &bytes, grid)
    }

    /// Parses landmark file content held in memory; `path` names it in errors.
    pub fn parse(
        path: &Path,
        format: LandmarkFormat,
        bytes: &[u8],
        grid: Option<&Grid>,
    ) -> Result<LandmarkSet> {
        let text = std::str::from_utf8(bytes).map_err(|_| Error::format(path, "not UTF-8 text"))?;
        let set = match format {
            LandmarkFormat::Csv => parse_csv(text),
            LandmarkFormat::SlicerFcsv => parse_fcsv(text),
            LandmarkFormat::SlicerJson => parse_mrk_json(text),
            LandmarkFormat::VoxelText(base) => {
                let grid = grid.ok_or_else(|| {
                    Error::format(
                        path,
                        "voxel-index landmarks need an image to convert them to world mm",
                    )
                })?;
                parse_voxel_text(text, grid, base)
            }
        }
        .map_err(|problem| Error::format(path, problem))?;
        if let Some(i) = set
            .points
            .iter()
            .position(|p| p.world_mm.iter().any(|v| !v.is_finite()))
        {
            return Err(Error::format(
                path,
                format!("point {} has a NaN or infinite coordinate", i + 1),
            ));
        }
        Ok(set)
    }

    /// Writes atomically in the format the name implies; voxel text needs `grid`.
    pub fn write(&self, path: &Path, grid: Option<&Grid>) -> Result<()> {
        self.write_as(path, LandmarkFormat::from_path(path)?, grid)
    }

    pub fn write_as(&self, path: &Path, format: LandmarkFormat, grid: Option<&Grid>) -> Result<()> {
        let text = match format {
            LandmarkFormat::Csv => self.to_csv(),
            LandmarkFormat::SlicerFcsv => self.to_fcsv(),
            LandmarkFormat::SlicerJson => self.to_mrk_json(),
            LandmarkFormat::VoxelText(base) => {
                let grid = grid.ok_or_else(|| {
                    Error::format(
                        path,
                        "voxel-index landmarks need an image to convert world mm to voxels",
                    )
                })?;
                self.to_voxel_text(grid, base)
            }
        };
        crate::atomic::write_bytes(path, text.as_bytes())
    }

    pub fn to_csv(&self) -> String {
        let mut s = String::from("x,y,z,name\n");
        for p in &self.points {
            let [x, y, z] = p.world_mm;
            let name = p.name.as_deref().unwrap_or("").replace([',', '\n'], " ");
            let _ = writeln!(s, "{x},{y},{z},{name}");
        }
        s
    }

    fn to_fcsv(&self) -> String {
        let mut s = String::from(
            "# Markups fiducial file version = 4.11\n# CoordinateSystem = RAS\n\
             # columns = id,x,y,z,ow,ox,oy,oz,vis,sel,lock,label,desc,associatedNodeID\n",
        );
        for (i, p) in self.points.iter().enumerate() {
            let [x, y, z] = p.world_mm;
            let label = p
                .name
                .clone()
                .unwrap_or_else(|| format!("F-{}", i + 1))
                .replace([',', '\n'], " ");
            let _ = writeln!(s, "{},{x},{y},{z},0,0,0,1,1,1,0,{label},,", i + 1);
        }
        s
    }

    fn to_mrk_json(&self) -> String {
        let points: Vec<serde_json::Value> = self
            .points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                serde_json::json!({
                    "id": (i + 1).to_string(),
                    "label": p.name.clone().unwrap_or_else(|| format!("F-{}", i + 1)),
                    "position": p.world_mm,
                    "positionStatus": "defined",
                })
            })
            .collect();
        let doc = serde_json::json!({
            "@schema": "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/Resources/Schema/markups-schema-v1.0.3.json#",
            "markups": [{
                "type": "Fiducial",
                "coordinateSystem": "RAS",
                "coordinateUnits": "mm",
                "controlPoints": points,
            }],
        });
        serde_json::to_string_pretty(&doc).expect("JSON values serialise") + "\n"
    }

    fn to_voxel_text(&self, grid: &Grid, base: IndexBase) -> String {
        let mut s = String::new();
        for p in &self.points {
            let v = grid.world_to_voxel(p.world_mm).map(|c| c + base.offset());
            let _ = writeln!(s, "{} {} {}", v[0], v[1], v[2]);
        }
        s
    }
}

fn parse_number(field: &str, line: usize, what: &str) -> Result<f64, String> {
    field
        .trim()
        .parse::<f64>()
        .map_err(|_| format!("line {line}: {what} {:?} is not a number", field.trim()))
}

fn parse_csv(text: &str) -> Result<LandmarkSet, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let mut columns = [0usize, 1, 2];
    let mut name_col = Some(3);
    let mut points = Vec::new();
    let mut pending = None;
    if let Some((n, first)) = lines.next() {
        let fields: Vec<String> = first.split(',').map(|f| f.trim().to_lowercase()).collect();
        if fields
            .iter()
            .any(|f| f.parse::<f64>().is_err() && !f.is_empty())
            && fields.iter().any(|f| f == "x")
        {
            for (c, axis) in ["x", "y", "z"].iter().enumerate() {
                columns[c] = fields
                    .iter()
                    .position(|f| f == axis)
                    .ok_or_else(|| format!("line {}: header has no {axis:?} column", n + 1))?;
            }
            name_col = fields.iter().position(|f| f == "name" || f == "label");
        } else {
            pending = Some((n, first));
        }
    }
    for (n, line) in pending.into_iter().chain(lines) {
        let fields: Vec<&str> = line.split(',').collect();
        let need = columns.iter().max().copied().unwrap_or(2) + 1;
        if fields.len() < need {
            return Err(format!(
                "line {}: expected at least {need} fields, found {}",
                n + 1,
                fields.len()
            ));
        }
        let mut world_mm = [0.0; 3];
        for (a, &c) in columns.iter().enumerate() {
            world_mm[a] = parse_number(fields[c], n + 1, ["x", "y", "z"][a])?;
        }
        let name = name_col
            .and_then(|c| fields.get(c))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        points.push(Landmark { name, world_mm });
    }
    Ok(LandmarkSet { points })
}

/// LPS → RAS (and back): negate x and y.
fn flip_lps(p: [f64; 3]) -> [f64; 3] {
    [-p[0], -p[1], p[2]]
}

fn parse_fcsv(text: &str) -> Result<LandmarkSet, String> {
    let mut lps = false;
    let mut columns: Vec<String> = [
        "id", "x", "y", "z", "ow", "ox", "oy", "oz", "vis", "sel", "lock", "label",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut points = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(comment) = line.strip_prefix('#') {
            if let Some((key, value)) = comment.split_once('=') {
                match key.trim().to_lowercase().as_str() {
                    "coordinatesystem" => {
                        lps = match value.trim().to_uppercase().as_str() {
                            "LPS" | "1" => true,
                            "RAS" | "0" => false,
                            other => {
                                return Err(format!(
                                    "line {}: unknown coordinate system {other:?}",
                                    n + 1
                                ));
                            }
                        }
                    }
                    "columns" => {
                        columns = value.split(',').map(|c| c.trim().to_lowercase()).collect()
                    }
                    _ => {}
                }
            }
            continue;
        }
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        let col = |name: &str| columns.iter().position(|c| c == name);
        let mut p = [0.0; 3];
        for (a, axis) in ["x", "y", "z"].iter().enumerate() {
            let c = col(axis).ok_or_else(|| format!("columns line has no {axis:?}"))?;
            let field = fields.get(c).ok_or_else(|| {
                format!("line {}: {} fields, no {axis} column", n + 1, fields.len())
            })?;
            p[a] = parse_number(field, n + 1, axis)?;
        }
        let name = col("label")
            .and_then(|c| fields.get(c))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        points.push(Landmark {
            name,
            world_mm: if lps { flip_lps(p) } else { p },
        });
    }
    Ok(LandmarkSet { points })
}

#[derive(Deserialize)]
struct MrkDoc {
    markups: Vec<MrkMarkup>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MrkMarkup {
    coordinate_system: Option<String>,
    #[serde(default)]
    control_points: Vec<MrkPoint>,
}

#[derive(Deserialize)]
struct MrkPoint {
    label: Option<String>,
    position: Option<[f64; 3]>,
}

fn parse_mrk_json(text: &str) -> Result<LandmarkSet, String> {
    let doc: MrkDoc =
        serde_json::from_str(text).map_err(|e| format!("not a Slicer markups file: {e}"))?;
    let mut points = Vec::new();
    for markup in doc.markups {
        let lps = match markup
            .coordinate_system
            .as_deref()
            .map(str::to_uppercase)
            .as_deref()
        {
            None | Some("LPS") => true,
            Some("RAS") => false,
            Some(other) => return Err(format!("unknown coordinateSystem {other:?}")),
        };
        for (i, cp) in markup.control_points.into_iter().enumerate() {
            let p = cp
                .position
                .ok_or_else(|| format!("control point {} has no position", i + 1))?;
            points.push(Landmark {
                name: cp.label.filter(|s| !s.is_empty()),
                world_mm: if lps { flip_lps(p) } else { p },
            });
        }
    }
    Ok(LandmarkSet { points })
}

fn parse_voxel_text(text: &str, grid: &Grid, base: IndexBase) -> Result<LandmarkSet, String> {
    let mut points = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|f| !f.is_empty())
            .collect();
        if fields.len() != 3 {
            return Err(format!(
                "line {}: expected 3 voxel indices, found {}",
                n + 1,
                fields.len()
            ));
        }
        let mut v = [0.0; 3];
        for a in 0..3 {
            v[a] = parse_number(fields[a], n + 1, ["i", "j", "k"][a])? - base.offset();
        }
        points.push(Landmark {
            name: None,
            world_mm: grid.voxel_to_world(v),
        });
    }
    Ok(LandmarkSet { points })
}

/// Pairs fixed and moving landmarks: by name when every point of both sets has a unique name and
/// the names match one to one, otherwise by order (which needs equal counts).
pub fn pair_landmarks(fixed: &LandmarkSet, moving: &LandmarkSet) -> Result<Vec<(usize, usize)>> {
    fn names(s: &LandmarkSet) -> Option<Vec<&str>> {
        let names: Vec<&str> = s
            .points
            .iter()
            .map(|p| p.name.as_deref())
            .collect::<Option<_>>()?;
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        (sorted.len() == names.len()).then_some(names)
    }
    if let (Some(f), Some(m)) = (names(fixed), names(moving)) {
        // A lookup, not a search per point: the window re-pairs on every edit, and sets of
        // hundreds of points are common.
        let moving_index: std::collections::HashMap<&str, usize> =
            m.iter().enumerate().map(|(j, n)| (*n, j)).collect();
        let pairs: Vec<(usize, usize)> = f
            .iter()
            .enumerate()
            .filter_map(|(i, n)| moving_index.get(n).map(|&j| (i, j)))
            .collect();
        if !pairs.is_empty() && pairs.len() == f.len().min(m.len()) {
            return Ok(pairs);
        }
    }
    if fixed.len() != moving.len() {
        return Err(Error::Mismatch(format!(
            "{} fixed and {} moving landmarks, and their names do not pair them",
            fixed.len(),
            moving.len()
        )));
    }
    Ok((0..fixed.len()).map(|i| (i, i)).collect())
}
