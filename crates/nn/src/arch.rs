//! The `--arch` grammar: a preset name or a comma-separated list of layer tokens.

use std::str::FromStr;

use crate::error::{Error, Result};
use crate::spec::{LayerSpec, ModelSpec};

impl ModelSpec {
    /// A spec from `--arch`: a name (`seed`, `lenet`) or a comma-separated list of layers for
    /// 28x28 gray input, checked for shape errors:
    ///
    /// | token | layer |
    /// |---|---|
    /// | `conv<F>x<K>[s<S>][p<P>]` | convolution, F filters of KxK, stride S (1), padding P (0) |
    /// | `relu` | ReLU |
    /// | `pool2` | 2x2 max-pool |
    /// | `flatten` | flatten to a vector |
    /// | `dense<N>` | dense layer with N outputs |
    /// | `dropout<R>` | dropout with rate R in [0, 1) |
    ///
    /// ```
    /// # fn main() -> nn::Result<()> {
    /// let spec = nn::ModelSpec::parse("conv16x5p2,relu,pool2,flatten,dense64,relu,dropout0.25,dense10")?;
    /// assert_eq!(spec.classes()?, 10);
    /// assert!(nn::ModelSpec::parse("conv16x5,relu,dense10").is_err()); // dense needs flatten
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidSpec`] naming the first token that is not understood (and why), or the
    /// first layer whose input does not fit.
    pub fn parse(text: &str) -> Result<Self> {
        if let Some(spec) = Self::by_name(text.trim()) {
            return Ok(spec);
        }
        if !text.contains(',') && parse_layer(text.trim()).is_err() {
            return Err(Error::InvalidSpec {
                reason: format!(
                    "'{}' is not a preset ({}) nor a comma-separated layer list such as conv8x3,relu,pool2,flatten,dense10",
                    text.trim(),
                    Self::PRESETS.join(", ")
                ),
            });
        }
        let layers = text
            .split(',')
            .enumerate()
            .map(|(i, token)| {
                parse_layer(token.trim()).map_err(|why| Error::InvalidSpec {
                    reason: format!("token {} '{}': {why}", i + 1, token.trim()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let spec = Self {
            input: [1, 28, 28],
            layers,
        };
        spec.classes()?;
        Ok(spec)
    }
}

impl FromStr for ModelSpec {
    type Err = Error;

    /// [`ModelSpec::parse`].
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// One `--arch` token as a layer, or why not.
fn parse_layer(token: &str) -> std::result::Result<LayerSpec, String> {
    let number = |digits: &str, what: &str| -> std::result::Result<usize, String> {
        match digits.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!(
                "{what} must be a positive whole number, got '{digits}'"
            )),
        }
    };
    match token {
        "relu" => return Ok(LayerSpec::Relu),
        "pool2" | "maxpool2" => return Ok(LayerSpec::MaxPool2x2),
        "flatten" => return Ok(LayerSpec::Flatten),
        "" => return Err("empty layer (two commas in a row?)".into()),
        _ => {}
    }
    if let Some(rest) = token.strip_prefix("conv") {
        let usage = "expected conv<filters>x<kernel>[s<stride>][p<padding>], e.g. conv32x3p1";
        let (filters, rest) = rest.split_once('x').ok_or(usage)?;
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (kernel, mut rest) = rest.split_at(end);
        let (mut stride, mut padding) = (1, 0);
        while !rest.is_empty() {
            let (key, tail) = rest.split_at(1);
            let end = tail
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(tail.len());
            let (value, tail) = tail.split_at(end);
            match key {
                "s" => stride = number(value, "stride")?,
                "p" => {
                    padding = value
                        .parse::<usize>()
                        .map_err(|_| format!("padding must be a whole number, got '{value}'"))?
                }
                _ => return Err(usage.into()),
            }
            rest = tail;
        }
        return Ok(LayerSpec::Conv2d {
            filters: number(filters, "filters")?,
            kernel: number(kernel, "kernel")?,
            stride,
            padding,
        });
    }
    if let Some(units) = token.strip_prefix("dense") {
        return Ok(LayerSpec::Dense {
            units: number(units, "units")?,
        });
    }
    if let Some(rate) = token.strip_prefix("dropout") {
        return match rate.parse::<f32>() {
            Ok(r) if (0.0..1.0).contains(&r) => Ok(LayerSpec::Dropout { rate: r }),
            _ => Err(format!(
                "dropout rate must be a number in [0, 1), got '{rate}'"
            )),
        };
    }
    Err("unknown layer: expected conv<F>x<K>[s<S>][p<P>], relu, pool2, flatten, dense<N> or dropout<R>".into())
}
