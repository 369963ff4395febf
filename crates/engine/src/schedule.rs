//! Learning-rate schedules.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// How the learning rate moves over a run, after an optional linear warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schedule {
    /// The base rate throughout.
    #[default]
    Constant,
    /// The base rate, divided by 10 at half of the run and again at three quarters.
    Step,
    /// Cosine decay from the base rate to 0 at the end of the run.
    Cosine,
}

impl Schedule {
    /// Every schedule, in `--help` order.
    pub const ALL: [Schedule; 3] = [Schedule::Constant, Schedule::Step, Schedule::Cosine];

    /// The rate at `step` (0-based) of a run of `total` steps whose first `warmup` steps ramp
    /// linearly from `base / warmup` up to `base`.
    pub fn lr(self, base: f32, step: usize, total: usize, warmup: usize) -> f32 {
        if step < warmup {
            return base * (step + 1) as f32 / warmup as f32;
        }
        let span = total.saturating_sub(warmup).max(1);
        let t = (step - warmup).min(span) as f64 / span as f64;
        let factor = match self {
            Schedule::Constant => 1.0,
            Schedule::Step if t >= 0.75 => 0.01,
            Schedule::Step if t >= 0.5 => 0.1,
            Schedule::Step => 1.0,
            Schedule::Cosine => 0.5 * (1.0 + (std::f64::consts::PI * t).cos()),
        };
        (f64::from(base) * factor) as f32
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Schedule::Constant => "constant",
            Schedule::Step => "step",
            Schedule::Cosine => "cosine",
        })
    }
}

impl FromStr for Schedule {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.to_string() == s)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "schedule '{s}' is not one of constant, step, cosine"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_starts_at_base_and_ends_near_zero() {
        assert_eq!(Schedule::Cosine.lr(0.1, 0, 100, 0), 0.1);
        assert!(Schedule::Cosine.lr(0.1, 99, 100, 0) < 0.0001);
        assert!((Schedule::Cosine.lr(0.1, 50, 100, 0) - 0.05).abs() < 1e-6);
    }

    #[test]
    fn step_divides_by_ten_at_half_and_three_quarters() {
        assert_eq!(Schedule::Step.lr(1.0, 49, 100, 0), 1.0);
        assert!((Schedule::Step.lr(1.0, 50, 100, 0) - 0.1).abs() < 1e-7);
        assert!((Schedule::Step.lr(1.0, 80, 100, 0) - 0.01).abs() < 1e-7);
    }

    #[test]
    fn warmup_ramps_linearly_to_base() {
        assert_eq!(Schedule::Constant.lr(1.0, 0, 100, 4), 0.25);
        assert_eq!(Schedule::Constant.lr(1.0, 3, 100, 4), 1.0);
        assert_eq!(Schedule::Cosine.lr(1.0, 4, 100, 4), 1.0);
    }

    #[test]
    fn parses_every_name() {
        for s in Schedule::ALL {
            assert_eq!(s.to_string().parse::<Schedule>().unwrap(), s);
        }
        assert!("linear".parse::<Schedule>().is_err());
    }
}
