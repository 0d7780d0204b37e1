//! Whether an image is CT or MR (and which MR contrast), told from its values and its file name:
//! what a preset is chosen by when the user names none.

use crate::volume::ScalarVolume;
use std::fmt;
use std::path::Path;

/// An image's modality as far as it can be told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Modality {
    Ct,
    /// The contrast where the file name says it ("T1", "T2", "PD", "FLAIR").
    Mr {
        contrast: Option<&'static str>,
    },
}

/// A modality and what told it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModalityGuess {
    pub modality: Modality,
    pub evidence: Evidence,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// Values in Hounsfield units: air at about −1000 beside tissue around 0.
    Hounsfield,
    FileName,
}

impl fmt::Display for ModalityGuess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.modality {
            Modality::Ct => write!(f, "CT")?,
            Modality::Mr { contrast: None } => write!(f, "MR")?,
            Modality::Mr {
                contrast: Some(contrast),
            } => write!(f, "MR {contrast}")?,
        }
        match self.evidence {
            Evidence::Hounsfield => write!(f, " (its values are Hounsfield units)"),
            Evidence::FileName => write!(f, " (by its file name)"),
        }
    }
}

/// File-name words that name an MR contrast, and the contrast's usual name.
const MR_WORDS: &[(&str, Option<&str>)] = &[
    ("mr", None),
    ("mri", None),
    ("t1", Some("T1")),
    ("t1w", Some("T1")),
    ("mprage", Some("T1")),
    ("t2", Some("T2")),
    ("t2w", Some("T2")),
    ("pd", Some("PD")),
    ("pdw", Some("PD")),
    ("flair", Some("FLAIR")),
];

/// The modality of `image`, read from `file` where given: Hounsfield values make it CT whatever
/// its name; otherwise a word of the file name ("ct", "mr", "t1", "flair", …) decides. `None`
/// where neither tells (a CT stored without its rescale to Hounsfield units and named without
/// "ct", say).
pub fn guess(image: &ScalarVolume, file: Option<&Path>) -> Option<ModalityGuess> {
    if in_hounsfield_units(image) {
        return Some(ModalityGuess {
            modality: Modality::Ct,
            evidence: Evidence::Hounsfield,
        });
    }
    let name = file?.file_name()?.to_str()?.to_ascii_lowercase();
    let stem = name
        .strip_suffix(".gz")
        .unwrap_or(&name)
        .trim_end_matches(".nii");
    stem.split(|c: char| !c.is_ascii_alphanumeric())
        .find_map(|word| {
            if word == "ct" || word == "cbct" {
                return Some(Modality::Ct);
            }
            MR_WORDS
                .iter()
                .find(|(w, _)| *w == word)
                .map(|&(_, contrast)| Modality::Mr { contrast })
        })
        .map(|modality| ModalityGuess {
            modality,
            evidence: Evidence::FileName,
        })
}

/// At least 1 % of the voxels (of [`ScalarVolume::sample`]) are air in Hounsfield units and at
/// least 1 % are water or denser: no MR scale puts a sizeable part of an image near −1000.
fn in_hounsfield_units(image: &ScalarVolume) -> bool {
    let (mut air, mut tissue, mut n) = (0usize, 0usize, 0usize);
    for v in image.sample() {
        n += 1;
        air += usize::from((-1100.0..=-900.0).contains(&v));
        tissue += usize::from(v >= -200.0);
    }
    air * 100 >= n && tissue * 100 >= n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::Grid;

    fn image(values: impl Fn(usize) -> f32) -> ScalarVolume {
        let grid = Grid::axis_aligned([10, 10, 10], [1.0; 3], [0.0; 3]).unwrap();
        ScalarVolume::new(grid, (0..1000).map(values).collect()).unwrap()
    }

    #[test]
    fn hounsfield_values_tell_ct_whatever_the_file_name() {
        let ct = image(|i| if i < 400 { -1024.0 } else { 40.0 });
        let guessed = guess(&ct, Some(Path::new("/scans/t1_mr.nii.gz"))).unwrap();
        assert_eq!(guessed.modality, Modality::Ct);
        assert_eq!(guessed.evidence, Evidence::Hounsfield);
        // The same scan shifted by 1024 (stored without its rescale) looks like nothing.
        let shifted = image(|i| if i < 400 { 0.0 } else { 1064.0 });
        assert_eq!(guess(&shifted, None), None);
        // Z-scored MR values go below zero, but nowhere near air.
        let z = image(|i| (i as f32 - 500.0) / 100.0);
        assert_eq!(guess(&z, None), None);
    }

    #[test]
    fn file_name_words_tell_the_modality_and_the_mr_contrast() {
        let mr = image(|i| (i % 7) as f32 * 100.0);
        let of = |name: &str| guess(&mr, Some(Path::new(name))).map(|g| g.modality);
        assert_eq!(of("data/vm_head_ct.nii.gz"), Some(Modality::Ct));
        assert_eq!(
            of("data/vm_head_mri.nii"),
            Some(Modality::Mr { contrast: None })
        );
        assert_eq!(
            of("chris_PD.nii.gz"),
            Some(Modality::Mr {
                contrast: Some("PD")
            })
        );
        assert_eq!(
            of("sub-01_T1w.nii.gz"),
            Some(Modality::Mr {
                contrast: Some("T1")
            })
        );
        // Words only: "act" and "doctor" hold "ct" but are not it.
        assert_eq!(of("act/doctor_scan.nii.gz"), None);
        assert_eq!(of("image0.nii.gz"), None);
    }
}
