//! The handwriting style's stroke programs: several allographs (ways of writing) per digit.
//!
//! A program lists the knots a writer's pen passes through in a glyph box about one unit tall
//! (`y` grows downwards from 0 at the top, `x` is centred on 0), split into strokes where the
//! pen lifts. The knots carry random structural choices (a crossbar's height, a loop's size)
//! and every knot is jittered on its own, so no two samples share a shape.

use crate::path::{Knot, Path, Pt, MAX_KNOTS};
use crate::rng::{sin_cos, SampleRng};
use std::cell::RefCell;
use std::f32::consts::PI;

/// Segments per glyph unit when flattening curves (a unit becomes about 18 pixels).
const PER_UNIT: f32 = 14.0;

/// Relative frequency of each allograph of each digit; the length is the allograph count.
///
/// The weights roughly follow what real MNIST digits show: most 1s are a bare stroke, most 7s
/// have no crossbar, many 2s curl into a loop, and so on. The names are listed in the crate
/// doc, in this order.
pub(crate) const FORMS: [&[f32]; 10] = [
    &[0.75, 0.25],                  // 0: closed, open
    &[0.62, 0.2, 0.06, 0.12],       // 1: bare, flag, flag and foot, bold
    &[0.3, 0.38, 0.09, 0.13, 0.1],  // 2: cornered, looped, Z-shaped, curly, long neck
    &[0.72, 0.28],                  // 3: round top, flat (Z) top
    &[0.72, 0.28],                  // 4: open, closed
    &[0.38, 0.24, 0.18, 0.2],       // 5: bar lifted, one stroke, long tail, detached flag
    &[0.45, 0.25, 0.3],             // 6: curved and closed, open loop, straight stem
    &[0.52, 0.12, 0.14, 0.12, 0.1], // 7: plain, crossbar, serif, curved stem, hooked top
    &[0.55, 0.25, 0.12, 0.08],      // 8: S-stroke, two loops, mirrored S, open top
    &[0.42, 0.26, 0.1, 0.12, 0.1],  // 9: straight tail, curved tail, open head, stem, angular
];

/// How many allographs (distinct stroke programs) the handwriting style has for `label`;
/// 0 for a label that is not a digit.
pub fn allographs(label: u8) -> usize {
    FORMS.get(usize::from(label)).map_or(0, |f| f.len())
}

/// Builds strokes knot by knot, jittering each knot.
///
/// The random stream sits in a `RefCell` so that a program can write
/// `pen.to(x, pen.u(a, b))`: the draw borrows the pen only shortly, inside the call.
pub(crate) struct Pen<'a> {
    rng: RefCell<&'a mut SampleRng>,
    path: &'a mut Path,
    jitter: f32,
    /// Width factor of every knot from now on (a bold hand presses harder).
    weight: f32,
    /// The shear and the width factor the whole drawing gets afterwards (see `strokes`).
    slant: f32,
    aspect: f32,
    knots: [Knot; MAX_KNOTS],
    n: usize,
}

impl<'a> Pen<'a> {
    /// A pen for a drawing that will afterwards be sheared by `slant` and widened by `aspect`.
    pub(crate) fn new(
        rng: &'a mut SampleRng,
        path: &'a mut Path,
        jitter: f32,
        slant: f32,
        aspect: f32,
    ) -> Self {
        Self {
            rng: RefCell::new(rng),
            path,
            jitter,
            weight: 1.0,
            slant,
            aspect,
            knots: [Knot {
                p: Pt::default(),
                width: 1.0,
                sharp: false,
            }; MAX_KNOTS],
            n: 0,
        }
    }

    /// Uniform in [lo, hi).
    fn u(&self, lo: f32, hi: f32) -> f32 {
        self.rng.borrow_mut().range(lo, hi)
    }

    /// Uniform in [-a, a).
    fn s(&self, a: f32) -> f32 {
        self.rng.borrow_mut().sym(a)
    }

    /// `true` with probability `p`.
    fn chance(&self, p: f32) -> bool {
        self.rng.borrow_mut().chance(p)
    }

    fn knot(&mut self, x: f32, y: f32, sharp: bool) {
        let j = self.jitter;
        let rng = self.rng.get_mut();
        let p = Pt::new(x + rng.bell(j), y + rng.bell(j));
        let width = self.weight * (1.0 + rng.sym(0.12));
        if self.n < MAX_KNOTS {
            self.knots[self.n] = Knot { p, width, sharp };
            self.n += 1;
        }
    }

    /// A smooth knot.
    fn to(&mut self, x: f32, y: f32) {
        self.knot(x, y, false);
    }

    /// A corner.
    fn corner(&mut self, x: f32, y: f32) {
        self.knot(x, y, true);
    }

    /// Knots along an ellipse around `(cx, cy)` from angle `a0` to `a1` (radians, 0 = right,
    /// increasing clockwise on screen), `steps` spans.
    #[allow(clippy::too_many_arguments)]
    fn arc(&mut self, cx: f32, cy: f32, rx: f32, ry: f32, a0: f32, a1: f32, steps: usize) {
        // Knots close together on a small loop: jitter as large as on a long stroke would
        // crumple the loop into corners.
        let jitter = self.jitter;
        self.jitter *= 0.6;
        for i in 0..=steps {
            let a = a0 + (a1 - a0) * i as f32 / steps as f32;
            let (s, c) = sin_cos(a);
            self.to(cx + rx * c, cy + ry * s);
        }
        self.jitter = jitter;
    }

    /// Ends the current stroke (the pen lifts).
    fn lift(&mut self) {
        // The pen presses a little less as it lifts off the paper.
        if self.n > 1 {
            let last = self.n - 1;
            self.knots[last].width *= 0.85;
            // Pressure changes from one stroke to the next.
            let level = 1.0 + self.rng.get_mut().sym(0.15);
            for k in &mut self.knots[..self.n] {
                k.width *= level;
            }
        }
        self.path.stroke(&self.knots[..self.n], PER_UNIT);
        self.n = 0;
    }
}

/// Runs allograph `form` of digit `label` (both in range).
pub(crate) fn program(pen: &mut Pen, label: u8, form: usize) {
    match label {
        0 => zero(pen, form),
        1 => one(pen, form),
        2 => two(pen, form),
        3 => three(pen, form),
        4 => four(pen, form),
        5 => five(pen, form),
        6 => six(pen, form),
        7 => seven(pen, form),
        8 => eight(pen, form),
        _ => nine(pen, form),
    }
    pen.lift();
}

/// An oval, usually started near the top and drawn counter-clockwise; closed ones overshoot
/// their start, open ones stop short of it.
fn zero(pen: &mut Pen, form: usize) {
    let rx = pen.u(0.27, 0.42);
    let egg = pen.s(0.12);
    let turns = if form == 0 {
        pen.u(1.0, 1.12)
    } else {
        pen.u(0.8, 0.93)
    };
    let start = -PI / 2.0 + pen.u(-0.25, 0.6);
    let dir = if pen.chance(0.8) { -1.0 } else { 1.0 };
    let steps = 11;
    for i in 0..=steps {
        let a = start + dir * 2.0 * PI * turns * i as f32 / steps as f32;
        let (s, c) = sin_cos(a);
        // Narrower at the top or at the bottom, like an egg.
        let r = rx * (1.0 + egg * s);
        pen.to(r * c, 0.5 + 0.5 * s);
    }
}

/// A vertical stroke, bowed a little; with a short flag slanting down from the top, with a
/// foot under it as well, or pressed hard (bold).
fn one(pen: &mut Pen, form: usize) {
    // A single stroke shows every wobble: a steadier hand than for the other digits.
    pen.jitter *= 0.6;
    let bow = pen.s(0.04);
    let lean = pen.s(0.06);
    if form == 3 {
        pen.weight = pen.u(1.25, 1.6);
    }
    if form == 1 || form == 2 {
        // A short flag that falls steeply: a long or flat one would make a 7. It is drawn so
        // that it keeps its length and angle after the slant and aspect of the hand.
        let flag = pen.u(0.07, 0.17);
        let drop = flag * pen.u(0.7, 1.3);
        pen.to(lean + (pen.slant * drop - flag) / pen.aspect, drop);
        pen.corner(lean, 0.0);
    } else {
        pen.to(lean, 0.0);
    }
    pen.to(0.5 * lean + bow, 0.5);
    pen.to(0.0, 1.0);
    if form == 2 {
        pen.lift();
        let w = pen.u(0.1, 0.2);
        pen.to(-w, 1.0);
        pen.to(w, 1.0);
    }
}

/// A hook on top, a diagonal down to the left, a base to the right. The diagonal meets the
/// base at a corner, in a loop or in a round turn (the curly 2, whose base often rises at its
/// end); or the top is a flat bar (the Z-shaped 2); or a small head sits on a long, steep neck.
fn two(pen: &mut Pen, form: usize) {
    let base_x = pen.u(0.22, 0.42);
    let base_end = pen.u(0.78, 1.0);
    let bend = pen.s(0.08);
    if form == 2 {
        pen.to(-0.27, pen.u(0.02, 0.14));
        pen.to(0.0, pen.u(-0.02, 0.03));
        pen.corner(0.26, pen.u(0.0, 0.06));
        pen.to(bend, 0.5);
        pen.corner(-0.3, 0.98);
        pen.to(0.0, pen.u(0.96, 1.0));
        pen.to(base_x, base_end);
        return;
    }
    if form == 4 {
        // A small head on a long neck: a little hook, a steep stroke down, then a loop or a
        // corner and a base that reaches out on both sides.
        let hx = pen.u(-0.04, 0.12);
        let hr = pen.u(0.08, 0.16);
        pen.to(hx - hr, pen.u(0.06, 0.18));
        pen.to(hx, 0.0);
        pen.to(hx + hr, 0.08);
        pen.to(hx + 0.7 * hr, 0.3);
        pen.to(hx - 0.06 + bend, pen.u(0.58, 0.7));
        if pen.chance(0.6) {
            let rx = pen.u(0.08, 0.2);
            let ry = rx * pen.u(0.6, 1.0);
            let (lx, ly) = (hx - 0.1 - rx, 0.98 - ry);
            pen.to(lx + 0.3 * rx, ly + 0.95 * ry);
            pen.to(lx - rx, ly);
            pen.to(lx, ly - ry);
            pen.to(lx + rx, ly + 0.1 * ry);
            pen.to(lx + 1.6 * rx, 0.98);
        } else {
            pen.corner(hx - pen.u(0.2, 0.34), 0.98);
            pen.to(hx, pen.u(0.95, 1.0));
        }
        pen.to(base_x, base_end);
        return;
    }
    // The right side of the hook comes down to the neck before the diagonal sweeps left,
    // often in a curve that bulges down and to the left.
    let neck = pen.u(0.28, 0.5);
    // A hook that curls far down over a looped base would close into an 8.
    let curl = if form == 1 { 0.22 } else { 0.28 };
    pen.to(pen.u(-0.3, -0.1), pen.u(0.06, curl));
    pen.to(-0.12, 0.03);
    pen.to(0.08, 0.0);
    let neck_x = pen.u(0.14, 0.27);
    pen.to(neck_x + 0.02, 0.14);
    pen.to(neck_x, neck);
    let sweep = bend - pen.u(0.0, 0.08);
    match form {
        0 => {
            pen.to(0.02 + sweep, 0.5 * (neck + 1.0) + 0.04);
            pen.corner(-0.3, 0.98);
            pen.to(0.0, pen.u(0.95, 1.0));
            pen.to(base_x, base_end);
        }
        1 => {
            // The diagonal runs into a clockwise loop at the bottom left, round or a flat
            // oval, and the base leaves from the loop's bottom right. The loop's half-width
            // is 0.1-0.32 of the glyph's height, as large as many writers make it: with
            // 0.08-0.24 (and flatter ovals), the seed network read real 2s with big loops as
            // 8s (2s 89.4% of the development digits, median of seeds 1-4; 96.5% since).
            let rx = pen.u(0.1, 0.32);
            let ry = rx * pen.u(0.7, 1.1);
            let (lx, ly) = (pen.u(-0.28, -0.1), 0.98 - ry);
            pen.to(0.04 + sweep, 0.5 * (neck + 1.0));
            pen.to(lx + 0.3 * rx, ly + 0.95 * ry);
            pen.to(lx - rx, ly);
            pen.to(lx, ly - ry);
            pen.to(lx + rx, ly + 0.1 * ry);
            pen.to(lx + 1.6 * rx, 0.98);
            pen.to(base_x, base_end);
        }
        _ => {
            // A round turn into the base, which may rise a little at its end.
            pen.to(sweep, 0.5 * (neck + 1.0) + 0.04);
            pen.to(-0.22, 0.9);
            pen.to(-0.1, 0.99);
            pen.to(0.5 * base_x, 0.98);
            pen.to(base_x + 0.04, base_end - pen.u(0.0, 0.12));
        }
    }
}

/// Two bowls open to the left, joined by a cusp or a curve; or a flat bar on top, a diagonal
/// down to the middle and one bowl (the Z-shaped 3). The lower bowl is the larger, its tail
/// reaching back to the left.
fn three(pen: &mut Pen, form: usize) {
    let low_r = pen.u(0.27, 0.36);
    // The middle cusp may reach well back to the left, a short bar between the bowls; under a
    // flat top it stays nearer the middle, or the diagonal would stand up like a 5's stem.
    let mid_x = if form == 0 {
        pen.u(-0.24, 0.02)
    } else {
        pen.u(-0.12, 0.02)
    };
    let mid_y = if form == 0 {
        pen.u(0.38, 0.48)
    } else {
        pen.u(0.36, 0.52)
    };
    if form == 0 {
        // The top bowl stays open to the left: its start keeps clear of the middle cusp, or
        // the 3 would close into an 8.
        pen.to(pen.u(-0.32, -0.2), pen.u(0.05, 0.28).min(mid_y - 0.22));
        pen.to(-0.05, 0.0);
        pen.to(0.16, 0.03);
        pen.to(0.23, 0.18);
        pen.to(0.12, mid_y - 0.07);
        if pen.chance(0.6) {
            pen.corner(mid_x, mid_y);
        } else {
            pen.to(mid_x + 0.06, mid_y);
        }
    } else {
        pen.to(-0.24, pen.u(0.0, 0.06));
        pen.corner(0.25, 0.0);
        pen.corner(mid_x + 0.04, mid_y);
    }
    pen.to(0.18, mid_y + 0.08);
    pen.to(low_r, mid_y + 0.27);
    pen.to(0.18, 0.92);
    pen.to(-0.06, 1.0);
    pen.to(-pen.u(0.28, 0.38), pen.u(0.72, 0.92));
}

/// Open: a down stroke turning into the crossbar, then the upright. Closed: the upright's top
/// joined to the crossbar by a diagonal. The crossbar always reaches past the upright and the
/// open arm stays clear of it, or the 4 would read as a 9.
fn four(pen: &mut Pen, form: usize) {
    let bar = pen.u(0.46, 0.64);
    let upright = pen.u(0.06, 0.22);
    let reach = upright + pen.u(0.09, 0.22);
    if form == 0 {
        let left = pen.u(-0.42, -0.26);
        pen.to(left + pen.u(-0.04, 0.1), pen.u(0.0, 0.1));
        if pen.chance(0.6) {
            pen.corner(left, bar);
        } else {
            pen.to(left, bar - 0.08);
            pen.to(left + 0.1, bar);
        }
        pen.to(reach, bar - pen.u(-0.02, 0.05));
        pen.lift();
        pen.to(upright, pen.u(0.0, 0.1));
    } else {
        pen.to(upright, 0.0);
        pen.corner(-0.34, bar);
        pen.to(reach, bar - pen.u(-0.02, 0.04));
        pen.lift();
        pen.to(upright, pen.u(0.0, 0.05));
    }
    pen.to(upright + pen.s(0.03), 0.6);
    pen.to(upright - pen.u(0.0, 0.04), 1.0);
}

/// A short down stroke into a bowl, with the top bar drawn last (touching the stroke's top,
/// or floating detached above and to its right), or the bar first and all in one stroke; or
/// a bowl that swings down into a long tail. The bar reaches further right than the bowl.
fn five(pen: &mut Pen, form: usize) {
    let neck = pen.u(0.36, 0.52);
    let x = pen.u(-0.22, -0.12);
    let bar_end = x + pen.u(0.4, 0.68);
    let bowl = x + pen.u(0.28, 0.46);
    if form == 1 {
        pen.to(bar_end, pen.u(-0.03, 0.03));
        pen.corner(x, 0.02);
    } else {
        pen.to(x, 0.02);
    }
    // The down stroke turns into the bowl at a corner or, in a hurried hand, a curve.
    let neck_x = x - pen.u(0.0, 0.06);
    if pen.chance(0.7) {
        pen.corner(neck_x, neck);
    } else {
        pen.to(neck_x, neck - 0.04);
    }
    pen.to(x + 0.2, neck - 0.06);
    // The bowl is widest well below its top, as a real 5's belly hangs low.
    pen.to(bowl, neck + 0.2);
    if form == 2 {
        // The bowl's right side runs on down and sweeps back left into a long tail.
        pen.to(bowl - 0.04, neck + 0.34);
        pen.to(x + 0.14, 0.9);
        pen.to(x - pen.u(0.14, 0.3), pen.u(0.97, 1.02));
    } else {
        pen.to(bowl - 0.02, 0.8);
        pen.to(x + 0.2, 0.98);
        pen.to(x - 0.02, 1.0);
        pen.to(x - pen.u(0.0, 0.14), pen.u(0.86, 0.98));
    }
    if form != 1 {
        pen.lift();
        let (gap, lift) = if form == 3 {
            (pen.u(0.06, 0.14), pen.u(0.02, 0.07))
        } else {
            (0.0, 0.0)
        };
        pen.to(x + gap, pen.u(0.0, 0.04) - lift);
        pen.to(0.5 * (x + gap + bar_end), pen.u(-0.02, 0.03) - lift);
        pen.to(bar_end + 0.5 * gap, pen.u(-0.04, 0.04) - lift);
    }
}

/// A stem from the top into a loop at the bottom; curved or straight, the loop closed onto the
/// stem or left open.
fn six(pen: &mut Pen, form: usize) {
    let loop_top = pen.u(0.48, 0.7);
    let r = (1.0 - loop_top) / 2.0;
    let cy = loop_top + r;
    let rx = pen.u(0.22, 0.34);
    pen.to(pen.u(-0.1, 0.16), 0.0);
    if form == 2 {
        // Straight stem: knots on a line down to the loop's left side.
        pen.to(-0.08, 0.3);
    } else {
        pen.to(-0.1, 0.14);
        pen.to(-0.2, 0.36);
    }
    // Down the left side of the loop, round the bottom and up the right.
    pen.arc(0.0, cy, rx, r, PI * 0.95, PI * 0.15, 4);
    pen.to(0.12, cy - r);
    let end = if form == 1 { 0.4 } else { pen.u(0.9, 1.1) };
    pen.to(-0.1 * end, cy - r + 0.02);
    pen.to(-rx * end, cy - 0.3 * r * end);
}

/// A top bar and a long down stroke; with a crossbar, with a serif hanging from the bar, with
/// the stroke curving on its way down, or with the bar begun by a hook rising from the left. The bar is never so short that a 7 reads as a 1.
fn seven(pen: &mut Pen, form: usize) {
    let left = pen.u(-0.42, -0.16);
    let right = pen.u(0.2, 0.32);
    let foot = right - pen.u(0.16, 0.42);
    match form {
        2 => {
            pen.to(left, pen.u(0.1, 0.22));
            pen.corner(left, 0.02);
        }
        4 => {
            // The pen starts low on the left and curves up into the bar.
            pen.to(left - pen.u(0.0, 0.06), pen.u(0.16, 0.3));
            pen.to(left + 0.06, 0.04);
        }
        _ => pen.to(left, pen.u(0.0, 0.1)),
    }
    pen.to(0.5 * (left + right), pen.u(-0.02, 0.03));
    pen.corner(right, 0.0);
    let bend = if form == 3 {
        // Bowed out to the right, or first down-left and then straight down.
        if pen.chance(0.5) {
            pen.u(0.07, 0.13)
        } else {
            -pen.u(0.07, 0.13)
        }
    } else {
        pen.s(0.07)
    };
    pen.to(0.5 * (right + foot) + bend, 0.5);
    pen.to(foot, 1.0);
    if form == 1 {
        pen.lift();
        let at = 0.5 * (right + foot) + bend;
        let y = pen.u(0.45, 0.58);
        pen.to(at - pen.u(0.12, 0.2), y);
        pen.to(at + pen.u(0.1, 0.18), y - pen.u(0.0, 0.04));
    }
}

/// One S-shaped stroke that crosses itself in the middle and closes at the top (drawn from the
/// top right, or mirrored from the top left), two loops stacked, or an S-stroke that stops
/// before closing its top loop.
fn eight(pen: &mut Pen, form: usize) {
    let waist = pen.u(0.36, 0.58);
    let top_w = pen.u(0.13, 0.26);
    // A narrow bottom loop under a wide top is common; both narrow would fill in like a 1.
    let bot_w = pen.u(0.09, 0.28).max(0.32 - top_w);
    // Many writers set the top loop to the right of the bottom one.
    let t = pen.u(-0.04, 0.14);
    let b = -t;
    if form == 1 {
        let ry = waist / 2.0;
        pen.arc(t, ry, top_w, ry, -PI / 2.0, -PI * 2.6, 8);
        pen.lift();
        let ry = (1.0 - waist) / 2.0;
        pen.arc(b, waist + ry, bot_w, ry, -PI / 2.0, PI * 1.6, 8);
        return;
    }
    // The mirrored form swaps left and right about each loop's centre.
    let m = if form == 2 { -1.0 } else { 1.0 };
    pen.to(t + m * top_w, 0.1);
    pen.to(t, 0.0);
    pen.to(t - m * top_w, 0.1);
    pen.to(t - m * top_w * 0.8, waist - 0.15);
    pen.to(0.0, waist);
    pen.to(b + m * bot_w, waist + 0.18);
    pen.to(b + m * bot_w * 0.9, 0.88);
    pen.to(b, 1.0);
    pen.to(b - m * bot_w, 0.88);
    pen.to(b - m * bot_w * 0.9, waist + 0.18);
    pen.to(0.0, waist);
    pen.to(t + m * top_w * 0.8, waist - 0.15);
    if form == 3 {
        // Stops on the way up, leaving the top loop open at its upper right.
        pen.to(t + m * top_w * 1.05, pen.u(0.2, 0.28));
    } else {
        pen.to(t + m * top_w, 0.12);
        pen.to(t + m * 0.04, 0.02);
    }
}

/// A loop drawn counter-clockwise, then a tail down its right side: straight, or curving back
/// to the left at the bottom; a head left open at its upper right; a closed head with a
/// straight stem drawn on its own from the top; or an angular head of straight sides.
fn nine(pen: &mut Pen, form: usize) {
    // Small heads are common (and are what a 9 read as a 7 has); large ones too.
    let loop_h = pen.u(0.3, 0.58);
    let rx = pen.u(0.2, 0.33);
    let ry = loop_h / 2.0;
    match form {
        2 => {
            // Open head: from the top round the loop, stopping on the right side below the
            // start, then straight on down; the gap stays at the upper right.
            let start = -PI * pen.u(0.35, 0.5);
            pen.arc(0.0, ry, rx, ry, start, -PI * pen.u(1.85, 1.98), 6);
        }
        3 => {
            // A closed head, then the pen lifts and draws the stem from above the head's
            // right side straight down.
            pen.arc(0.0, ry, rx, ry, -PI * 0.3, -PI * 2.35, 8);
            pen.lift();
            pen.to(rx * pen.u(0.8, 1.05), pen.u(-0.03, 0.08));
            pen.to(rx * 0.9, loop_h);
            pen.to(rx * pen.u(0.6, 1.0), 1.0);
            return;
        }
        4 => {
            // Angular head: a top bar from the right, a corner down the left, a corner at the
            // bottom left, across to the right side and up it to the start; then a sharp turn
            // down the stem.
            pen.to(rx * 0.9, pen.u(0.0, 0.08));
            pen.corner(-rx * pen.u(0.7, 1.0), pen.u(-0.02, 0.06));
            pen.corner(-rx * pen.u(0.6, 1.0), loop_h * pen.u(0.8, 1.0));
            pen.corner(rx, loop_h * pen.u(0.75, 0.95));
            pen.corner(rx * pen.u(0.9, 1.05), pen.u(-0.02, 0.04));
            pen.to(rx * 0.95, loop_h + 0.15);
            pen.to(rx * pen.u(0.5, 1.0), 1.0);
            return;
        }
        _ => {
            if pen.chance(0.5) {
                // From the right side round the loop and back up past the start, then a sharp
                // turn down that retraces the loop's right side.
                pen.arc(0.0, ry, rx, ry, -PI * 0.15, -PI * 2.1, 7);
                let last = pen.n - 1;
                pen.knots[last].sharp = true;
            } else {
                // From the top round the loop, straight on into the tail.
                pen.arc(0.0, ry, rx, ry, -PI * 0.5, -PI * 1.95, 6);
            }
        }
    }
    pen.to(rx * 0.95, loop_h + 0.15);
    let foot = rx * pen.u(0.5, 1.1);
    if form == 1 {
        pen.to(foot + 0.2 * rx, 0.8);
        pen.to(foot - 0.3 * rx, 0.98);
        pen.to(foot - 1.2 * rx, pen.u(0.86, 0.96));
    } else {
        pen.to(foot, 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allograph_counts_match_the_weights() {
        assert_eq!(
            (0..10).map(allographs).collect::<Vec<_>>(),
            vec![2, 4, 5, 2, 2, 4, 3, 5, 4, 5]
        );
        assert_eq!(allographs(10), 0);
        assert!(FORMS.iter().flat_map(|f| f.iter()).all(|&w| w > 0.0));
    }
}
