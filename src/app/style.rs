//! How the window's widgets are drawn: lean on a software rasteriser, egui's defaults elsewhere.
//!
//! On lavapipe a frame's cost follows the triangles drawn more than the pixels: each small or
//! thin triangle is set up, binned and shaded in whole 4 × 4 blocks. Rounded corners (a fan of
//! triangles per corner) and the one-pixel anti-aliasing feathers around every shape made about
//! 70 % of the window's triangles (9051 → 2457 without them, the demo case at 1400 × 900), so a
//! software rasteriser draws square corners and no feathers. Text is unchanged: glyphs are
//! anti-aliased in the font atlas, not by feathering. It still pays with egui's shader made
//! cheap (`vendor/egui-wgpu`): the brain pair's idle frame p50 is 7.2–7.6 ms with it, 9.3–9.5 ms
//! without (two runs each, same session).

/// Corner radius of small filled marks (label swatches, the colour bar's backing).
pub fn mark_radius(visuals: &egui::Visuals) -> egui::CornerRadius {
    visuals.widgets.noninteractive.corner_radius
}

/// A label's colour swatch, in line with its name.
pub fn label_swatch(ui: &mut egui::Ui, [r, g, b]: [u8; 3]) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
    ui.painter().rect_filled(
        rect,
        mark_radius(ui.visuals()),
        egui::Color32::from_rgb(r, g, b),
    );
}

/// Applies the lean style to every theme of `ctx` when `software` (a CPU adapter) is true.
pub fn apply(ctx: &egui::Context, software: bool) {
    if !software {
        return;
    }
    ctx.tessellation_options_mut(|o| o.feathering = false);
    ctx.all_styles_mut(|style| {
        let v = &mut style.visuals;
        for w in [
            &mut v.widgets.noninteractive,
            &mut v.widgets.inactive,
            &mut v.widgets.hovered,
            &mut v.widgets.active,
            &mut v.widgets.open,
        ] {
            w.corner_radius = egui::CornerRadius::ZERO;
        }
        v.window_corner_radius = egui::CornerRadius::ZERO;
        v.menu_corner_radius = egui::CornerRadius::ZERO;
        v.window_shadow = egui::Shadow::NONE;
        v.popup_shadow = egui::Shadow::NONE;
    });
}

/// A progress bar whose corners follow the widgets' (egui rounds its ends by default).
pub fn progress_bar(ui: &egui::Ui, fraction: f32) -> egui::ProgressBar {
    egui::ProgressBar::new(fraction).corner_radius(ui.visuals().widgets.inactive.corner_radius)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_rasterisers_draw_square_unfeathered_widgets() {
        let ctx = egui::Context::default();
        apply(&ctx, false);
        assert!(ctx.tessellation_options(|o| o.feathering));
        assert_ne!(
            ctx.global_style().visuals.widgets.inactive.corner_radius,
            egui::CornerRadius::ZERO
        );
        apply(&ctx, true);
        assert!(!ctx.tessellation_options(|o| o.feathering));
        let style = ctx.global_style();
        assert_eq!(
            style.visuals.widgets.inactive.corner_radius,
            egui::CornerRadius::ZERO
        );
        assert_eq!(style.visuals.window_corner_radius, egui::CornerRadius::ZERO);
    }
}
