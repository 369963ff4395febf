//! Value parsers for numeric flags, with messages a newcomer understands (`--epochs -1` says
//! what the flag takes instead of "unexpected argument '-1'"; the flags that use these set
//! `allow_negative_numbers`).

/// A whole number of at least 1.
///
/// # Errors
/// The text and what was expected.
pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("expected a whole number of at least 1, got '{s}'")),
    }
}

/// A whole number, 0 or more.
///
/// # Errors
/// The text and what was expected.
pub fn whole(s: &str) -> Result<usize, String> {
    s.parse::<usize>()
        .map_err(|_| format!("expected a whole number (0 or more), got '{s}'"))
}

/// A count of test-time views: 1, 5 or 9 (`engine::VIEW_COUNTS`).
///
/// # Errors
/// The text and what was expected.
pub fn view_count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if engine::VIEW_COUNTS.contains(&n) => Ok(n),
        _ => Err(format!("expected 1, 5 or 9 views, got '{s}'")),
    }
}

/// A finite number above 0 (kept as `f64` so that it prints back as written).
///
/// # Errors
/// The text and what was expected.
pub fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(format!("expected a number above 0, got '{s}'")),
    }
}

/// A finite number, 0 or more.
///
/// # Errors
/// The text and what was expected.
pub fn non_negative(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!("expected a number of 0 or more, got '{s}'")),
    }
}

/// A number in [0, 1).
///
/// # Errors
/// The text and what was expected.
pub fn fraction_below_one(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.0..1.0).contains(&x) => Ok(x),
        _ => Err(format!("expected a number in [0, 1), got '{s}'")),
    }
}

/// A probability in [0, 1].
///
/// # Errors
/// The text and what was expected.
pub fn probability(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!("expected a number between 0 and 1, got '{s}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_with_a_plain_message() {
        assert_eq!(at_least_one("3"), Ok(3));
        assert!(at_least_one("0").unwrap_err().contains("at least 1"));
        assert!(at_least_one("-1").unwrap_err().contains("got '-1'"));
        assert_eq!(whole("0"), Ok(0));
        assert!(positive("0").is_err());
        assert!(positive("nan").is_err());
        assert_eq!(non_negative("0"), Ok(0.0));
        assert!(fraction_below_one("1").is_err());
        assert_eq!(probability("1"), Ok(1.0));
    }
}
