//! Affine transforms as ITK text files (`#Insight Transform File V1.0`,
//! `AffineTransform_double_3_3`), the format ITK, ANTs, greedy and 3D Slicer read.
//!
//! ITK works in LPS: a RAS affine `A` (fixed world → moving world, as everywhere in Warpbench) is
//! written as `F A F` with `F = diag(−1, −1, 1)`. ITK's transform of a registration also maps fixed
//! points to moving points, so the direction needs no inversion. The RAS matrix is repeated in a
//! comment for readers.

use super::Affine;
use crate::error::{Error, Result};
use std::path::Path;

const FLIP: [f64; 3] = [-1.0, -1.0, 1.0];

fn flipped(a: &Affine) -> Affine {
    let m = a.linear();
    let t = a.translation();
    Affine::from_linear_translation(
        std::array::from_fn(|r| std::array::from_fn(|c| FLIP[r] * m[r][c] * FLIP[c])),
        std::array::from_fn(|r| FLIP[r] * t[r]),
    )
}

/// Writes `ras` (fixed → moving, RAS mm) as an ITK affine transform file, atomically.
pub fn write_itk_affine(path: &Path, ras: &Affine) -> Result<()> {
    let lps = flipped(ras);
    let m = lps.linear();
    let t = lps.translation();
    let mut text = String::from("#Insight Transform File V1.0\n");
    text += "# Warpbench affine, fixed world -> moving world. The same map in RAS mm (rows):\n";
    for r in 0..3 {
        let row = ras.0[r];
        text += &format!("#   {} {} {} {}\n", row[0], row[1], row[2], row[3]);
    }
    text += "#Transform 0\nTransform: AffineTransform_double_3_3\nParameters:";
    for v in m.iter().flatten().chain(&t) {
        text += &format!(" {v}");
    }
    text += "\nFixedParameters: 0 0 0\n";
    crate::atomic::write_bytes(path, text.as_bytes())
}

/// Reads an ITK affine transform file (MatrixOffset-style affine or Euler/similarity stored as
/// `AffineTransform_double_3_3` parameters) back to RAS.
pub fn read_itk_affine(path: &Path) -> Result<Affine> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let numbers = |key: &str| -> Result<Vec<f64>> {
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .ok_or_else(|| Error::format(path, format!("no {key} line")))?;
        line.split_whitespace()
            .map(|v| {
                v.parse::<f64>()
                    .map_err(|_| Error::format(path, format!("{key} holds {v:?}, not a number")))
            })
            .collect()
    };
    if !text.contains("AffineTransform_double_3_3") && !text.contains("AffineTransform_float_3_3") {
        return Err(Error::format(path, "not a 3D ITK affine transform"));
    }
    let p = numbers("Parameters:")?;
    let c = numbers("FixedParameters:")?;
    if p.len() != 12 || c.len() != 3 || p.iter().chain(&c).any(|v| !v.is_finite()) {
        return Err(Error::format(
            path,
            "an affine needs 12 finite parameters and 3 fixed parameters",
        ));
    }
    let m: [[f64; 3]; 3] = std::array::from_fn(|r| std::array::from_fn(|k| p[3 * r + k]));
    // ITK: y = M (x − c) + t + c.
    let t: [f64; 3] =
        std::array::from_fn(|r| p[9 + r] + c[r] - (0..3).map(|k| m[r][k] * c[k]).sum::<f64>());
    Ok(flipped(&Affine::from_linear_translation(m, t)))
}
