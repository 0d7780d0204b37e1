//! A registration's complete configuration (TOML), and the named presets. What `register` writes
//! as `config.toml` reads back to the same run.

use super::LevelSettings;
use super::affine::{AffineModel, AffineSettings, Initialisation};
use super::deformable::{DeformableSettings, Optimiser, Transform};
use crate::error::{Error, Result};
use crate::gpu::kernels::similarity::Similarity;
use crate::volume::Grid;
use crate::volume::mind::Descriptor;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The stages to run, in order; a missing stage is skipped (no affine: the headers' identity).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationConfig {
    pub affine: Option<AffineSettings>,
    pub deformable: Option<DeformableSettings>,
}

/// The presets' names, for help texts and errors.
pub const PRESETS: &[&str] = &["brain-mri", "lung-ct", "ct-mr", "mr-multicontrast", "fast"];

fn level(shrink: f64, iterations: u32, learning_rate: f64) -> LevelSettings {
    LevelSettings {
        shrink,
        iterations,
        learning_rate,
        similarity: None,
    }
}

impl RegistrationConfig {
    /// The name of the preset this configuration is on images of `fixed`'s grid (see
    /// [`RegistrationConfig::fitted_to`]), if it is one.
    pub fn preset_name(&self, fixed: &Grid) -> Option<&'static str> {
        PRESETS
            .iter()
            .copied()
            .find(|p| RegistrationConfig::preset(p).is_ok_and(|c| c.fitted_to(fixed) == *self))
    }

    /// The preset this configuration is on images of `fixed`'s grid, and whether its affine
    /// stage starts from the landmarks in place of the preset's own start (`--landmark-start`).
    pub fn preset_and_start(&self, fixed: &Grid) -> Option<(&'static str, bool)> {
        if let Some(name) = self.preset_name(fixed) {
            return Some((name, false));
        }
        let landmarks = self
            .affine
            .as_ref()
            .is_some_and(|a| a.initialisation == Initialisation::Landmarks);
        if !landmarks {
            return None;
        }
        PRESETS.iter().copied().find_map(|p| {
            let preset = RegistrationConfig::preset(p).ok()?.fitted_to(fixed);
            let mut own = self.clone();
            own.affine.as_mut()?.initialisation = preset.affine.as_ref()?.initialisation;
            (own == preset).then_some((p, true))
        })
    }

    /// This configuration with its affine stage started from the landmarks (unchanged without
    /// an affine stage).
    pub fn with_landmark_start(mut self) -> RegistrationConfig {
        if let Some(a) = &mut self.affine {
            a.initialisation = Initialisation::Landmarks;
        }
        self
    }

    /// A preset as it runs on images of `fixed`'s grid. Presets are tuned for voxels of about
    /// 1 mm; on images of `n` mm voxels (`n` whole, along the finest axis) each deformable level's
    /// shrink factor is divided by `n` (down to 1: the levels after the first at full
    /// resolution, finer than the images, are dropped), so that its levels keep their size in
    /// mm. The deformable stage's finest level bounds the detail it recovers: on the 2 mm demo,
    /// `ct-mr`'s 8 and 4 mm levels left the landmarks 1.62 mm off after the deformable stage,
    /// worse than the rigid stage's 1.00 mm, where 4 and 2 mm levels leave them 0.49 mm off. The
    /// affine stage fits globally and keeps its levels.
    pub fn fitted_to(mut self, fixed: &Grid) -> RegistrationConfig {
        let n = fixed.min_spacing_mm().floor().max(1.0);
        if let Some(d) = &mut self.deformable
            && n > 1.0
        {
            for level in &mut d.levels {
                level.shrink = (level.shrink / n).max(1.0);
            }
            let mut coarser_before = true;
            d.levels.retain(|level| {
                let keep = coarser_before;
                coarser_before = level.shrink > 1.0;
                keep
            });
        }
        self
    }

    /// A named preset (levels are shrink factors of the fixed grid): `brain-mri` (inter-subject
    /// T1: local NCC in both stages, folding penalty, deformable down to full resolution with a
    /// wider window there), `lung-ct` (intra-patient CT, smoother field, deformable down to half
    /// resolution), `ct-mr` (multimodal: rigid NMI, MIND-SSC deformable to half resolution),
    /// `mr-multicontrast` (two MR contrasts of one subject, e.g. T1 and PD on different grids:
    /// affine NMI, then MIND-SSC deformable held stiffer),
    /// `fast` (deformable at quarter resolution only, for a first look).
    pub fn preset(name: &str) -> Result<RegistrationConfig> {
        let affine = |similarity, levels, angles| AffineSettings {
            model: AffineModel::Affine,
            similarity,
            initialisation: Initialisation::CentresOfMass,
            search_angles_deg: angles,
            search_keep: 3,
            rigid_iterations: 40,
            levels,
            report_every: 10,
        };
        // A displacement optimised by Adam, no bending; `(diffusion, folding)` and the gradient's
        // and the field's smoothing σ (voxels) are what the presets tune.
        let deformable =
            |similarity, levels, (diffusion, folding), (gradient_sigma, field_sigma)| {
                DeformableSettings {
                    transform: Transform::Displacement,
                    similarity,
                    optimiser: Optimiser::Adam,
                    levels,
                    diffusion,
                    bending: 0.0,
                    folding,
                    gradient_sigma_voxels: gradient_sigma,
                    field_sigma_voxels: field_sigma,
                    report_every: 10,
                    label_weight: 0.0,
                }
            };
        // The multimodal presets' affine stage: NMI down to half resolution, started from the
        // FFT translation search and rotations searched over ±30° (scans in unrelated frames,
        // fields of view that differ: centres of mass need not correspond).
        let multimodal_start = Initialisation::TranslationSearch { spacing_mm: 4.0 };
        let multimodal_affine = |model| AffineSettings {
            model,
            initialisation: multimodal_start,
            ..affine(
                Similarity::Nmi { bins: 32 },
                vec![
                    level(8.0, 80, 3.0),
                    level(4.0, 60, 1.0),
                    level(2.0, 60, 0.3),
                ],
                vec![-30.0, -15.0, 0.0, 15.0, 30.0],
            )
        };
        let mind_ssc = Similarity::Mind {
            descriptor: Descriptor::MIND_SSC,
        };
        let config = match name {
            "brain-mri" => RegistrationConfig {
                affine: Some(affine(
                    Similarity::Lncc { radius: 2 },
                    vec![level(8.0, 80, 3.0), level(4.0, 80, 1.0)],
                    vec![-30.0, -15.0, 0.0, 15.0, 30.0],
                )),
                deformable: Some(deformable(
                    Similarity::Lncc { radius: 2 },
                    // The 1 mm level sees fine detail through a wider window (9 voxels).
                    vec![
                        level(4.0, 100, 1.5),
                        level(2.0, 40, 0.7),
                        LevelSettings {
                            similarity: Some(Similarity::Lncc { radius: 4 }),
                            ..level(1.0, 8, 0.3)
                        },
                    ],
                    (0.05, 60.0),
                    (0.7, 0.5),
                )),
            },
            "lung-ct" => RegistrationConfig {
                affine: Some(affine(
                    Similarity::Ncc,
                    vec![level(8.0, 60, 2.0), level(4.0, 40, 0.5)],
                    vec![-10.0, 0.0, 10.0],
                )),
                deformable: Some(deformable(
                    Similarity::Lncc { radius: 2 },
                    vec![level(4.0, 120, 1.5), level(2.0, 40, 0.7)],
                    (1.0, 0.0),
                    (1.5, 1.0),
                )),
            },
            "ct-mr" => RegistrationConfig {
                // Rigid: the same body in two scanners; what is left is the deformable stage's.
                affine: Some(multimodal_affine(AffineModel::Rigid)),
                // MIND-SSC descriptors fit one storage binding down to half resolution of a
                // typical CT or brain MR (12 channels), so the finest level is 2×.
                deformable: Some(deformable(
                    mind_ssc,
                    vec![level(4.0, 100, 1.5), level(2.0, 50, 0.7)],
                    (0.05, 60.0),
                    (0.7, 0.5),
                )),
            },
            "mr-multicontrast" => RegistrationConfig {
                // Affine: scanners and sequences differ in scale by a percent or two (gradient
                // calibration, distortion), which a rigid fit would leave to the deformable stage.
                affine: Some(multimodal_affine(AffineModel::Affine)),
                // One subject: little real deformation, so four times ct-mr's diffusion weight.
                deformable: Some(deformable(
                    mind_ssc,
                    vec![level(4.0, 80, 1.0), level(2.0, 40, 0.5)],
                    (0.2, 60.0),
                    (1.0, 0.5),
                )),
            },
            "fast" => RegistrationConfig {
                affine: Some(affine(
                    Similarity::Ncc,
                    vec![level(8.0, 40, 3.0), level(4.0, 40, 1.0)],
                    vec![-20.0, 0.0, 20.0],
                )),
                deformable: Some(deformable(
                    Similarity::Lncc { radius: 1 },
                    vec![level(4.0, 60, 1.0)],
                    (0.5, 0.0),
                    (1.0, 1.0),
                )),
            },
            other => {
                return Err(Error::Config(format!(
                    "no preset named {other:?} (presets: {})",
                    PRESETS.join(", ")
                )));
            }
        };
        Ok(config)
    }

    /// Reads a TOML configuration, naming the file in any error.
    pub fn read(path: &Path) -> Result<RegistrationConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let config: RegistrationConfig = toml::from_str(&text).map_err(|e| Error::Format {
            path: path.to_path_buf(),
            problem: e.to_string(),
        })?;
        config.validate().map_err(|e| Error::Format {
            path: path.to_path_buf(),
            problem: e.to_string(),
        })?;
        Ok(config)
    }

    /// The preset (as it runs on `fixed`'s grid) this configuration differs least from, and
    /// each setting that differs, as `key = value (preset's value)` with the TOML's dotted keys
    /// (`deformable.levels[1].iterations = 80 (50)`): what a custom run changed. `None` for
    /// a preset itself.
    pub fn changes_from_nearest_preset(&self, fixed: &Grid) -> Option<(&'static str, Vec<String>)> {
        let own = settings_of(self);
        PRESETS
            .iter()
            .filter_map(|&name| {
                let preset = settings_of(&RegistrationConfig::preset(name).ok()?.fitted_to(fixed));
                let keys: std::collections::BTreeSet<&String> =
                    own.keys().chain(preset.keys()).collect();
                let value = |v: Option<&String>| v.map_or("none", String::as_str).to_owned();
                let changes: Vec<String> = keys
                    .into_iter()
                    .filter(|k| match (own.get(*k), preset.get(*k)) {
                        (Some(a), Some(b)) => a != b,
                        // What one side lacks is one change, at the outermost key it lacks (a
                        // stage, an optional setting); entries of an array are counted instead.
                        _ => {
                            !k.ends_with(']')
                                && parent_key(k)
                                    .is_none_or(|p| own.contains_key(p) && preset.contains_key(p))
                        }
                    })
                    .map(|k| format!("{k} = {} ({})", value(own.get(k)), value(preset.get(k))))
                    .collect();
                Some((name, changes))
            })
            .min_by_key(|(_, changes)| changes.len())
            .filter(|(_, changes)| !changes.is_empty())
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("plain data serialises")
    }

    /// Refuses values no run can use, naming the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::Config(what));
        let check_metric = |stage: &str, m: Similarity| -> Result<()> {
            match m {
                Similarity::Lncc { radius } if radius == 0 || radius > 10 => {
                    bad(format!("{stage}.similarity.radius must be 1 to 10 voxels"))
                }
                Similarity::Mi { bins } | Similarity::Nmi { bins } => {
                    crate::gpu::kernels::similarity::mi::check_bins(bins)
                        .map_err(|e| Error::Config(format!("{stage}.similarity: {e}")))
                }
                _ => Ok(()),
            }
        };
        let check_levels = |stage: &str, levels: &[LevelSettings]| -> Result<()> {
            if levels.is_empty() {
                return bad(format!("{stage}.levels is empty"));
            }
            for (i, l) in levels.iter().enumerate() {
                if !(l.shrink >= 1.0 && l.shrink.is_finite()) {
                    return bad(format!("{stage}.levels[{i}].shrink must be ≥ 1"));
                }
                if !(l.learning_rate > 0.0 && l.learning_rate.is_finite()) {
                    return bad(format!("{stage}.levels[{i}].learning_rate must be > 0"));
                }
                if let Some(m) = l.similarity {
                    check_metric(&format!("{stage}.levels[{i}]"), m)?;
                }
            }
            Ok(())
        };
        if let Some(a) = &self.affine {
            check_levels("affine", &a.levels)?;
            check_metric("affine", a.similarity)?;
            if let Initialisation::TranslationSearch { spacing_mm } = a.initialisation
                && !(1.0..=20.0).contains(&spacing_mm)
            {
                return bad(
                    "affine.initialisation.translation_search.spacing_mm must be 1 to 20".into(),
                );
            }
            if a.search_angles_deg.iter().any(|v| !v.is_finite()) {
                return bad("affine.search_angles_deg must be finite".into());
            }
        }
        if let Some(d) = &self.deformable {
            check_levels("deformable", &d.levels)?;
            check_metric("deformable", d.similarity)?;
            let sigmas = [d.gradient_sigma_voxels, d.field_sigma_voxels];
            if !(d.diffusion >= 0.0 && d.diffusion.is_finite())
                || sigmas.iter().any(|s| !(*s >= 0.0 && *s <= 10.0))
            {
                return bad(
                    "deformable.diffusion must be ≥ 0 and the smoothing sigmas 0 to 10 voxels"
                        .into(),
                );
            }
            if !(d.label_weight >= 0.0 && d.label_weight.is_finite()) {
                return bad("deformable.label_weight must be ≥ 0".into());
            }
            if let Transform::Velocity { squarings } = d.transform
                && !(1..=16).contains(&squarings)
            {
                return bad("deformable.transform.squarings must be 1 to 16".into());
            }
        }
        Ok(())
    }
}

/// The key `key` is under (`a.b` for `a.b.c`, `a.b[1]` for `a.b[1].c`); `None` at the top.
fn parent_key(key: &str) -> Option<&str> {
    key.rfind('.').map(|i| &key[..i])
}

/// Every setting of `config` by its dotted TOML key (`affine.levels[0].shrink`), as TOML text;
/// a table's own key reads "yes", an array of tables' its count of entries.
fn settings_of(config: &RegistrationConfig) -> std::collections::BTreeMap<String, String> {
    fn flatten(
        key: String,
        value: &toml::Value,
        out: &mut std::collections::BTreeMap<String, String>,
    ) {
        let join = |name: &str| {
            if key.is_empty() {
                name.to_owned()
            } else {
                format!("{key}.{name}")
            }
        };
        match value {
            toml::Value::Table(table) => {
                if !key.is_empty() {
                    out.insert(key.clone(), "yes".into());
                }
                for (name, v) in table {
                    flatten(join(name), v, out);
                }
            }
            toml::Value::Array(items) if items.iter().any(toml::Value::is_table) => {
                // The count stands for the entries one side lacks.
                out.insert(key.clone(), format!("{} entries", items.len()));
                for (i, v) in items.iter().enumerate() {
                    flatten(format!("{key}[{i}]"), v, out);
                }
            }
            leaf => {
                out.insert(key, leaf.to_string());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    if let Ok(value) = toml::Value::try_from(config) {
        flatten(String::new(), &value, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_custom_configuration_says_what_it_changed_from_the_nearest_preset() {
        let grid = Grid::axis_aligned([8, 8, 8], [1.0; 3], [0.0; 3]).unwrap();
        let preset = RegistrationConfig::preset("brain-mri")
            .unwrap()
            .fitted_to(&grid);
        assert_eq!(preset.changes_from_nearest_preset(&grid), None);
        let mut custom = preset.clone();
        let d = custom.deformable.as_mut().unwrap();
        let (diffusion, iterations) = (d.diffusion, d.levels[1].iterations);
        d.diffusion = 0.77;
        d.levels[1].iterations = iterations + 5;
        let (name, changes) = custom.changes_from_nearest_preset(&grid).unwrap();
        assert_eq!(name, "brain-mri");
        assert_eq!(
            changes,
            [
                format!("deformable.diffusion = 0.77 ({diffusion})"),
                format!(
                    "deformable.levels[1].iterations = {} ({iterations})",
                    iterations + 5
                ),
            ]
        );
        // An optional setting one side lacks is one change, however many values it holds.
        let mut overridden = preset.clone();
        let similarity = overridden.deformable.as_ref().unwrap().similarity;
        overridden.deformable.as_mut().unwrap().levels[0].similarity = Some(similarity);
        let (_, changes) = overridden.changes_from_nearest_preset(&grid).unwrap();
        assert_eq!(changes, ["deformable.levels[0].similarity = yes (none)"]);
        // A level left out is one change; so is a stage.
        custom.deformable.as_mut().unwrap().levels.pop();
        let (_, changes) = custom.changes_from_nearest_preset(&grid).unwrap();
        let levels = preset.deformable.as_ref().unwrap().levels.len();
        let count = format!(
            "deformable.levels = {} entries ({levels} entries)",
            levels - 1
        );
        assert!(changes.contains(&count), "{changes:?}");
        assert_eq!(changes.len(), 3, "{changes:?}");
        custom.deformable = None;
        let (name, changes) = custom.changes_from_nearest_preset(&grid).unwrap();
        assert_eq!(name, "brain-mri");
        assert_eq!(changes, ["deformable = none (yes)"]);
    }

    fn shrinks(config: &RegistrationConfig) -> Vec<f64> {
        let levels = &config.deformable.as_ref().unwrap().levels;
        levels.iter().map(|l| l.shrink).collect()
    }

    #[test]
    fn presets_keep_their_deformable_levels_in_mm_on_coarser_voxels() {
        let grid = |mm: f64| Grid::axis_aligned([8, 8, 8], [mm, mm, 2.0 * mm], [0.0; 3]).unwrap();
        let ct_mr = RegistrationConfig::preset("ct-mr").unwrap();
        assert_eq!(shrinks(&ct_mr), vec![4.0, 2.0]);
        for fine in [0.49, 1.0, 1.02] {
            assert_eq!(ct_mr.clone().fitted_to(&grid(fine)), ct_mr, "{fine} mm");
        }
        let on_2mm = ct_mr.clone().fitted_to(&grid(2.0));
        assert_eq!(shrinks(&on_2mm), vec![2.0, 1.0]);
        assert_eq!(
            on_2mm.affine, ct_mr.affine,
            "the affine stage keeps its levels"
        );
        // brain-mri's 1 mm level cannot be had from 2 mm voxels: its 2 mm level is the last.
        let brain = RegistrationConfig::preset("brain-mri").unwrap();
        let fitted = brain.clone().fitted_to(&grid(2.0));
        assert_eq!(shrinks(&fitted), vec![2.0, 1.0]);
        let levels = &fitted.deformable.as_ref().unwrap().levels;
        assert_eq!(
            levels[1].iterations,
            brain.deformable.as_ref().unwrap().levels[1].iterations
        );
        assert_eq!(shrinks(&brain.fitted_to(&grid(3.0))), vec![4.0 / 3.0, 1.0]);
        assert_eq!(on_2mm.preset_name(&grid(2.0)), Some("ct-mr"));
        assert_eq!(on_2mm.preset_name(&grid(1.0)), None);
        assert_eq!(ct_mr.preset_name(&grid(1.0)), Some("ct-mr"));
    }
}
