//! Data sets by name (`--data mnist`, `--data fashion-mnist`): fetched once into the cache
//! with progress on stderr, offline after that.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use engine::DataSource;

/// The directory of IDX files a data source names: `idx:DIR` as given, a data set by name
/// fetched (or found in the cache or a system directory, see [`datasets::fetch`]), `None`
/// for synthetic data. Progress goes to stderr: a line per file, and a running count on a
/// terminal; a mirror that fails is named only in the error, if no other mirror works.
///
/// # Errors
/// One line: a file that fails its checksum, no mirror reachable (with how to give the
/// files by hand), an unwritable cache.
pub fn data_dir(source: &DataSource) -> Result<Option<PathBuf>> {
    let name = match source {
        DataSource::Synthetic => return Ok(None),
        DataSource::Idx(dir) => return Ok(Some(dir.clone())),
        named => named.dataset_name().unwrap_or_default(),
    };
    let set = datasets::by_name(name).with_context(|| format!("no data set called {name}"))?;
    let options = datasets::Options::from_env()?;
    let terminal = std::io::stderr().is_terminal();
    let mut on_line = false;
    let dir = datasets::fetch(&set, &options, &mut |event| {
        let mut err = std::io::stderr().lock();
        match event {
            datasets::Event::Progress { .. } if terminal => {
                let _ = write!(err, "\r{name}: {event}\x1b[K");
                on_line = true;
            }
            datasets::Event::Progress { .. } => {}
            // The error lists every failed mirror if none works; when a later one does, its
            // "downloading" line says which. Either way the failure itself is no news.
            datasets::Event::Failed { .. } => {}
            _ => {
                if on_line {
                    let _ = write!(err, "\r\x1b[K");
                    on_line = false;
                }
                let _ = writeln!(err, "{name}: {event}");
            }
        }
    })
    .with_context(|| format!("--data {name}"))?;
    Ok(Some(dir))
}
