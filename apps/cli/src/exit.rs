//! Ending a command: help and version as clap prints them, every error on one line.

use std::process::ExitCode;

/// Help and version go to stdout as clap prints them (exit 0); a usage error becomes one line
/// on stderr that keeps clap's tip ("a similar argument exists: '--epochs'"), exit 2.
pub fn clap_exit(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        print!("{e}");
        return ExitCode::SUCCESS;
    }
    eprintln!("{}", one_line_usage_error(&e.render().to_string()));
    ExitCode::from(2)
}

/// clap's rendered error in one line: the first line, its tips, then `(see --help)`.
fn one_line_usage_error(text: &str) -> String {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines
        .next()
        .unwrap_or("error: invalid arguments")
        .to_string();
    let tips: Vec<&str> = lines
        .filter_map(|l| {
            l.strip_prefix("tip:")
                .map(str::trim)
                .or_else(|| l.starts_with("[possible values").then_some(l))
        })
        .collect();
    if tips.is_empty() {
        format!("{first} (see --help)")
    } else {
        format!("{first} ({}; see --help)", tips.join("; "))
    }
}

/// Prints `error: cause: cause...` on one line and returns the failure status.
pub fn error_exit(e: &anyhow::Error) -> ExitCode {
    let text = format!("{e:#}");
    eprintln!(
        "error: {}",
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usage_error_keeps_its_tip_on_one_line() {
        let text = "error: unexpected argument '--epoch' found\n\n  tip: a similar argument exists: '--epochs'\n\nUsage: train [OPTIONS]\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line_usage_error(text),
            "error: unexpected argument '--epoch' found (a similar argument exists: '--epochs'; see --help)"
        );
        assert_eq!(
            one_line_usage_error("error: bad\n\nUsage: x\n"),
            "error: bad (see --help)"
        );
        assert_eq!(
            one_line_usage_error(
                "error: invalid value 'x' for '--o <O>'\n  [possible values: a, b]\n"
            ),
            "error: invalid value 'x' for '--o <O>' ([possible values: a, b]; see --help)"
        );
    }
}
