//! How the views bring the moving layers into the fixed space: as loaded, through the affine
//! stage alone, or through the whole transform; and where a moving point then shows.

use crate::app::state::{Deformation, Document};
use crate::app::views::display::Display;
use crate::volume::warp::displacement_at;
use crate::volume::{Affine, VectorField};

/// The mapping from the fixed world to the moving world (mm) the moving layers are drawn through.
#[derive(Clone, Copy, Debug)]
pub enum Pull<'a> {
    /// The moving image where its header puts it.
    AsLoaded,
    /// The affine stage alone, `x ↦ A(x)`: flipping to it shows what the deformable stage adds.
    Affine(&'a Affine),
    /// The whole transform, `x ↦ x + u(x)` (the affine included).
    Whole(&'a VectorField),
}

impl<'a> Pull<'a> {
    /// What `display` asks of `doc`'s deformation (as loaded without one).
    pub fn of(doc: &'a Document, display: &Display) -> Pull<'a> {
        Pull::through(
            doc.deformation.as_deref(),
            display.warped,
            display.affine_only,
        )
    }

    /// How the kept result `display` compares the shown transform against brings the moving
    /// image in, with its number; `None` without one, or while it cannot be compared
    /// ([`Results::comparable`](crate::app::results::Results::comparable)).
    pub fn against(doc: &'a Document, display: &Display) -> Option<(usize, Pull<'a>)> {
        let number = display.against?;
        let deformation = doc.results.comparable(number)?;
        Some((number, Pull::compared(deformation, display.affine_only)))
    }

    /// How a result compared against brings the moving image in: through its transform, whole
    /// or its affine stage alone as the shown one is.
    pub fn compared(deformation: &'a Deformation, affine_only: bool) -> Pull<'a> {
        Pull::through(Some(deformation), true, affine_only)
    }

    /// [`of`](Self::of) from the display's two switches, for a helper thread that holds the
    /// deformation but not the document.
    pub fn through(
        deformation: Option<&'a Deformation>,
        warped: bool,
        affine_only: bool,
    ) -> Pull<'a> {
        match deformation {
            Some(d) if warped && affine_only => Pull::Affine(&d.affine),
            Some(d) if warped => Pull::Whole(&d.field),
            _ => Pull::AsLoaded,
        }
    }

    pub fn is_warped(self) -> bool {
        !matches!(self, Pull::AsLoaded)
    }

    /// Which of the three it is, for caches keyed on it.
    pub fn name(self) -> &'static str {
        match self {
            Pull::AsLoaded => "as loaded",
            Pull::Affine(_) => "affine",
            Pull::Whole(_) => "whole",
        }
    }

    /// The point of the moving image behind fixed-space point `p`.
    pub fn moving_point(self, p: [f64; 3]) -> [f64; 3] {
        match self {
            Pull::AsLoaded => p,
            Pull::Affine(a) => a.apply(p),
            Pull::Whole(f) => {
                let u = displacement_at(f, p);
                std::array::from_fn(|a| p[a] + u[a])
            }
        }
    }

    /// Where moving point `moving_mm` shows in the fixed space: the `p` whose
    /// [`moving_point`](Self::moving_point) it is. Through a field, by fixed-point iteration (it
    /// converges where the field is smooth, and stays put where the field has no inverse).
    pub fn shown_point(self, moving_mm: [f64; 3]) -> [f64; 3] {
        match self {
            Pull::AsLoaded => moving_mm,
            Pull::Affine(a) => a
                .inverse()
                .map_or(moving_mm, |inverse| inverse.apply(moving_mm)),
            Pull::Whole(field) => {
                let mut p = moving_mm;
                for _ in 0..20 {
                    let u = displacement_at(field, p);
                    let next = std::array::from_fn(|a| moving_mm[a] - u[a]);
                    let step: f64 = (0..3).map(|a| (next[a] - p[a]).powi(2)).sum();
                    p = next;
                    if step < 1e-6 {
                        break;
                    }
                }
                p
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::Grid;

    #[test]
    fn a_moving_point_shows_where_the_transform_takes_it_from() {
        let grid = Grid::new([20, 20, 20], Affine::IDENTITY).unwrap();
        let field =
            VectorField::new(grid.clone(), vec![[2.0, -1.0, 0.5]; grid.voxel_count()]).unwrap();
        let whole = Pull::Whole(&field);
        let p = whole.shown_point([10.0, 10.0, 10.0]);
        let back = whole.moving_point(p);
        for a in 0..3 {
            assert!((back[a] - [10.0, 10.0, 10.0][a]).abs() < 1e-6);
        }
        assert!((p[0] - 8.0).abs() < 1e-6);
        let mut m = Affine::IDENTITY;
        m.0[0][0] = 2.0;
        m.0[1][3] = 5.0;
        let affine = Pull::Affine(&m);
        assert_eq!(affine.moving_point([1.0, 2.0, 3.0]), [2.0, 7.0, 3.0]);
        assert_eq!(affine.shown_point([2.0, 7.0, 3.0]), [1.0, 2.0, 3.0]);
        assert_eq!(Pull::AsLoaded.shown_point([1.0, 2.0, 3.0]), [1.0, 2.0, 3.0]);
    }
}
