//! The preset a pair of images gets when the user names none: chosen by the images' modalities,
//! so that a CT–MR pair is not registered with a single-modality similarity.

use crate::volume::ScalarVolume;
use crate::volume::modality::{self, Modality, ModalityGuess};
use std::path::Path;

/// The preset used without a choice of the user's, when the modalities tell nothing better.
pub const DEFAULT_PRESET: &str = "brain-mri";

/// A preset and why it fits the images.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresetChoice {
    pub name: &'static str,
    pub reason: String,
}

impl PresetChoice {
    /// The choice for `fixed` and `moving`, read from their files where given.
    pub fn for_images(
        fixed: (&ScalarVolume, Option<&Path>),
        moving: (&ScalarVolume, Option<&Path>),
    ) -> PresetChoice {
        PresetChoice::for_modalities(
            modality::guess(fixed.0, fixed.1),
            modality::guess(moving.0, moving.1),
        )
    }

    /// CT with MR: `ct-mr`; CT with CT: `lung-ct` (the intra-patient CT preset); two named MR
    /// contrasts that differ: `mr-multicontrast`; anything else: [`DEFAULT_PRESET`].
    pub fn for_modalities(
        fixed: Option<ModalityGuess>,
        moving: Option<ModalityGuess>,
    ) -> PresetChoice {
        let name = match (fixed.map(|g| g.modality), moving.map(|g| g.modality)) {
            (Some(Modality::Ct), Some(Modality::Mr { .. }))
            | (Some(Modality::Mr { .. }), Some(Modality::Ct)) => "ct-mr",
            (Some(Modality::Ct), Some(Modality::Ct)) => "lung-ct",
            (
                Some(Modality::Mr { contrast: Some(a) }),
                Some(Modality::Mr { contrast: Some(b) }),
            ) if a != b => "mr-multicontrast",
            _ => DEFAULT_PRESET,
        };
        let reason = match (fixed, moving) {
            (Some(f), Some(m)) => format!("the fixed image is {f}, the moving {m}"),
            (Some(f), None) => format!(
                "the fixed image is {f}; neither the moving image's values nor its file name \
                 tell its modality"
            ),
            (None, Some(m)) => format!(
                "the moving image is {m}; neither the fixed image's values nor its file name \
                 tell its modality"
            ),
            (None, None) => {
                "neither image's values nor file name tell its modality (the default preset)"
                    .to_string()
            }
        };
        PresetChoice { name, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::modality::Evidence;

    fn by_name(modality: Modality) -> Option<ModalityGuess> {
        Some(ModalityGuess {
            modality,
            evidence: Evidence::FileName,
        })
    }

    #[test]
    fn modalities_choose_the_preset_made_for_them() {
        let ct = by_name(Modality::Ct);
        let mr = |contrast| by_name(Modality::Mr { contrast });
        let name = |f, m| PresetChoice::for_modalities(f, m).name;
        assert_eq!(name(ct, mr(None)), "ct-mr");
        assert_eq!(name(mr(Some("T2")), ct), "ct-mr");
        assert_eq!(name(ct, ct), "lung-ct");
        assert_eq!(name(mr(Some("T1")), mr(Some("PD"))), "mr-multicontrast");
        assert_eq!(name(mr(Some("T1")), mr(Some("T1"))), DEFAULT_PRESET);
        assert_eq!(name(mr(None), mr(Some("PD"))), DEFAULT_PRESET);
        assert_eq!(name(ct, None), DEFAULT_PRESET);
        let reason = |f, m| PresetChoice::for_modalities(f, m).reason;
        assert_eq!(
            reason(ct, mr(Some("T2"))),
            "the fixed image is CT (by its file name), the moving MR T2 (by its file name)"
        );
        assert_eq!(
            reason(ct, None),
            "the fixed image is CT (by its file name); neither the moving image's values nor its \
             file name tell its modality"
        );
        assert_eq!(
            reason(None, mr(None)),
            "the moving image is MR (by its file name); neither the fixed image's values nor its \
             file name tell its modality"
        );
        assert_eq!(
            reason(None, None),
            "neither image's values nor file name tell its modality (the default preset)"
        );
    }
}
