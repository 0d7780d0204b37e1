//! The display panel: compare mode and its settings, each image's window and colour map, label
//! overlay, deformation overlays, and the orientation convention.

use crate::app::panels::joint_histogram::within;
use crate::app::pull::Pull;
use crate::app::state::Document;
use crate::app::style::label_swatch;
use crate::app::views::colour::{CT_PRESETS, ColourMap, Window, label_colour};
use crate::app::views::compose::JOINT_BOX_COLOUR;
use crate::app::views::display::{CompareMode, Display, FieldMap, LayerLook};
use crate::volume::ScalarVolume;
use crate::volume::histogram::Histogram;

/// The display panel; "go to" in the label list moves `cursor_mm` (world mm). Returns the kept
/// result to show in place of the shown one, which is then compared against (a swap).
pub fn display_ui(
    ui: &mut egui::Ui,
    d: &mut Display,
    cursor_mm: &mut [f64; 3],
    doc: &Document,
) -> Option<usize> {
    ui.heading("compare");
    let against = Pull::against(doc, d).map(|(number, _)| number);
    ui.horizontal_wrapped(|ui| {
        for mode in CompareMode::ALL {
            ui.selectable_value(&mut d.mode, mode, mode.name_against(against));
        }
    });
    let swap = against_ui(ui, d, against, doc);
    match d.mode {
        CompareMode::Blend => {
            ui.add(egui::Slider::new(&mut d.blend, 0.0..=1.0).text("moving opacity"));
        }
        CompareMode::Checkerboard => {
            ui.add(egui::Slider::new(&mut d.checker_mm, 2.0..=100.0).text("tile (mm)"));
        }
        CompareMode::Flicker => {
            ui.add(egui::Slider::new(&mut d.flicker_ms, 100..=2000).text("interval (ms)"));
        }
        CompareMode::Wipe => {
            ui.add(egui::Slider::new(&mut d.wipe, 0.0..=1.0).text("wipe (drag in a view)"));
        }
        _ => {}
    }
    if d.joint_box.is_some() {
        ui.horizontal_wrapped(|ui| {
            label_swatch(ui, JOINT_BOX_COLOUR);
            ui.label(format!(
                "highlighted: the values picked in the joint histogram (Images tab){}",
                within(d.joint_region, doc)
            ));
            if ui.button("clear highlight").clicked() {
                d.joint_box = None;
            }
        });
    }
    ui.add_enabled(
        doc.deformation.is_some(),
        egui::Checkbox::new(&mut d.warped, "moving through the current transform"),
    );
    ui.add_enabled_ui(doc.deformation.is_some() && d.warped, |ui| {
        ui.horizontal(|ui| {
            ui.add_space(ui.spacing().indent);
            ui.selectable_value(&mut d.affine_only, false, "whole")
                .on_hover_text("the affine and the deformable stage");
            ui.selectable_value(&mut d.affine_only, true, "affine stage only")
                .on_hover_text(
                    "the affine alone: flip between the two to see what the deformable stage adds",
                );
        });
    });
    ui.checkbox(
        &mut d.radiological,
        "radiological (patient right on the left)",
    );
    ui.separator();
    look_ui(
        ui,
        "fixed",
        &mut d.fixed,
        &doc.case.fixed,
        &doc.facts.fixed_histogram,
    );
    look_ui(
        ui,
        "moving",
        &mut d.moving,
        &doc.case.moving,
        &doc.facts.moving_histogram,
    );
    ui.separator();
    labels_ui(ui, d, cursor_mm, doc);
    ui.separator();
    deformation_ui(ui, d, against, doc);
    swap
}

/// What the moving image is compared with: the fixed image, or another kept result's warped
/// moving image (two settings, or a run and the result before it, side by side). Returns the
/// result compared against when "swap" asks to show it instead.
fn against_ui(
    ui: &mut egui::Ui,
    d: &mut Display,
    against: Option<usize>,
    doc: &Document,
) -> Option<usize> {
    // A result whose transform went for memory, or that left the table, no longer stands in.
    if against.is_none() {
        d.against = None;
    }
    let results = &doc.results;
    let others: Vec<_> = results
        .kept
        .iter()
        .filter(|r| results.comparable(r.number).is_some())
        .collect();
    // Shown only once there is a second kept result to compare with: until then it would only
    // push the panel down.
    if others.is_empty() {
        return None;
    }
    let title = |n: Option<usize>| match n.and_then(|n| results.get(n)) {
        Some(r) => format!("result {}: {}", r.number, r.name),
        None => "the fixed image".to_string(),
    };
    ui.horizontal(|ui| {
        let label = ui.label("against").id;
        // Swapping needs a kept result on show: a run's snapshots are none.
        let swap = against.zip(results.shown);
        let swap_width = 48.0;
        let spacing = ui.spacing().item_spacing.x;
        let width = ui.available_width()
            - 8.0
            - if swap.is_some() {
                swap_width + spacing
            } else {
                0.0
            };
        // A long name is cut (whole in the list) rather than widening the panel: the box takes
        // its text's width otherwise, whatever width it is given.
        ui.scope(|ui| {
            ui.set_max_width(width);
            egui::ComboBox::from_id_salt("compare against")
                .selected_text(title(against))
                .truncate()
                .width(width)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut d.against, None, title(None));
                    for r in &others {
                        ui.selectable_value(&mut d.against, Some(r.number), title(Some(r.number)));
                    }
                })
                .response
                .labelled_by(label)
                .on_hover_text(format!(
                    "{}. Another kept result's warped moving image takes the fixed image's \
                     place in every mode, in the moving image's look: the difference mode shows \
                     where two results disagree",
                    title(against)
                ));
        });
        let (compared, shown) = swap?;
        ui.add(egui::Button::new("swap").min_size(egui::vec2(swap_width, 0.0)))
            .on_hover_text(format!(
                "show result {compared}, and compare it against result {shown}"
            ))
            .clicked()
            .then_some(compared)
    })
    .inner
}

fn look_ui(
    ui: &mut egui::Ui,
    name: &str,
    look: &mut LayerLook,
    image: &ScalarVolume,
    histogram: &Histogram,
) {
    let title = ui
        .label(egui::RichText::new(format!("{name} image")).strong())
        .id;
    ui.horizontal(|ui| {
        let speed = ((histogram.max - histogram.min) / 500.0).max(1e-6);
        let label = ui.label("window").id;
        ui.add(egui::DragValue::new(&mut look.window.lo).speed(speed))
            .labelled_by(label);
        let label = ui.label("to").id;
        ui.add(egui::DragValue::new(&mut look.window.hi).speed(speed))
            .labelled_by(label);
        look.window = Window::new(look.window.lo, look.window.hi);
        egui::ComboBox::from_id_salt(("map", name))
            .selected_text(look.colour_map.name())
            .show_ui(ui, |ui| {
                for map in ColourMap::ALL {
                    ui.selectable_value(&mut look.colour_map, map, map.name());
                }
            })
            .response
            .labelled_by(title);
    });
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("auto")
            .on_hover_text("1 % to 99.5 % of the values")
            .clicked()
        {
            look.window = Window::auto(image);
        }
        for (preset, level, width) in CT_PRESETS {
            if ui
                .small_button(preset)
                .on_hover_text(format!("CT window: level {level} HU, width {width} HU"))
                .clicked()
            {
                look.window = Window::from_level_width(level, width);
            }
        }
    });
}

/// A structure's volume as radiology reports give it: ml, or mm³ under one ml.
pub fn volume_text(mm3: f64) -> String {
    let ml = mm3 / 1000.0;
    match ml {
        _ if ml < 1.0 => format!("{mm3:.0} mm³"),
        _ if ml < 10.0 => format!("{ml:.2} ml"),
        _ if ml < 100.0 => format!("{ml:.1} ml"),
        _ => format!("{ml:.0} ml"),
    }
}

fn labels_ui(ui: &mut egui::Ui, d: &mut Display, cursor_mm: &mut [f64; 3], doc: &Document) {
    let case = &doc.case;
    let sites = if d.labels.moving {
        &doc.facts.moving_label_sites
    } else {
        &doc.facts.fixed_label_sites
    };
    // Warped moving labels show where the transform takes them.
    let pull = if d.labels.moving {
        Pull::of(doc, d)
    } else {
        Pull::AsLoaded
    };
    ui.add_enabled_ui(
        case.fixed_labels.is_some() || case.moving_labels.is_some(),
        |ui| {
            ui.horizontal(|ui| {
                ui.checkbox(&mut d.labels.visible, "labels");
                ui.checkbox(&mut d.labels.outline, "outline");
                ui.checkbox(&mut d.labels.moving, "moving (warped)");
            });
            ui.add(egui::Slider::new(&mut d.labels.opacity, 0.0..=1.0).text("opacity"));
            // The filter is the list's own state, not the display's: typing redraws no slice.
            let filter_id = ui.scope_id().with("label filter");
            let mut filter: String = ui.data_mut(|m| m.get_temp(filter_id).unwrap_or_default());
            let needle = filter.trim().to_lowercase();
            let listed: Vec<(i32, String)> = sites
                .keys()
                .map(|&id| (id, case.label_table.title(id)))
                .filter(|(_, t)| t.to_lowercase().contains(&needle))
                .collect();
            ui.horizontal(|ui| {
                let find = ui.label("find");
                ui.add(
                    egui::TextEdit::singleline(&mut filter)
                        .hint_text("id or name")
                        .desired_width(100.0),
                )
                .labelled_by(find.id);
                if ui
                    .small_button("show all")
                    .on_hover_text("the labels listed")
                    .clicked()
                {
                    for (id, _) in &listed {
                        d.labels.hidden.remove(id);
                    }
                }
                if ui
                    .small_button("hide all")
                    .on_hover_text("the labels listed")
                    .clicked()
                {
                    d.labels.hidden.extend(listed.iter().map(|(id, _)| *id));
                }
            });
            ui.data_mut(|m| m.insert_temp(filter_id, filter));
            egui::ScrollArea::vertical()
                .id_salt("label list")
                .max_height(180.0)
                .show(ui, |ui| {
                    for (id, name) in listed {
                        let site = &sites[&id];
                        ui.horizontal(|ui| {
                            label_swatch(ui, label_colour(&case.label_table, id));
                            let mut shown = !d.labels.hidden.contains(&id);
                            let tick = ui.checkbox(&mut shown, "");
                            let p = site.inner_point_mm;
                            let right = egui::Layout::right_to_left(egui::Align::Center);
                            let text = ui.with_layout(right, |ui| {
                                if ui
                                    .small_button("go to")
                                    .on_hover_text("move the crosshair into this label")
                                    .clicked()
                                {
                                    *cursor_mm = pull.shown_point(p);
                                }
                                // The name takes the room left: long ones (FreeSurfer's
                                // cortical parcels) end in "…", whole on hover with the
                                // label's size, which has no room of its own beside them.
                                let left = egui::Layout::left_to_right(egui::Align::Center);
                                ui.with_layout(left, |ui| {
                                    ui.add(
                                        egui::Label::new(&name)
                                            .truncate()
                                            .show_tooltip_when_elided(false)
                                            .sense(egui::Sense::click()),
                                    )
                                })
                                .inner
                            });
                            let text = text.inner.on_hover_text(format!(
                                "{name}: {} voxels, {}",
                                site.voxels,
                                volume_text(site.volume_mm3)
                            ));
                            let tick = tick.labelled_by(text.id);
                            if tick.changed() || text.clicked() {
                                if text.clicked() {
                                    shown = !shown;
                                }
                                if shown {
                                    d.labels.hidden.remove(&id);
                                } else {
                                    d.labels.hidden.insert(id);
                                }
                            }
                        });
                    }
                });
            if let Some(source) = &case.label_table.source {
                ui.label(egui::RichText::new(format!("names: {source}")).weak());
            }
        },
    );
}

/// The deformation overlays; `against` is the kept result compared against, whose disagreement
/// with the shown transform can be mapped.
fn deformation_ui(ui: &mut egui::Ui, d: &mut Display, against: Option<usize>, doc: &Document) {
    let look = &mut d.deformation;
    if against.is_none() && look.map == FieldMap::Disagreement {
        look.map = FieldMap::None;
    }
    ui.add_enabled_ui(doc.deformation.is_some(), |ui| {
        ui.label(egui::RichText::new("deformation").strong());
        ui.horizontal(|ui| {
            ui.selectable_value(&mut look.map, FieldMap::None, "no map");
            ui.selectable_value(&mut look.map, FieldMap::Magnitude, "|u|");
            ui.selectable_value(&mut look.map, FieldMap::Jacobian, "det J");
            if let Some(n) = against {
                ui.selectable_value(&mut look.map, FieldMap::Disagreement, "|Δu|")
                    .on_hover_text(format!(
                        "how far apart the shown transform and result {n} take each point (mm): \
                         where the two registrations disagree"
                    ));
            }
        });
        ui.add(egui::Slider::new(&mut look.map_opacity, 0.0..=1.0).text("map opacity"));
        if matches!(look.map, FieldMap::Magnitude | FieldMap::Disagreement) {
            let name = if look.map == FieldMap::Magnitude {
                "|u|"
            } else {
                "|Δu|"
            };
            ui.add(
                egui::Slider::new(&mut look.magnitude_max_mm, 0.5..=50.0)
                    .text(format!("{name} range (mm)")),
            );
            // Short enough for the panel's default width: a wider row would widen the panel
            // and shift the views whenever the map is switched on.
            ui.add(egui::Slider::new(&mut look.contour_mm, 0.0..=10.0).text("iso-lines (mm)"))
                .on_hover_text("a white line every this many mm (0: none)");
        }
        ui.horizontal(|ui| {
            let label = ui.checkbox(&mut look.grid, "grid").id;
            ui.add(
                egui::DragValue::new(&mut look.grid_mm)
                    .range(2.0..=50.0)
                    .suffix(" mm"),
            )
            .labelled_by(label);
        });
        ui.horizontal(|ui| {
            let label = ui.checkbox(&mut look.arrows, "arrows").id;
            ui.add(
                egui::DragValue::new(&mut look.arrow_mm)
                    .range(4.0..=60.0)
                    .suffix(" mm apart"),
            )
            .labelled_by(label);
            ui.add(
                egui::DragValue::new(&mut look.arrow_scale)
                    .range(0.1..=10.0)
                    .prefix("×"),
            )
            .labelled_by(label);
        });
        if let Some(def) = &doc.deformation {
            ui.label(def.stats.summary())
                .on_hover_text(crate::eval::jacobian::DEFINITION);
            ui.label(format!(
                "NDV {:.3} mm³ ({:.4} %)",
                def.ndv.mm3,
                100.0 * def.ndv.fraction
            ))
            .on_hover_text(format!(
                "{} In the det J map, cyan marks the cubes between voxel centres that fold \
                 where det J stays above 0.",
                crate::eval::non_diffeomorphic::DEFINITION
            ));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::volume_text;

    #[test]
    fn volumes_read_in_ml_with_three_figures_or_in_mm3_under_one_ml() {
        assert_eq!(volume_text(850.4), "850 mm³");
        assert_eq!(volume_text(4213.0), "4.21 ml");
        assert_eq!(volume_text(42_130.0), "42.1 ml");
        assert_eq!(volume_text(1_234_567.0), "1235 ml");
    }
}
