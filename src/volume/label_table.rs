//! Names and colours of label ids: read from ITK-SNAP label descriptions, FreeSurfer or 3D Slicer
//! colour tables, AAL's region lists and plain `id name` lines; FreeSurfer's own names and colours
//! for its `aseg` segmentations and its two cortical parcellations (`aparc`, `aparc.a2009s`) are
//! built in.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a table says of one label id.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelEntry {
    pub name: String,
    pub colour: Option<[u8; 3]>,
    /// ITK-SNAP's VIS column: whether the label starts shown.
    pub visible: bool,
    /// ITK-SNAP's A column (0 to 1): the label's share of the overlay's opacity.
    pub opacity: f32,
}

/// Label id → name and colour, and where they came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelTable {
    entries: BTreeMap<i32, LabelEntry>,
    /// For the user: the file's name, or which built-in table.
    pub source: Option<String>,
}

/// FreeSurfer's aseg ids with the names and colours of its `FreeSurferColorLUT.txt` (FreeSurfer 7
/// naming: 10 and 49 are the thalami).
const FREESURFER_ASEG: [(i32, &str, [u8; 3]); 51] = [
    (1, "Left-Cerebral-Exterior", [70, 130, 180]),
    (2, "Left-Cerebral-White-Matter", [245, 245, 245]),
    (3, "Left-Cerebral-Cortex", [205, 62, 78]),
    (4, "Left-Lateral-Ventricle", [120, 18, 134]),
    (5, "Left-Inf-Lat-Vent", [196, 58, 250]),
    (6, "Left-Cerebellum-Exterior", [0, 148, 0]),
    (7, "Left-Cerebellum-White-Matter", [220, 248, 164]),
    (8, "Left-Cerebellum-Cortex", [230, 148, 34]),
    (10, "Left-Thalamus", [0, 118, 14]),
    (11, "Left-Caudate", [122, 186, 220]),
    (12, "Left-Putamen", [236, 13, 176]),
    (13, "Left-Pallidum", [12, 48, 255]),
    (14, "3rd-Ventricle", [204, 182, 142]),
    (15, "4th-Ventricle", [42, 204, 164]),
    (16, "Brain-Stem", [119, 159, 176]),
    (17, "Left-Hippocampus", [220, 216, 20]),
    (18, "Left-Amygdala", [103, 255, 255]),
    (24, "CSF", [60, 60, 60]),
    (25, "Left-Lesion", [255, 165, 0]),
    (26, "Left-Accumbens-area", [255, 165, 0]),
    (27, "Left-Substancia-Nigra", [0, 255, 127]),
    (28, "Left-VentralDC", [165, 42, 42]),
    (30, "Left-vessel", [160, 32, 240]),
    (31, "Left-choroid-plexus", [0, 200, 200]),
    (40, "Right-Cerebral-Exterior", [70, 130, 180]),
    (41, "Right-Cerebral-White-Matter", [245, 245, 245]),
    (42, "Right-Cerebral-Cortex", [205, 62, 78]),
    (43, "Right-Lateral-Ventricle", [120, 18, 134]),
    (44, "Right-Inf-Lat-Vent", [196, 58, 250]),
    (45, "Right-Cerebellum-Exterior", [0, 148, 0]),
    (46, "Right-Cerebellum-White-Matter", [220, 248, 164]),
    (47, "Right-Cerebellum-Cortex", [230, 148, 34]),
    (49, "Right-Thalamus", [0, 118, 14]),
    (50, "Right-Caudate", [122, 186, 220]),
    (51, "Right-Putamen", [236, 13, 176]),
    (52, "Right-Pallidum", [13, 48, 255]),
    (53, "Right-Hippocampus", [220, 216, 20]),
    (54, "Right-Amygdala", [103, 255, 255]),
    (57, "Right-Lesion", [255, 165, 0]),
    (58, "Right-Accumbens-area", [255, 165, 0]),
    (60, "Right-VentralDC", [165, 42, 42]),
    (62, "Right-vessel", [160, 32, 240]),
    (63, "Right-choroid-plexus", [0, 200, 221]),
    (72, "5th-Ventricle", [120, 190, 150]),
    (77, "WM-hypointensities", [200, 70, 255]),
    (85, "Optic-Chiasm", [234, 169, 30]),
    (251, "CC_Posterior", [0, 0, 64]),
    (252, "CC_Mid_Posterior", [0, 0, 112]),
    (253, "CC_Central", [0, 0, 160]),
    (254, "CC_Mid_Anterior", [0, 0, 208]),
    (255, "CC_Anterior", [0, 0, 255]),
];

/// FreeSurfer's Desikan–Killiany cortical parcels (`aparc`): the `i`-th (from 1) is label 1000 + i
/// `ctx-lh-…` on the left and 2000 + i `ctx-rh-…` on the right, in one colour on both sides.
const FREESURFER_APARC: [(&str, [u8; 3]); 35] = [
    ("bankssts", [25, 100, 40]),
    ("caudalanteriorcingulate", [125, 100, 160]),
    ("caudalmiddlefrontal", [100, 25, 0]),
    ("corpuscallosum", [120, 70, 50]),
    ("cuneus", [220, 20, 100]),
    ("entorhinal", [220, 20, 10]),
    ("fusiform", [180, 220, 140]),
    ("inferiorparietal", [220, 60, 220]),
    ("inferiortemporal", [180, 40, 120]),
    ("isthmuscingulate", [140, 20, 140]),
    ("lateraloccipital", [20, 30, 140]),
    ("lateralorbitofrontal", [35, 75, 50]),
    ("lingual", [225, 140, 140]),
    ("medialorbitofrontal", [200, 35, 75]),
    ("middletemporal", [160, 100, 50]),
    ("parahippocampal", [20, 220, 60]),
    ("paracentral", [60, 220, 60]),
    ("parsopercularis", [220, 180, 140]),
    ("parsorbitalis", [20, 100, 50]),
    ("parstriangularis", [220, 60, 20]),
    ("pericalcarine", [120, 100, 60]),
    ("postcentral", [220, 20, 20]),
    ("posteriorcingulate", [220, 180, 220]),
    ("precentral", [60, 20, 220]),
    ("precuneus", [160, 140, 180]),
    ("rostralanteriorcingulate", [80, 20, 140]),
    ("rostralmiddlefrontal", [75, 50, 125]),
    ("superiorfrontal", [20, 220, 160]),
    ("superiorparietal", [20, 180, 140]),
    ("superiortemporal", [140, 220, 220]),
    ("supramarginal", [80, 160, 20]),
    ("frontalpole", [100, 0, 100]),
    ("temporalpole", [70, 70, 70]),
    ("transversetemporal", [150, 150, 200]),
    ("insula", [255, 192, 32]),
];

/// FreeSurfer's Destrieux cortical parcels (`aparc.a2009s`): the `i`-th (from 1) is label
/// 11100 + i `ctx_lh_…` on the left and 12100 + i `ctx_rh_…` on the right, in one colour on
/// both sides.
const FREESURFER_A2009S: [(&str, [u8; 3]); 75] = [
    ("G_and_S_frontomargin", [23, 220, 60]),
    ("G_and_S_occipital_inf", [23, 60, 180]),
    ("G_and_S_paracentral", [63, 100, 60]),
    ("G_and_S_subcentral", [63, 20, 220]),
    ("G_and_S_transv_frontopol", [13, 0, 250]),
    ("G_and_S_cingul-Ant", [26, 60, 0]),
    ("G_and_S_cingul-Mid-Ant", [26, 60, 75]),
    ("G_and_S_cingul-Mid-Post", [26, 60, 150]),
    ("G_cingul-Post-dorsal", [25, 60, 250]),
    ("G_cingul-Post-ventral", [60, 25, 25]),
    ("G_cuneus", [180, 20, 20]),
    ("G_front_inf-Opercular", [220, 20, 100]),
    ("G_front_inf-Orbital", [140, 60, 60]),
    ("G_front_inf-Triangul", [180, 220, 140]),
    ("G_front_middle", [140, 100, 180]),
    ("G_front_sup", [180, 20, 140]),
    ("G_Ins_lg_and_S_cent_ins", [23, 10, 10]),
    ("G_insular_short", [225, 140, 140]),
    ("G_occipital_middle", [180, 60, 180]),
    ("G_occipital_sup", [20, 220, 60]),
    ("G_oc-temp_lat-fusifor", [60, 20, 140]),
    ("G_oc-temp_med-Lingual", [220, 180, 140]),
    ("G_oc-temp_med-Parahip", [65, 100, 20]),
    ("G_orbital", [220, 60, 20]),
    ("G_pariet_inf-Angular", [20, 60, 220]),
    ("G_pariet_inf-Supramar", [100, 100, 60]),
    ("G_parietal_sup", [220, 180, 220]),
    ("G_postcentral", [20, 180, 140]),
    ("G_precentral", [60, 140, 180]),
    ("G_precuneus", [25, 20, 140]),
    ("G_rectus", [20, 60, 100]),
    ("G_subcallosal", [60, 220, 20]),
    ("G_temp_sup-G_T_transv", [60, 60, 220]),
    ("G_temp_sup-Lateral", [220, 60, 220]),
    ("G_temp_sup-Plan_polar", [65, 220, 60]),
    ("G_temp_sup-Plan_tempo", [25, 140, 20]),
    ("G_temporal_inf", [220, 220, 100]),
    ("G_temporal_middle", [180, 60, 60]),
    ("Lat_Fis-ant-Horizont", [61, 20, 220]),
    ("Lat_Fis-ant-Vertical", [61, 20, 60]),
    ("Lat_Fis-post", [61, 60, 100]),
    ("Medial_wall", [25, 25, 25]),
    ("Pole_occipital", [140, 20, 60]),
    ("Pole_temporal", [220, 180, 20]),
    ("S_calcarine", [63, 180, 180]),
    ("S_central", [221, 20, 10]),
    ("S_cingul-Marginalis", [221, 20, 100]),
    ("S_circular_insula_ant", [221, 60, 140]),
    ("S_circular_insula_inf", [221, 20, 220]),
    ("S_circular_insula_sup", [61, 220, 220]),
    ("S_collat_transv_ant", [100, 200, 200]),
    ("S_collat_transv_post", [10, 200, 200]),
    ("S_front_inf", [221, 220, 20]),
    ("S_front_middle", [141, 20, 100]),
    ("S_front_sup", [61, 220, 100]),
    ("S_interm_prim-Jensen", [141, 60, 20]),
    ("S_intrapariet_and_P_trans", [143, 20, 220]),
    ("S_oc_middle_and_Lunatus", [101, 60, 220]),
    ("S_oc_sup_and_transversal", [21, 20, 140]),
    ("S_occipital_ant", [61, 20, 180]),
    ("S_oc-temp_lat", [221, 140, 20]),
    ("S_oc-temp_med_and_Lingual", [141, 100, 220]),
    ("S_orbital_lateral", [221, 100, 20]),
    ("S_orbital_med-olfact", [181, 200, 20]),
    ("S_orbital-H_Shaped", [101, 20, 20]),
    ("S_parieto_occipital", [101, 100, 180]),
    ("S_pericallosal", [181, 220, 20]),
    ("S_postcentral", [21, 140, 200]),
    ("S_precentral-inf-part", [21, 20, 240]),
    ("S_precentral-sup-part", [21, 20, 200]),
    ("S_suborbital", [21, 20, 60]),
    ("S_subparietal", [101, 60, 60]),
    ("S_temporal_inf", [21, 180, 180]),
    ("S_temporal_sup", [223, 220, 60]),
    ("S_temporal_transverse", [221, 60, 60]),
];

impl LabelTable {
    /// Names without colours (a built-in case's).
    pub fn from_names<'a>(
        names: impl IntoIterator<Item = (i32, &'a str)>,
        source: &str,
    ) -> LabelTable {
        LabelTable {
            entries: names
                .into_iter()
                .map(|(id, name)| (id, entry(name, None)))
                .collect(),
            source: Some(source.to_string()),
        }
    }

    /// FreeSurfer's labels: subcortical (aseg) and both cortical parcellations.
    pub fn freesurfer() -> LabelTable {
        let aseg = FREESURFER_ASEG
            .iter()
            .map(|&(id, name, rgb)| (id, entry(name, Some(rgb))));
        // `sep` is how the parcellation spells its names: `ctx-lh-insula`, `ctx_lh_S_central`.
        let cortex = |parcels: &'static [(&str, [u8; 3])], left: i32, right: i32, sep: char| {
            (1..).zip(parcels).flat_map(move |(i, &(name, rgb))| {
                [(left, "lh"), (right, "rh")].map(|(base, side)| {
                    let name = format!("ctx{sep}{side}{sep}{name}");
                    (base + i, entry(&name, Some(rgb)))
                })
            })
        };
        LabelTable {
            entries: aseg
                .chain(cortex(&FREESURFER_APARC, 1000, 2000, '-'))
                .chain(cortex(&FREESURFER_A2009S, 11100, 12100, '_'))
                .collect(),
            source: Some("FreeSurfer's colour table (built in)".to_string()),
        }
    }

    /// The table file `names` when given, else the guess of [`LabelTable::guess_for`] from the
    /// label maps' files.
    pub fn load<'a>(
        names: Option<&Path>,
        label_maps: impl IntoIterator<Item = &'a Option<PathBuf>>,
    ) -> Result<LabelTable> {
        match names {
            Some(p) => LabelTable::read(p),
            None => Ok(LabelTable::guess_for(
                label_maps.into_iter().flatten().map(PathBuf::as_path),
            )),
        }
    }

    /// The table for label maps at `paths` when no table file is given: FreeSurfer's when one is
    /// named like a FreeSurfer segmentation (`aseg`, `aparc+aseg`, …), else none.
    pub fn guess_for<'a>(paths: impl IntoIterator<Item = &'a Path>) -> LabelTable {
        let freesurfer = paths.into_iter().any(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().to_lowercase().contains("aseg"))
        });
        if freesurfer {
            LabelTable::freesurfer()
        } else {
            LabelTable::default()
        }
    }

    /// Reads a table file (any of the formats in the module's description).
    pub fn read(path: &Path) -> Result<LabelTable> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut table = LabelTable::parse(&text).map_err(|problem| Error::format(path, problem))?;
        table.source = path.file_name().map(|n| n.to_string_lossy().into_owned());
        Ok(table)
    }

    fn parse(text: &str) -> std::result::Result<LabelTable, String> {
        let mut entries = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (id, entry) =
                parse_line(line).map_err(|problem| format!("line {}: {problem}", n + 1))?;
            entries.insert(id, entry);
        }
        if entries.is_empty() {
            return Err("no labels in it".to_string());
        }
        Ok(LabelTable {
            entries,
            source: None,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn name(&self, id: i32) -> Option<&str> {
        self.entries.get(&id).map(|e| e.name.as_str())
    }

    /// How the user sees label `id`: "17 Left-Hippocampus", or "17" without a name.
    pub fn title(&self, id: i32) -> String {
        match self.name(id) {
            Some(name) => format!("{id} {name}"),
            None => id.to_string(),
        }
    }

    pub fn colour(&self, id: i32) -> Option<[u8; 3]> {
        self.entries.get(&id).and_then(|e| e.colour)
    }

    /// How much of the overlay's opacity label `id` is drawn with (1 unless the table says).
    pub fn opacity(&self, id: i32) -> f32 {
        self.entries.get(&id).map_or(1.0, |e| e.opacity)
    }

    /// Ids the table says start hidden, other than the background (0, never drawn).
    pub fn hidden(&self) -> impl Iterator<Item = i32> + '_ {
        self.entries
            .iter()
            .filter(|&(&id, e)| id != 0 && !e.visible)
            .map(|(&id, _)| id)
    }
}

fn entry(name: &str, colour: Option<[u8; 3]>) -> LabelEntry {
    LabelEntry {
        name: name.to_string(),
        colour,
        visible: true,
        opacity: 1.0,
    }
}

/// One line: ITK-SNAP's `IDX R G B A VIS MSH "name"` when it quotes its name, else
/// `id name [R G B [A]]` (FreeSurfer and Slicer tables, or plain names).
fn parse_line(line: &str) -> std::result::Result<(i32, LabelEntry), String> {
    if let Some(open) = line.find('"') {
        let close = line
            .rfind('"')
            .filter(|&c| c > open)
            .ok_or("an unclosed quote")?;
        let name = line[open + 1..close].trim();
        let fields: Vec<&str> = line[..open].split_whitespace().collect();
        let id = label_id(fields.first().copied())?;
        let number = |i: usize| -> std::result::Result<Option<f64>, String> {
            fields
                .get(i)
                .map(|w| {
                    w.parse::<f64>()
                        .map_err(|_| format!("{w:?} is not a number"))
                })
                .transpose()
        };
        let channel = |i| -> std::result::Result<Option<u8>, String> {
            match number(i)? {
                Some(v) if (0.0..=255.0).contains(&v) => Ok(Some(v as u8)),
                Some(v) => Err(format!("colour component {v} is outside 0–255")),
                None => Ok(None),
            }
        };
        let colour = match (channel(1)?, channel(2)?, channel(3)?) {
            (Some(r), Some(g), Some(b)) => Some([r, g, b]),
            _ => None,
        };
        let opacity = match number(4)? {
            Some(a) if (0.0..=1.0).contains(&a) => a as f32,
            Some(a) => return Err(format!("opacity {a} is outside 0–1")),
            None => 1.0,
        };
        let visible = number(5)?.is_none_or(|v| v != 0.0);
        let name = if name.is_empty() {
            id.to_string()
        } else {
            name.to_string()
        };
        return Ok((
            id,
            LabelEntry {
                name,
                colour,
                visible,
                opacity,
            },
        ));
    }
    let line = line.split('#').next().unwrap_or("");
    let mut words = line.split_whitespace();
    let id = label_id(words.next())?;
    let rest: Vec<&str> = words.collect();
    let trailing = rest
        .iter()
        .rev()
        .take_while(|w| w.parse::<u8>().is_ok())
        .count();
    // A colour needs at least one name word before it; a fourth number is the table's alpha.
    let colour_columns = match trailing {
        t if t >= 4 && rest.len() > 4 => 4,
        t if t >= 3 && rest.len() > 3 => 3,
        _ => 0,
    };
    let mut name_words = &rest[..rest.len() - colour_columns];
    // AAL's tables end in the atlas's own region code (`1 Precentral_L 2001`), never a colour.
    if let [first, .., last] = name_words
        && colour_columns == 0
        && first.parse::<f64>().is_err()
        && last.parse::<u32>().is_ok_and(|code| code > 255)
    {
        name_words = &name_words[..name_words.len() - 1];
    }
    if name_words.is_empty() {
        return Err(format!("label {id} has no name"));
    }
    let colour = (colour_columns > 0).then(|| {
        let c = &rest[rest.len() - colour_columns..];
        [0, 1, 2].map(|i| c[i].parse::<u8>().expect("counted as u8 above"))
    });
    Ok((id, entry(&name_words.join(" "), colour)))
}

fn label_id(word: Option<&str>) -> std::result::Result<i32, String> {
    word.and_then(|w| w.parse::<i32>().ok())
        .ok_or_else(|| "no label id".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_freesurfer_and_slicer_lines() {
        let t = LabelTable::parse(
            "# comment\n1 left grey matter\n17 Left-Hippocampus 220 216 20 0\n\
             5 vessel 10 20 30\n8 Liver 221 130 101 255 # a Slicer line\n\
             45 Vermis_10 9170\n46 segment 2\n",
        )
        .unwrap();
        assert_eq!(t.name(1), Some("left grey matter"));
        assert_eq!(t.title(1), "1 left grey matter");
        assert_eq!(t.title(2), "2");
        assert_eq!(t.colour(1), None);
        assert_eq!(t.name(17), Some("Left-Hippocampus"));
        assert_eq!(t.colour(17), Some([220, 216, 20]));
        assert_eq!(
            (t.name(5), t.colour(5)),
            (Some("vessel"), Some([10, 20, 30]))
        );
        assert_eq!(
            (t.name(8), t.colour(8)),
            (Some("Liver"), Some([221, 130, 101]))
        );
        assert_eq!(
            t.name(45),
            Some("Vermis_10"),
            "AAL's code is not part of the name"
        );
        assert_eq!(t.name(46), Some("segment 2"));
        assert_eq!(t.hidden().count(), 0);
        assert!(LabelTable::parse("x name\n").is_err());
        assert!(LabelTable::parse("3\n").is_err());
        assert!(LabelTable::parse("# only a comment\n").is_err());
    }

    #[test]
    fn itk_snap_label_descriptions() {
        let t = LabelTable::parse(
            "################################################\n\
             # ITK-SnAP Label Description File\n\
             # IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL\n\
             ################################################\n\
             \x20   0     0    0    0        0  0  0    \"Clear Label\"\n\
             \x20   1   255    0    0        1  1  1    \"Tumour #1 (core)\"\n\
             \x20   2     0  255    0      0.5  0  1    \"oedema\"\n",
        )
        .unwrap();
        assert_eq!(t.name(1), Some("Tumour #1 (core)"));
        assert_eq!(t.colour(1), Some([255, 0, 0]));
        assert_eq!(t.colour(2), Some([0, 255, 0]));
        assert_eq!(t.hidden().collect::<Vec<_>>(), vec![2]);
        assert_eq!((t.opacity(1), t.opacity(2), t.opacity(7)), (1.0, 0.5, 1.0));
        assert!(LabelTable::parse("1 255 0 0 1 1 1 \"open\n").is_err());
        assert!(LabelTable::parse("1 255 0 0 2 1 1 \"too opaque\"\n").is_err());
        assert!(LabelTable::parse("1 300 0 0 1 1 1 \"too red\"\n").is_err());
    }

    #[test]
    fn freesurfer_names_are_guessed_from_an_aseg_file_name() {
        let t = LabelTable::guess_for([Path::new("/data/subjA_aseg.nii.gz")]);
        assert_eq!(t.name(17), Some("Left-Hippocampus"));
        assert_eq!(t.colour(3), Some([205, 62, 78]));
        let t = LabelTable::guess_for([Path::new("/data/aparc+aseg.nii.gz")]);
        assert_eq!(t.name(53), Some("Right-Hippocampus"));
        assert!(LabelTable::guess_for([Path::new("label0.nii.gz")]).is_empty());
        let ids: Vec<i32> = FREESURFER_ASEG.iter().map(|e| e.0).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids sorted and unique");
    }

    #[test]
    fn freesurfer_cortical_parcels_are_named_on_both_sides() {
        let t = LabelTable::freesurfer();
        assert_eq!(t.entries.len(), 51 + 2 * 35 + 2 * 75, "no id given twice");
        assert_eq!(t.name(1001), Some("ctx-lh-bankssts"));
        assert_eq!(t.name(2035), Some("ctx-rh-insula"));
        assert_eq!(t.colour(2035), Some([255, 192, 32]));
        assert_eq!(t.name(11101), Some("ctx_lh_G_and_S_frontomargin"));
        assert_eq!(t.colour(11101), Some([23, 220, 60]));
        assert_eq!(t.name(12175), Some("ctx_rh_S_temporal_transverse"));
        assert_eq!(t.colour(12175), Some([221, 60, 60]));
        assert_eq!(t.name(11176), None);
    }
}
