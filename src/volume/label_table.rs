//! Names and colours of label ids: read from ITK-SNAP label descriptions, FreeSurfer or 3D Slicer
//! colour tables, AAL's region lists and plain `id name` lines; FreeSurfer's own names and colours
//! for its `aseg` segmentations are built in.

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

    /// FreeSurfer's subcortical (aseg) labels.
    pub fn freesurfer_aseg() -> LabelTable {
        LabelTable {
            entries: FREESURFER_ASEG
                .iter()
                .map(|&(id, name, rgb)| (id, entry(name, Some(rgb))))
                .collect(),
            source: Some("FreeSurfer's aseg table (built in)".to_string()),
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
            LabelTable::freesurfer_aseg()
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
        assert!(LabelTable::parse("1 255 0 0 1 1 1 \"open\n").is_err());
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
}
