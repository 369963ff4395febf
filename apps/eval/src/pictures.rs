//! `--image`: the digit in each picture, with what the network saw and an honest verdict.

use anyhow::{bail, Context, Result};
use serde_json::json;
use vision::Verdict;

use crate::flags::Cli;
use crate::loaded::Loaded;
use crate::recognise;

/// Reads every picture first (a bad file stops the run before any output), then shows what
/// the network sees and says for each.
pub fn run(cli: &Cli, m: &Loaded, paths: &[String]) -> Result<()> {
    vision::check_model(&m.saved.spec)?;
    if paths.iter().filter(|p| *p == "-").count() > 1 {
        bail!("--image: stdin (`-`) can be read only once");
    }
    let pictures = paths
        .iter()
        .map(|path| vision::read(path))
        .collect::<Result<Vec<_>, _>>()?;
    let names = m.name_refs();
    println!("{}", m.describe(cli));
    println!();
    let mut json_rows = Vec::new();
    let (mut digits, mut numbers, mut unsure, mut none) = (0, 0, 0, 0);
    let settings = m.verdict_settings(cli, true);
    for pic in &pictures {
        let page = pic.page()?;
        let r = vision::recognise_with(&m.model, &page, &settings)
            .with_context(|| format!("recognising {}", pic.name))?;
        let number = recognise::digits_of(&m.model, &page, &r, &settings)
            .with_context(|| format!("recognising {}", pic.name))?;
        print!("{}", recognise::report(pic, &r, &number, &names)?);
        match r.verdict {
            _ if number.len() > 1 && recognise::number(&number, &names).is_some() => numbers += 1,
            Verdict::Digit(_) => digits += 1,
            Verdict::Unsure(..) => unsure += 1,
            Verdict::NoDigit(_) | Verdict::Unfamiliar => none += 1,
        }
        json_rows.push(recognise::to_json(pic, &r, &number, &names));
    }
    if pictures.len() > 1 {
        let numbers = match numbers {
            0 => String::new(),
            n => format!(", {} of several digits", cli::plural(n, "number")),
        };
        println!(
            "{}: {}{numbers}, {unsure} unsure, {none} without a digit",
            cli::plural(pictures.len(), "picture"),
            cli::plural(digits, "digit")
        );
    }
    if let Some(path) = &cli.json {
        let out = json!({
            "predictions": json_rows,
            "class_names": names,
            "min_confidence": m.min_confidence(cli),
            "temperature": m.temperature(),
            "deskew": m.deskew(),
            "model": cli.model,
        });
        crate::write_json(path, &out)?;
    }
    Ok(())
}
