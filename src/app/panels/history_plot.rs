//! Plots of histories (losses by iteration, scores by time) in the panels' style: no background,
//! coarse decimal grid lines, stage marks.

use egui_plot::{
    GridInput, GridMark, Line, Plot, PlotPoint, PlotPoints, Points, Text, VLine,
    uniform_grid_spacer,
};

/// One value of a history point, `None` where it was not measured.
pub(super) type Series<T> = (&'static str, fn(&T) -> Option<f64>);

/// A titled stack of short plots of `points` against `x`, one per group of series that has a
/// value, each under its series' names and latest values, with a vertical line at each of `marks`
/// (x, label). Terms of very different sizes (a similarity near −1 and a folding penalty of 1e-6)
/// on one axis would leave the small ones a flat line at zero, so only series on one scale share
/// a group (a network's Dice and the Dice of the affine alone). Each plot spans its own series
/// (the regularisers only run in the deformable stage) with the marks there, and all share one
/// cursor; the marks' labels are in the first plot only. No background and only coarse grid
/// lines: a plot's fill and fine grid cost a software rasteriser as much as the rest of the frame.
pub(super) fn stacked_history_ui<T>(
    ui: &mut egui::Ui,
    title: &str,
    points: &[T],
    x: fn(&T) -> f64,
    groups: &[&[Series<T>]],
    marks: &[(f64, String)],
) {
    if !titled(ui, title, points) {
        return;
    }
    let mut first = true;
    let indexed = groups.iter().scan(0, |next, group| {
        let start = *next;
        *next += group.len();
        Some(group.iter().enumerate().map(move |(i, s)| (start + i, s)))
    });
    for group in indexed {
        // Each measured series with its first and latest point.
        let measured: Vec<_> = group
            .filter_map(|(index, line)| {
                let mut values = points.iter().filter_map(|p| Some((x(p), (line.1)(p)?)));
                let first = values.next()?;
                Some(((index, line), first.0, values.last().unwrap_or(first)))
            })
            .collect();
        if measured.is_empty() {
            continue;
        }
        let start = measured.iter().map(|m| m.1).fold(f64::INFINITY, f64::min);
        let end = measured
            .iter()
            .map(|m| m.2.0)
            .fold(f64::NEG_INFINITY, f64::max);
        ui.horizontal(|ui| {
            for &((index, &(name, _)), _, (_, latest)) in &measured {
                ui.colored_label(series_colour(index), name);
                ui.weak(significant(latest));
            }
        });
        let names: Vec<_> = measured.iter().map(|m| (m.0).1.0).collect();
        let plot = decimal_plot(&format!("{title}: {}", names.join(", ")), 56.0)
            // One width for every y axis lines the plots' x axes up.
            .y_axis_min_width(50.0)
            .link_cursor(ui.scope_id().with(title), [true, false]);
        let within: Vec<_> = marks
            .iter()
            .filter(|(at, _)| (start..=end).contains(at))
            .cloned()
            .collect();
        let lines: Vec<_> = measured.iter().map(|m| m.0).collect();
        draw(ui, plot, (points, x), &lines, &within, first);
        first = false;
    }
}

/// `v` to four significant digits without trailing zeros, in scientific notation when far from 1
/// (a Dice of "7.1040e-1" and a log slider at 0 reading "0.000000" were both hard to read).
pub(super) fn significant(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    if !(1e-3..1e5).contains(&v.abs()) {
        return format!("{v:.3e}");
    }
    let decimals = (3.0 - v.abs().log10().floor()).max(0.0) as usize;
    let text = format!("{v:.decimals$}");
    match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.').to_string(),
        false => text,
    }
}

/// The title, or that there is nothing yet; whether there is something to plot.
fn titled<T>(ui: &mut egui::Ui, title: &str, points: &[T]) -> bool {
    if points.is_empty() {
        ui.label(format!("{title}: none yet"));
        return false;
    }
    ui.label(title);
    true
}

/// Draws `series` (each with its index among a panel's series, which picks its colour) and the
/// marks, labelled when `labels`.
fn draw<T>(
    ui: &mut egui::Ui,
    plot: Plot<'_>,
    (points, x): (&[T], fn(&T) -> f64),
    series: &[(usize, &Series<T>)],
    marks: &[(f64, String)],
    labels: bool,
) {
    let grey = ui.visuals().weak_text_color();
    plot.show(ui, |plot| {
        // The highest value and the x range drawn, for the marks' labels.
        let (mut top, mut left, mut right) = (f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        let breaks: Vec<f64> = marks.iter().map(|(at, _)| *at).collect();
        for &(index, &(name, value)) in series {
            let measured: Vec<[f64; 2]> = points
                .iter()
                .filter_map(|p| Some([x(p), value(p)?]))
                .collect();
            for &[x, y] in &measured {
                (top, left, right) = (top.max(y), left.min(x), right.max(x));
            }
            let colour = series_colour(index);
            for run in runs(measured, &breaks) {
                match run.as_slice() {
                    // A line needs two points; a network run's one snapshot shows as a dot.
                    [point] => {
                        plot.points(Points::new(name, vec![*point]).radius(3.0).color(colour))
                    }
                    _ => plot.line(series_line(name, run).color(colour)),
                }
            }
        }
        // Labels sit at the highest value (the plot's own bounds would grow with them) and only
        // where they do not run into the previous one.
        let span = right - left;
        let mut free_from = f64::NEG_INFINITY;
        for (at, label) in marks {
            plot.vline(VLine::new("", *at).color(grey).width(1.0));
            if labels && *at >= free_from && top.is_finite() {
                plot.text(
                    Text::new("", PlotPoint::new(*at, top), label.as_str())
                        .color(grey)
                        .anchor(egui::Align2::LEFT_TOP),
                );
                free_from = at + 0.12 * span;
            }
        }
    });
}

/// `points` (in order of x) cut before each of `breaks` (ascending x), so that no line joins the
/// last loss of one stage or level to the first of the next: their measures differ.
fn runs(points: Vec<[f64; 2]>, breaks: &[f64]) -> Vec<Vec<[f64; 2]>> {
    let mut runs: Vec<Vec<[f64; 2]>> = Vec::new();
    let mut previous = f64::NEG_INFINITY;
    for point in points {
        let crossed = breaks.iter().any(|&b| previous < b && b <= point[0]);
        match runs.last_mut() {
            Some(run) if !crossed => run.push(point),
            _ => runs.push(vec![point]),
        }
        previous = point[0];
    }
    runs
}

/// A line through `points` drawn as a line: egui_plot draws a line with several points in one
/// pixel column as one filled band per column, which leaves out the steps between columns (a
/// Dice curve's rises showed as dots, a level's first loss as a wedge).
pub(super) fn series_line<'a>(name: &str, points: Vec<[f64; 2]>) -> Line<'a> {
    Line::new(name, PlotPoints::new(points)).allow_band(false)
}

/// The `index`th series' colour: hues a golden angle apart, so that neighbours differ most.
fn series_colour(index: usize) -> egui::Color32 {
    let golden = 0.5 * (5f32.sqrt() - 1.0);
    egui::ecolor::Hsva::new((index as f32 * golden).fract(), 0.85, 0.5, 1.0).into()
}

/// A plot of the panels' style: no background, the wheel left to the panel's scrolling, and
/// decimal grid steps with labels of as many decimals as the steps need.
pub(super) fn decimal_plot<'a>(id: &str, height: f32) -> Plot<'a> {
    Plot::new(id)
        .height(height)
        .allow_scroll(false)
        .show_background(false)
        .grid_spacing(24.0..=300.0)
        .x_grid_spacer(uniform_grid_spacer(decimal_steps))
        .y_grid_spacer(uniform_grid_spacer(decimal_steps))
        .x_axis_formatter(|mark, _| mark_label(mark))
        .y_axis_formatter(|mark, _| mark_label(mark))
}

/// Grid steps, each 1, 2 or 5 times a power of ten and a multiple of the one before, so that
/// every label falls on the finest step: the finest no finer than egui_plot asks for, then the
/// first far enough apart for x labels (60 points; `base_step_size` spans 24), then the next.
/// egui_plot's default steps are powers of ten alone: with the coarse grid above, a Dice curve
/// between 0.5 and 0.8 then got a single labelled line at 0, and a run of 7 s none on its time
/// axis (1 s was 51 points there, the next step 10 s).
fn decimal_steps(input: GridInput) -> [f64; 3] {
    let base = input.base_step_size;
    let base = if base.is_finite() && base > 0.0 {
        base
    } else {
        1.0
    };
    // The 1-2-5 series from the decade below `base` on.
    let decade = 10f64.powf(base.log10().floor());
    let mut series = (0..).map(|n| [1.0, 2.0, 5.0][n % 3] * decade * 10f64.powi(n as i32 / 3));
    let fine = series
        .clone()
        .find(|&s| s >= base * (1.0 - 1e-9))
        .expect("the series grows without bound");
    let multiple_of = |of: f64| {
        move |s: &f64| *s > of * (1.0 + 1e-9) && ((s / of) - (s / of).round()).abs() < 1e-9
    };
    let middle = series
        .clone()
        .filter(multiple_of(fine))
        .find(|&s| s >= 2.5 * base * (1.0 - 1e-9))
        .expect("the series grows without bound");
    let coarse = series
        .find(multiple_of(middle))
        .expect("the series grows without bound");
    [fine, middle, coarse]
}

/// A grid mark's value with as many decimals as its step needs: egui_plot's own labels gave a
/// line at −0.5 the text "-0". Steps under 0.001 are written as powers of ten ("5e-4", not
/// "0.0005"), so that the labels of a stack's plots fit one axis width and their x axes line up.
fn mark_label(mark: GridMark) -> String {
    let step = mark.step_size;
    if step < 1e-3 {
        if mark.value.abs() < 0.5 * step {
            return "0".into();
        }
        let digits = |v: f64| v.abs().log10().floor();
        let decimals = (digits(mark.value) - digits(step)).max(0.0) as usize;
        return format!("{:.*e}", decimals, mark.value);
    }
    let decimals = (-step.log10() - 1e-9).ceil().max(0.0) as usize;
    format!("{:.*}", decimals.min(6), mark.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(base_step_size: f64) -> [f64; 3] {
        decimal_steps(GridInput {
            bounds: (0.0, 1.0),
            base_step_size,
        })
    }

    fn close(a: [f64; 3], b: [f64; 3]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-9 * y)
    }
    #[test]
    fn axis_labels_show_the_decimals_of_their_step() {
        let label = |value, step_size| mark_label(GridMark { value, step_size });
        assert_eq!(label(-0.5, 0.5), "-0.5");
        assert_eq!(label(-1.0, 1.0), "-1");
        assert_eq!(label(0.4, 0.2), "0.4");
        assert_eq!(label(0.05, 0.05), "0.05");
        assert_eq!(label(300.0, 100.0), "300");
        assert_eq!(label(1.0, 0.1), "1.0");
        assert_eq!(label(0.0005, 0.0005), "5e-4");
        assert_eq!(label(0.00015, 5e-5), "1.5e-4");
        assert_eq!(label(-2e-6, 1e-6), "-2e-6");
        assert_eq!(label(0.0, 1e-4), "0");
    }

    #[test]
    fn numbers_show_four_significant_digits() {
        let shown: Vec<String> = [
            0.0, 0.05, 60.0, 0.123456, 1234.6, 0.71040, -0.29003, 8.3418e-5,
        ]
        .into_iter()
        .map(significant)
        .collect();
        assert_eq!(
            shown,
            [
                "0", "0.05", "60", "0.1235", "1235", "0.7104", "-0.29", "8.342e-5"
            ]
        );
    }

    #[test]
    fn lines_break_where_a_stage_or_level_begins() {
        let points = vec![
            [1.0, 5.0],
            [10.0, 4.0],
            [20.0, 3.0],
            [21.0, 9.0],
            [30.0, 8.0],
        ];
        assert_eq!(
            runs(points.clone(), &[1.0, 21.0, 40.0]),
            [points[..3].to_vec(), points[3..].to_vec()]
        );
        assert_eq!(runs(points.clone(), &[]), vec![points.clone()]);
        assert_eq!(runs(points[..1].to_vec(), &[1.0]), [points[..1].to_vec()]);
        assert!(runs(Vec::new(), &[1.0]).is_empty());
    }

    #[test]
    fn grid_steps_are_one_two_or_five_times_a_power_of_ten() {
        assert!(close(steps(0.16), [0.2, 1.0, 2.0]));
        assert!(close(steps(0.3), [0.5, 1.0, 2.0]));
        assert!(close(steps(1.0), [1.0, 5.0, 10.0]));
        assert!(close(steps(0.95), [1.0, 5.0, 10.0]));
        assert!(close(steps(6.0), [10.0, 20.0, 100.0]));
        assert!(close(steps(17.0), [20.0, 100.0, 200.0]));
        assert!(close(steps(0.0), [1.0, 5.0, 10.0]));
        assert!(close(steps(f64::NAN), [1.0, 5.0, 10.0]));
        for base in [0.013, 0.16, 0.3, 0.7, 3.0, 17.0, 420.0] {
            let [fine, middle, coarse] = steps(base);
            let multiple = |a: f64, b: f64| ((a / b) - (a / b).round()).abs() < 1e-9;
            assert!(multiple(middle, fine) && multiple(coarse, middle), "{base}");
        }
    }
}
