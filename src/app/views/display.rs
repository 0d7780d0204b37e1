//! What the views show and how: compare mode, per-image windows and colour maps, label and
//! deformation overlays. Plain data (serde), saved with sessions and compared to decide when a
//! slice image must be composed again.

use super::colour::{ColourMap, Window};
use crate::eval::joint_histogram::{BinBox, Region};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// How the fixed and the moving (or warped) image share a view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareMode {
    Fixed,
    Moving,
    /// The moving image over the fixed one with an opacity.
    Blend,
    /// Fixed in magenta, moving in green: aligned structures turn grey.
    Fusion,
    /// Alternating square tiles of both images, `checker_mm` wide.
    Checkerboard,
    /// Windowed fixed minus windowed moving, on the diverging map.
    Difference,
    /// The fixed image's edges in yellow over the moving image.
    Contours,
    /// Fixed and moving in turns, `flicker_ms` each.
    Flicker,
    /// Fixed left of a vertical line, moving right of it; drag the line.
    Wipe,
}

impl CompareMode {
    pub const ALL: [CompareMode; 9] = [
        CompareMode::Fixed,
        CompareMode::Moving,
        CompareMode::Blend,
        CompareMode::Fusion,
        CompareMode::Checkerboard,
        CompareMode::Difference,
        CompareMode::Contours,
        CompareMode::Flicker,
        CompareMode::Wipe,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CompareMode::Fixed => "fixed",
            CompareMode::Moving => "moving",
            CompareMode::Blend => "blend",
            CompareMode::Fusion => "magenta/green",
            CompareMode::Checkerboard => "checkerboard",
            CompareMode::Difference => "difference",
            CompareMode::Contours => "fixed contours",
            CompareMode::Flicker => "flicker",
            CompareMode::Wipe => "wipe",
        }
    }

    /// Its name when kept result `against` stands in for the fixed image.
    pub fn name_against(self, against: Option<usize>) -> std::borrow::Cow<'static, str> {
        match (self, against) {
            (CompareMode::Fixed, Some(n)) => format!("result {n}").into(),
            (CompareMode::Contours, Some(n)) => format!("result {n} contours").into(),
            _ => self.name().into(),
        }
    }
}

/// One image layer's look.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerLook {
    pub window: Window,
    pub colour_map: ColourMap,
}

/// A scalar map of the deformation drawn over the images.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldMap {
    None,
    /// |u| in mm on viridis, with iso-contours.
    Magnitude,
    /// How far apart (mm) the shown transform and the kept result compared against
    /// ([`Display::against`]) take each point, drawn as |u| is: where two registrations disagree.
    Disagreement,
    /// det J on the diverging map around 1 (log scale, ¼ to 4), folds (det J ≤ 0) in yellow.
    Jacobian,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelLook {
    pub visible: bool,
    /// Outline instead of fill.
    pub outline: bool,
    pub opacity: f32,
    pub hidden: BTreeSet<i32>,
    /// Show the moving labels (warped with the moving image) instead of the fixed ones.
    pub moving: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeformationLook {
    pub map: FieldMap,
    pub map_opacity: f32,
    /// Spacing of the |u| iso-contours (0: none).
    pub contour_mm: f32,
    /// |u| that gets the map's last colour.
    pub magnitude_max_mm: f32,
    pub grid: bool,
    pub grid_mm: f32,
    pub arrows: bool,
    pub arrow_mm: f32,
    pub arrow_scale: f32,
}

/// Everything about how slices look; one per window, shared by the views (they stay linked).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Display {
    pub mode: CompareMode,
    /// Show the moving image through the current transform (when there is one).
    pub warped: bool,
    /// With `warped`: through its affine stage alone, to see what the deformable stage adds.
    #[serde(default)]
    pub affine_only: bool,
    pub fixed: LayerLook,
    pub moving: LayerLook,
    pub blend: f32,
    pub checker_mm: f32,
    pub flicker_ms: u32,
    /// The wipe line's position, as a fraction of the slice's width.
    pub wipe: f32,
    pub labels: LabelLook,
    pub deformation: DeformationLook,
    /// Patient right on the screen's left.
    pub radiological: bool,
    /// Bins picked in the joint histogram: the pixels whose fixed and moving values fall in them
    /// are highlighted, inside `joint_region`.
    #[serde(default)]
    pub joint_box: Option<BinBox>,
    /// The fixed voxels the joint histogram counts. The highlight keeps to them too, since the
    /// picked bins' counts are of them alone.
    #[serde(default)]
    pub joint_region: Region,
    /// The kept result (by number) whose warped moving image takes the fixed image's place in
    /// the compare modes, so that two results are compared with each other. Not saved: a
    /// reopened session keeps the transform of its shown result alone.
    #[serde(skip)]
    pub against: Option<usize>,
}

impl Display {
    pub fn new(fixed: Window, moving: Window) -> Display {
        Display {
            mode: CompareMode::Fusion,
            warped: true,
            affine_only: false,
            fixed: LayerLook {
                window: fixed,
                colour_map: ColourMap::Grey,
            },
            moving: LayerLook {
                window: moving,
                colour_map: ColourMap::Grey,
            },
            blend: 0.5,
            checker_mm: 20.0,
            flicker_ms: 500,
            wipe: 0.5,
            labels: LabelLook {
                visible: false,
                outline: true,
                opacity: 0.6,
                hidden: BTreeSet::new(),
                moving: false,
            },
            deformation: DeformationLook {
                map: FieldMap::None,
                map_opacity: 0.6,
                contour_mm: 1.0,
                magnitude_max_mm: 10.0,
                grid: false,
                grid_mm: 8.0,
                arrows: false,
                arrow_mm: 12.0,
                arrow_scale: 1.0,
            },
            radiological: true,
            joint_box: None,
            joint_region: Region::Everywhere,
            against: None,
        }
    }
}
