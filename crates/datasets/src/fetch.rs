//! Fetching a data set: a system copy if one checks out, else the cache, else the mirrors.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use md5::{Digest, Md5};

use crate::catalog::{Named, Remote};
use crate::error::{Error, Result};

/// The environment variable whose URL (or comma-separated URLs, tried in order) replaces the
/// built-in mirrors: files are fetched as `URL/<file name>`.
pub const MIRROR_ENV: &str = "DIGITS_DATA_MIRROR";

/// Where to look and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The cache root: a data set goes into `<cache>/<name>/`.
    pub cache: PathBuf,
    /// Base URLs replacing the data set's own mirrors (from [`MIRROR_ENV`]).
    pub mirrors: Option<Vec<String>>,
    /// Whether to look in the data set's system directories first (off when mirrors are
    /// named explicitly: then the files come from there).
    pub system_dirs: bool,
    /// How long to wait to connect, and for each read.
    pub timeout: Duration,
}

impl Options {
    /// The cache in `dir`, the built-in mirrors, system directories looked at.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        Self {
            cache: dir.into(),
            mirrors: None,
            system_dirs: true,
            timeout: Duration::from_secs(30),
        }
    }

    /// The cache in `$XDG_CACHE_HOME/digits`, else `$HOME/.cache/digits`; mirrors from
    /// [`MIRROR_ENV`] when it is set and not empty (and then no system directory).
    ///
    /// # Errors
    /// [`Error::NoCacheDir`] when neither variable names a directory.
    pub fn from_env() -> Result<Self> {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        // The XDG spec ignores a relative XDG_CACHE_HOME.
        let root = match var("XDG_CACHE_HOME").filter(|p| p.is_absolute()) {
            Some(x) => x,
            None => var("HOME").ok_or(Error::NoCacheDir)?.join(".cache"),
        };
        let mut options = Self::in_dir(root.join("digits"));
        options.mirrors = std::env::var(MIRROR_ENV).ok().and_then(|v| {
            let list: Vec<String> = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            (!list.is_empty()).then_some(list)
        });
        options.system_dirs = options.mirrors.is_none();
        Ok(options)
    }
}

/// What [`fetch`] is doing, for a progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// Every file was found in a system directory and passed its checksum.
    System {
        /// The directory.
        dir: &'a Path,
    },
    /// A file was in the cache and passed its checksum: no download.
    Cached {
        /// The file.
        file: &'static str,
    },
    /// A download starts.
    Start {
        /// The file.
        file: &'static str,
        /// From where.
        url: &'a str,
        /// Its size, when the server says.
        total: Option<u64>,
    },
    /// Bytes arrived.
    Progress {
        /// The file.
        file: &'static str,
        /// Bytes so far.
        done: u64,
        /// Its size, when the server says.
        total: Option<u64>,
    },
    /// A file arrived, passed its checksum and is in the cache.
    Done {
        /// The file.
        file: &'static str,
        /// Its size.
        bytes: u64,
    },
    /// A mirror failed for a file; the next one is tried.
    Failed {
        /// The file.
        file: &'static str,
        /// The URL that failed.
        url: &'a str,
        /// Why.
        reason: &'a str,
    },
}

impl fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::System { dir } => write!(f, "using the checked files in {}", dir.display()),
            Event::Cached { file } => write!(f, "{file}: cached, checksum ok"),
            Event::Start { file, url, total } => match total {
                Some(t) => write!(f, "{file}: downloading {url} ({t} bytes)"),
                None => write!(f, "{file}: downloading {url}"),
            },
            Event::Progress { file, done, total } => match total {
                Some(t) if *t > 0 => write!(f, "{file}: {done} of {t} bytes ({}%)", done * 100 / t),
                _ => write!(f, "{file}: {done} bytes"),
            },
            Event::Done { file, bytes } => write!(f, "{file}: {bytes} bytes, checksum ok"),
            Event::Failed { file, url, reason } => {
                write!(f, "{file}: {url} failed ({reason}), trying the next mirror")
            }
        }
    }
}

/// The MD5 of `bytes` as 32 lowercase hex digits.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex(&Md5::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// MD5 of everything `r` yields.
fn md5_of(mut r: impl Read) -> io::Result<String> {
    let mut md5 = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match r.read(&mut buf)? {
            0 => return Ok(hex(&md5.finalize())),
            n => md5.update(&buf[..n]),
        }
    }
}

/// Checks the `.gz` at `path`: the published file (its MD5 is the published one), or the
/// published content compressed again (what it decompresses to has the published content's
/// MD5; Debian's package and a private mirror may recompress). `Err` carries the file's MD5.
fn verify(path: &Path, remote: &Remote) -> std::result::Result<(), String> {
    let open = || File::open(path).map(io::BufReader::new);
    let md5 = open().and_then(md5_of).map_err(|e| e.to_string())?;
    if md5 == remote.md5_gz {
        return Ok(());
    }
    match open().and_then(|f| md5_of(flate2::read::GzDecoder::new(f))) {
        Ok(raw) if raw == remote.md5_raw => Ok(()),
        _ => Err(md5),
    }
}

/// Makes sure the four files of `set` are present and checked, and returns the directory
/// that holds them: a system directory whose files pass their checksums, else the cache
/// (`<options.cache>/<set.name>`), downloading what it lacks from the mirrors in order.
/// Each download goes to a temporary file in the cache directory, is checked against the
/// published MD5 and only then renamed to its name, so the cache never holds a partial or
/// corrupt file. `progress` hears about every step.
///
/// # Errors
/// [`Error::Checksum`] when a file arrived but is not the published one (and no other mirror
/// gave the right one); [`Error::Unreachable`] when no mirror gave it, with every URL and
/// reason and how to give the files by hand; [`Error::Cache`] when the cache cannot be
/// written.
pub fn fetch(
    set: &Named,
    options: &Options,
    progress: &mut dyn FnMut(Event<'_>),
) -> Result<PathBuf> {
    if options.system_dirs {
        for dir in set.system_dirs {
            let dir = Path::new(dir);
            if set
                .files
                .iter()
                .all(|r| verify(&dir.join(r.file), r).is_ok())
            {
                progress(Event::System { dir });
                return Ok(dir.to_path_buf());
            }
        }
    }
    let dir = options.cache.join(set.name);
    fs::create_dir_all(&dir).map_err(|source| Error::Cache {
        path: dir.clone(),
        source,
    })?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(options.timeout))
        .timeout_per_read(Some(options.timeout))
        .build()
        .into();
    let mirrors: Vec<&str> = match &options.mirrors {
        Some(list) => list.iter().map(String::as_str).collect(),
        None => set.mirrors.to_vec(),
    };
    for remote in &set.files {
        let path = dir.join(remote.file);
        if path.exists() {
            if verify(&path, remote).is_ok() {
                progress(Event::Cached { file: remote.file });
                continue;
            }
            // Not written by us (we rename only checked files): replace it.
            fs::remove_file(&path).map_err(|source| Error::Cache {
                path: path.clone(),
                source,
            })?;
        }
        download(&agent, set, remote, &mirrors, &dir, progress)?;
    }
    Ok(dir)
}

/// Downloads one file into `dir`, trying each mirror until one gives the published file.
fn download(
    agent: &ureq::Agent,
    set: &Named,
    remote: &Remote,
    mirrors: &[&str],
    dir: &Path,
    progress: &mut dyn FnMut(Event<'_>),
) -> Result<()> {
    let tmp = dir.join(format!(".{}.{}.part", remote.file, std::process::id()));
    let path = dir.join(remote.file);
    let mut tried = Vec::new();
    let mut mismatch = None;
    for mirror in mirrors {
        let url = format!("{}/{}", mirror.trim_end_matches('/'), remote.file);
        let got = get(agent, &url, &tmp, remote.file, progress);
        let reason = match got.map(|bytes| (verify(&tmp, remote), bytes)) {
            Ok((Ok(()), bytes)) => {
                fs::rename(&tmp, &path).map_err(|source| Error::Cache {
                    path: path.clone(),
                    source,
                })?;
                if let Ok(d) = File::open(dir) {
                    let _ = d.sync_all();
                }
                progress(Event::Done {
                    file: remote.file,
                    bytes,
                });
                return Ok(());
            }
            Ok((Err(md5), _)) => {
                let reason = format!("checksum mismatch: md5 {md5}");
                mismatch = Some(Error::Checksum {
                    set: set.name,
                    file: remote.file,
                    url: url.clone(),
                    expected: remote.md5_gz,
                    got: md5,
                });
                reason
            }
            Err(reason) => reason,
        };
        let _ = fs::remove_file(&tmp);
        progress(Event::Failed {
            file: remote.file,
            url: &url,
            reason: &reason,
        });
        tried.push(format!("{url}: {reason}"));
    }
    Err(mismatch.unwrap_or_else(|| Error::Unreachable {
        set: set.name,
        file: remote.file,
        tried: if tried.is_empty() {
            "no mirror given".into()
        } else {
            tried.join("; ")
        },
        source_page: set.source,
    }))
}

/// GETs `url` into `tmp` (flushed to disk), returning the size of what arrived, or why it
/// did not arrive whole.
fn get(
    agent: &ureq::Agent,
    url: &str,
    tmp: &Path,
    file: &'static str,
    progress: &mut dyn FnMut(Event<'_>),
) -> std::result::Result<u64, String> {
    let response = agent.get(url).call().map_err(|e| e.to_string())?;
    let total = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    progress(Event::Start { file, url, total });
    let mut body = response.into_body().into_reader();
    let mut out = File::create(tmp).map_err(|e| format!("creating {}: {e}", tmp.display()))?;
    let mut buf = vec![0u8; 1 << 16];
    let (mut done, mut shown) = (0u64, 0u64);
    let step = total.map_or(1 << 20, |t| (t / 50).max(1 << 16));
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => return Err(format!("transfer broke after {done} bytes: {e}")),
        };
        out.write_all(&buf[..n])
            .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
        done += n as u64;
        if done - shown >= step {
            shown = done;
            progress(Event::Progress { file, done, total });
        }
    }
    if let Some(t) = total {
        if done != t {
            return Err(format!("truncated: {done} of {t} bytes"));
        }
    }
    out.sync_all()
        .map_err(|e| format!("flushing {}: {e}", tmp.display()))?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_matches_rfc_1321_test_vectors() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            md5_of(&b"message digest"[..]).unwrap(),
            "f96b697d7cb7938d525a2f31aaf161d0"
        );
    }

    #[test]
    fn events_read_as_progress_lines() {
        let e = Event::Progress {
            file: "t10k-labels-idx1-ubyte.gz",
            done: 50,
            total: Some(200),
        };
        assert_eq!(
            e.to_string(),
            "t10k-labels-idx1-ubyte.gz: 50 of 200 bytes (25%)"
        );
    }
}
