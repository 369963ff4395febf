//! Where images come from, and what their classes are called: the parts of the command
//! lines that `train` and `eval` share.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Error, Result};

/// First sample index of the synthetic test set. Training uses indices `0..train_size` of
/// the same seeded stream, so the two sets never share an image.
pub const SYNTHETIC_TEST_START: u64 = 1 << 32;

/// The ten MNIST digit names.
pub const DIGIT_NAMES: [&str; 10] = [
    "Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine",
];

/// The ten Fashion-MNIST class names.
pub const FASHION_NAMES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// A data source named on the command line: `synthetic`, `mnist`, `fashion-mnist` or
/// `idx:DIR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// Images made by `datagen` from the run's seed.
    Synthetic,
    /// The four MNIST-format IDX files (plain or `.gz`) in a directory.
    Idx(PathBuf),
    /// MNIST by name: the apps fetch it once into a cache (the `datasets` crate).
    Mnist,
    /// Fashion-MNIST by name, as [`DataSource::Mnist`].
    FashionMnist,
}

impl DataSource {
    /// The name of a data set known by name (`mnist`, `fashion-mnist`), else `None`.
    pub fn dataset_name(&self) -> Option<&'static str> {
        match self {
            Self::Mnist => Some("mnist"),
            Self::FashionMnist => Some("fashion-mnist"),
            Self::Synthetic | Self::Idx(_) => None,
        }
    }
}

impl FromStr for DataSource {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "synthetic" => return Ok(Self::Synthetic),
            "mnist" => return Ok(Self::Mnist),
            "fashion-mnist" => return Ok(Self::FashionMnist),
            _ => {}
        }
        match s.strip_prefix("idx:") {
            Some(dir) if !dir.is_empty() => Ok(Self::Idx(PathBuf::from(dir))),
            _ if Path::new(s).is_dir() => Err(Error::Invalid(format!(
                "data source '{s}' is not 'synthetic', 'mnist', 'fashion-mnist' or 'idx:DIR' (for the MNIST-format files in that directory, write idx:{s})"
            ))),
            _ => Err(Error::Invalid(format!(
                "data source '{s}' is not 'synthetic', 'mnist', 'fashion-mnist' or 'idx:DIR'"
            ))),
        }
    }
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Synthetic => f.write_str("synthetic"),
            Self::Idx(dir) => write!(f, "idx:{}", dir.display()),
            Self::Mnist | Self::FashionMnist => f.write_str(self.dataset_name().unwrap_or("")),
        }
    }
}

/// Class names from `--classes`: `digits`, `fashion`, or a file with one name a line (blank
/// lines and surrounding spaces ignored).
///
/// # Errors
/// [`Error::Invalid`] naming the file when it cannot be read or holds no name.
pub fn class_names(spec: &str) -> Result<Vec<String>> {
    match spec {
        "digits" => Ok(DIGIT_NAMES.iter().map(|s| s.to_string()).collect()),
        "fashion" => Ok(FASHION_NAMES.iter().map(|s| s.to_string()).collect()),
        path => read_names(Path::new(path)),
    }
}

fn read_names(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Invalid(format!(
            "classes '{}' is not 'digits', 'fashion' or a readable file: {e}",
            path.display()
        ))
    })?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if names.is_empty() {
        return Err(Error::Invalid(format!(
            "class file {} holds no name",
            path.display()
        )));
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_source_parses_both_forms_and_rejects_others() {
        assert_eq!(
            "synthetic".parse::<DataSource>().unwrap(),
            DataSource::Synthetic
        );
        assert_eq!(
            "idx:/data/mnist".parse::<DataSource>().unwrap(),
            DataSource::Idx("/data/mnist".into())
        );
        assert!("idx:".parse::<DataSource>().is_err());
        for named in ["mnist", "fashion-mnist"] {
            let d: DataSource = named.parse().unwrap();
            assert_eq!(d.to_string(), named);
            assert_eq!(d.dataset_name(), Some(named));
        }
        assert!("emnist".parse::<DataSource>().is_err());
    }

    #[test]
    fn class_names_know_digits_and_fashion() {
        assert_eq!(class_names("digits").unwrap()[7], "Seven");
        assert_eq!(class_names("fashion").unwrap()[9], "Ankle boot");
        assert!(class_names("/no/such/file").is_err());
    }
}
