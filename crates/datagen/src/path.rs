//! Pen paths: strokes built from knots, flattened to a fixed-capacity polyline.
//!
//! A stroke is a list of [`Knot`]s. Between knots the pen follows a cubic Bezier curve whose
//! tangents come from the neighbouring knots (a Catmull-Rom-like spline whose handles are a
//! third of the chord, so uneven knot spacing never makes it overshoot into loops). A sharp
//! knot is a corner: the tangent on each side points along its own chord.

/// A point (or vector) in glyph or pixel coordinates; `y` grows downwards.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Pt {
    pub(crate) x: f32,
    pub(crate) y: f32,
}

impl Pt {
    pub(crate) const fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }

    fn add(self, o: Pt) -> Pt {
        Pt::new(self.x + o.x, self.y + o.y)
    }

    fn sub(self, o: Pt) -> Pt {
        Pt::new(self.x - o.x, self.y - o.y)
    }

    fn scale(self, k: f32) -> Pt {
        Pt::new(self.x * k, self.y * k)
    }

    fn len(self) -> f32 {
        (self.x * self.x + self.y * self.y).sqrt()
    }

    /// The unit vector along `self` (zero stays zero).
    fn unit(self) -> Pt {
        let l = self.len();
        if l > 1e-9 {
            self.scale(1.0 / l)
        } else {
            Pt::default()
        }
    }
}

/// A point the pen passes through, with the pen width there (a factor of the sample's pen) and
/// whether the stroke turns a corner there.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Knot {
    pub(crate) p: Pt,
    pub(crate) width: f32,
    pub(crate) sharp: bool,
}

/// Most points a path holds; every digit program flattens to fewer than half of this (a unit
/// test in `strokes` checks).
pub(crate) const MAX_POINTS: usize = 400;

/// Most knots in one stroke.
pub(crate) const MAX_KNOTS: usize = 24;

/// A flattened drawing: points with a pen width each, and for each point whether the pen moved
/// to it from the previous point with the pen down.
pub(crate) struct Path {
    pub(crate) pts: [Pt; MAX_POINTS],
    pub(crate) width: [f32; MAX_POINTS],
    pub(crate) linked: [bool; MAX_POINTS],
    pub(crate) len: usize,
}

impl Path {
    pub(crate) fn new() -> Self {
        Self {
            pts: [Pt::default(); MAX_POINTS],
            width: [0.0; MAX_POINTS],
            linked: [false; MAX_POINTS],
            len: 0,
        }
    }

    /// The points in use.
    pub(crate) fn points(&self) -> &[Pt] {
        &self.pts[..self.len]
    }

    fn push(&mut self, p: Pt, width: f32, linked: bool) {
        // The digit programs are fixed and stay far below the capacity; a full path drops
        // points rather than panicking.
        debug_assert!(self.len < MAX_POINTS, "path capacity");
        if self.len < MAX_POINTS {
            self.pts[self.len] = p;
            self.width[self.len] = width;
            self.linked[self.len] = linked;
            self.len += 1;
        }
    }

    /// Adds one stroke through `knots`, flattened so that one glyph unit (the digit height)
    /// becomes about `per_unit` segments.
    pub(crate) fn stroke(&mut self, knots: &[Knot], per_unit: f32) {
        let n = knots.len();
        if n == 0 {
            return;
        }
        self.push(knots[0].p, knots[0].width, false);
        if n == 1 {
            return;
        }
        // Tangent directions arriving at and leaving each knot.
        let mut t_in = [Pt::default(); MAX_KNOTS];
        let mut t_out = [Pt::default(); MAX_KNOTS];
        let n = n.min(MAX_KNOTS);
        for i in 0..n {
            let prev = (i > 0).then(|| knots[i].p.sub(knots[i - 1].p).unit());
            let next = (i + 1 < n).then(|| knots[i + 1].p.sub(knots[i].p).unit());
            let (a, b) = match (prev, next) {
                (Some(a), Some(b)) if knots[i].sharp => (a, b),
                (Some(a), Some(b)) => {
                    let t = a.add(b).unit();
                    (t, t)
                }
                (Some(a), None) => (a, a),
                (None, Some(b)) => (b, b),
                (None, None) => (Pt::default(), Pt::default()),
            };
            t_in[i] = a;
            t_out[i] = b;
        }
        // Free ends: mirror the neighbour's tangent about the chord, so a stroke's first and
        // last spans bend as a circle would instead of starting straight.
        let mirror = |chord: Pt, t: Pt| chord.scale(2.0 * (chord.x * t.x + chord.y * t.y)).sub(t);
        if n > 2 {
            let c0 = knots[1].p.sub(knots[0].p).unit();
            if !knots[1].sharp {
                t_out[0] = mirror(c0, t_in[1]).unit();
            }
            let c1 = knots[n - 1].p.sub(knots[n - 2].p).unit();
            if !knots[n - 2].sharp {
                t_in[n - 1] = mirror(c1, t_out[n - 2]).unit();
            }
        }
        for i in 0..n - 1 {
            let (k0, k1) = (knots[i], knots[i + 1]);
            let chord = k1.p.sub(k0.p).len();
            let c1 = k0.p.add(t_out[i].scale(chord / 3.0));
            let c2 = k1.p.sub(t_in[i + 1].scale(chord / 3.0));
            let steps = ((chord * per_unit).ceil() as usize).clamp(1, 24);
            for s in 1..=steps {
                let t = s as f32 / steps as f32;
                let u = 1.0 - t;
                let p =
                    k0.p.scale(u * u * u)
                        .add(c1.scale(3.0 * u * u * t))
                        .add(c2.scale(3.0 * u * t * t))
                        .add(k1.p.scale(t * t * t));
                self.push(p, k0.width + (k1.width - k0.width) * t, true);
            }
        }
    }

    /// Maps every point through `f`.
    pub(crate) fn map(&mut self, mut f: impl FnMut(Pt) -> Pt) {
        for p in &mut self.pts[..self.len] {
            *p = f(*p);
        }
    }

    /// `(min, max)` corners of the points, or `None` for an empty path.
    pub(crate) fn bounds(&self) -> Option<(Pt, Pt)> {
        let pts = self.points();
        let first = *pts.first()?;
        Some(pts.iter().fold((first, first), |(lo, hi), p| {
            (
                Pt::new(lo.x.min(p.x), lo.y.min(p.y)),
                Pt::new(hi.x.max(p.x), hi.y.max(p.y)),
            )
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn knot(x: f32, y: f32) -> Knot {
        Knot {
            p: Pt::new(x, y),
            width: 1.0,
            sharp: false,
        }
    }

    #[test]
    fn stroke_passes_through_its_knots_and_starts_pen_up() {
        let mut path = Path::new();
        let knots = [knot(0.0, 0.0), knot(0.5, 0.2), knot(1.0, 0.0)];
        path.stroke(&knots, 10.0);
        let pts = path.points();
        assert!(!path.linked[0] && path.linked[1..path.len].iter().all(|&l| l));
        for k in &knots {
            assert!(pts.iter().any(|p| p.sub(k.p).len() < 1e-6), "{k:?}");
        }
    }

    #[test]
    fn straight_knots_give_a_straight_line() {
        let mut path = Path::new();
        path.stroke(&[knot(0.0, 0.0), knot(0.0, 0.5), knot(0.0, 1.0)], 10.0);
        assert!(path.points().iter().all(|p| p.x.abs() < 1e-6));
        assert_eq!(path.bounds(), Some((Pt::new(0.0, 0.0), Pt::new(0.0, 1.0))));
    }
}
