//! The model a run checks, its class names, and the test data it is checked on.

use anyhow::{bail, Context, Result};
use datagen::{idx, Dataset, Style};
use engine::{class_names, DataSource, DIGIT_NAMES, SYNTHETIC_TEST_START};
use nn::{SavedModel, Sequential};

use crate::flags::Cli;

/// A model file, read and built, with the names of its classes.
pub struct Loaded {
    /// The file as read.
    pub saved: SavedModel,
    /// Its network.
    pub model: Sequential,
    /// One name per output.
    pub names: Vec<String>,
}

impl Loaded {
    /// Reads `--model` (with `--arch` for a PyTorch state_dict) and decides the class names (`--classes`, else the model's, else
    /// digits when there are ten outputs).
    pub fn open(cli: &Cli) -> Result<Self> {
        let (saved, model) = cli::load_model_as(&cli.model, cli.arch.as_ref())?;
        let classes = saved
            .spec
            .classes()
            .with_context(|| format!("reading model {}", cli.model.display()))?;
        let names = names_for(cli, &saved, classes)?;
        Ok(Self {
            saved,
            model,
            names,
        })
    }

    /// The class names as `&str`s.
    pub fn name_refs(&self) -> Vec<&str> {
        self.names.iter().map(String::as_str).collect()
    }

    /// The calibration temperature stored in the model (`meta.calibration.temperature`), or
    /// 1 for a model without one.
    pub fn temperature(&self) -> f32 {
        vision::temperature_of(&self.saved.meta)
    }

    /// The deskewing the model was trained with (`meta.deskew`), or 0: its test images and
    /// pictures are deskewed alike.
    pub fn deskew(&self) -> f32 {
        vision::deskew_of(&self.saved.meta)
    }

    /// The test-time views the model was calibrated on (`meta.calibration.views`), or 1.
    pub fn views(&self) -> usize {
        vision::views_of(&self.saved.meta)
    }

    /// The confidence floor of the verdict: `--min-confidence`, else the model's
    /// (`meta.calibration.min_confidence`), else [`vision::DEFAULT_MIN_CONFIDENCE`].
    pub fn min_confidence(&self, cli: &Cli) -> f32 {
        cli.min_confidence.unwrap_or_else(|| {
            self.saved
                .meta
                .get("calibration")
                .and_then(|c| c.get("min_confidence"))
                .and_then(|v| v.as_f64())
                .map(|v| v as f32)
                .filter(|v| (0.0..=1.0).contains(v))
                .unwrap_or(vision::DEFAULT_MIN_CONFIDENCE)
        })
    }

    /// The verdict's floors and the model's calibration, as `--image`, `--ood` and the page
    /// use them (`saliency`: also compute which pixels decided).
    pub fn verdict_settings(&self, cli: &Cli, saliency: bool) -> vision::Settings {
        vision::Settings {
            min_confidence: self.min_confidence(cli),
            temperature: self.temperature(),
            min_energy: self.min_energy(),
            saliency,
            views: self.views(),
            deskew: self.deskew(),
        }
    }

    /// The energy floor of the verdict stored in the model (`meta.calibration.min_energy`),
    /// if any.
    pub fn min_energy(&self) -> Option<f32> {
        vision::min_energy_of(&self.saved.meta)
    }

    /// A string the model's metadata holds under `key`.
    pub fn meta_str(&self, key: &str) -> Option<&str> {
        self.saved.meta.get(key).and_then(|v| v.as_str())
    }

    /// The data source to test on: `--data`, else the IDX directory the model was trained
    /// on when it still exists, else synthetic digits (with a warning when the model was
    /// trained on something else).
    pub fn data_source(&self, cli: &Cli) -> DataSource {
        if let Some(d) = &cli.data {
            return d.clone();
        }
        match self.meta_str("data").map(str::parse::<DataSource>) {
            Some(Ok(DataSource::Idx(dir))) if dir.is_dir() => DataSource::Idx(dir),
            Some(Ok(named @ (DataSource::Mnist | DataSource::FashionMnist))) => named,
            Some(Ok(DataSource::Idx(dir))) => {
                eprintln!(
                    "warning: the model was trained on idx:{}, which is not here; testing on synthetic digits (pass --data idx:DIR)",
                    dir.display()
                );
                DataSource::Synthetic
            }
            _ => DataSource::Synthetic,
        }
    }

    /// The test images as the network sees them (deskewed when the model was trained so) and
    /// their description, checked against the model's input size.
    pub fn test_data(&self, cli: &Cli) -> Result<(Dataset, String)> {
        let (data, desc) = self.test_pictures(cli)?;
        Ok(match self.deskew() {
            d if d > 0.0 => (
                data.deskewed(d),
                format!("{desc}, deskewed as the model was trained (shear at most {d})"),
            ),
            _ => (data, desc),
        })
    }

    /// The test images as they are, for the picture path (which prepares and deskews each
    /// one itself), and their description.
    pub fn test_pictures(&self, cli: &Cli) -> Result<(Dataset, String)> {
        let (data, desc) = match self.data_source(cli) {
            DataSource::Synthetic => {
                let style: Style = match cli.style {
                    Some(s) => s.into(),
                    None => self
                        .meta_str("style")
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(Style::Strokes),
                };
                let seed = cli
                    .seed
                    .or(self.saved.meta.get("seed").and_then(|v| v.as_u64()))
                    .unwrap_or(1);
                let data = datagen::generate(style, seed, SYNTHETIC_TEST_START, cli.count);
                (data, format!("synthetic {style} digits, seed {seed}"))
            }
            source => {
                let dir = cli::data_dir(&source)?.unwrap_or_default();
                let data = idx::load_split(&dir, idx::Split::Test)
                    .with_context(|| format!("loading test data from {}", dir.display()))?
                    .truncated(cli.count);
                let desc = match source.dataset_name() {
                    Some(name) => format!("{name} test files in {}", dir.display()),
                    None => format!("IDX test files in {}", dir.display()),
                };
                (data, desc)
            }
        };
        let [_, h, w] = self.saved.spec.input;
        if data.rows() != h || data.cols() != w {
            bail!(
                "test images are {}x{}, the model takes {h}x{w}",
                data.rows(),
                data.cols()
            );
        }
        Ok((data, desc))
    }

    /// The `model:` and `network:` lines every mode prints first (the network wrapped to
    /// 100 columns).
    pub fn describe(&self, cli: &Cli) -> String {
        let layers: Vec<String> = self
            .saved
            .spec
            .layers
            .iter()
            .map(|l| l.to_string())
            .collect();
        format!(
            "model: {} ({} parameters)\n{}",
            cli.model.display(),
            cli::thousands(self.model.param_count()),
            cli::wrap_list("network: ", &layers, " -> ", crate::report::MAX_WIDTH)
        )
    }
}

fn names_for(cli: &Cli, saved: &SavedModel, classes: usize) -> Result<Vec<String>> {
    let names = match (&cli.classes, saved.meta.get("class_names")) {
        (Some(spec), _) => class_names(spec)?,
        (None, Some(stored)) => serde_json::from_value(stored.clone()).unwrap_or_default(),
        (None, None) => Vec::new(),
    };
    if names.len() == classes {
        return Ok(names);
    }
    if cli.classes.is_some() {
        bail!(
            "--classes gives {} names but the model has {classes} outputs",
            names.len()
        );
    }
    // No usable names stored: digits when they fit, class numbers otherwise.
    Ok(if classes == DIGIT_NAMES.len() {
        DIGIT_NAMES.iter().map(|s| s.to_string()).collect()
    } else {
        (0..classes).map(|c| format!("class {c}")).collect()
    })
}
