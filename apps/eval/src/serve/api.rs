//! The routes: the page (compiled in), the model, and recognising a picture or a drawing.
//!
//! | route | answer |
//! |---|---|
//! | `GET /`, `/app.js`, `/style.css` | the page |
//! | `GET /api/model` | `{"class_names", "spec", "architecture", "parameters", "meta", "filters", "min_confidence"}` |
//! | `GET /report` | the model's HTML report (as `eval --report` writes it), drawn once at start |
//! | `POST /api/predict` (a PNG, JPEG or PGM/PPM file as the body) | the answer below |
//! | `POST /api/strokes` (see [`super::strokes`]) | the answer below |
//!
//! The answer: `class`, `top`, `probability`, `probabilities`, `verdict`, `diagnostics`,
//! `digits` and `number` (as `--image --json`), `found` (one line), `input` and `saliency` (28
//! rows of 28), and `maps`.
//! Errors: `{"error": "..."}` with a 4xx status, or 503 when the server is busy.

use datagen::preprocess::{Channels, Page};
use datagen::IMAGE_SIDE;
use nn::Sequential;
use serde_json::{json, Map, Value};
use tensor::Tensor;
use vision::Recognition;

use super::http::{Request, Response};
use super::limits::{Gate, BUSY_WAIT};
use super::strokes;
use crate::loaded::Loaded;
use crate::recognise;

const INDEX_HTML: &str = include_str!("page/index.html");
const APP_JS: &str = include_str!("page/app.js");
const STYLE_CSS: &str = include_str!("page/style.css");

/// Everything a request may use, built once at start: no request touches the file system.
pub struct App {
    model: Sequential,
    names: Vec<String>,
    /// The verdict's floors and the model's calibration, as `--image` uses them.
    settings: vision::Settings,
    /// The model's HTML report (`eval --report`), made once at start.
    report: Vec<u8>,
    /// `GET /api/model`, serialised once.
    model_json: Vec<u8>,
    gate: Gate,
}

impl App {
    /// The served model; `slots` requests run the network at once.
    pub fn new(m: Loaded, settings: vision::Settings, slots: usize, report: String) -> Self {
        let model_json = model_json(&m, settings.min_confidence)
            .to_string()
            .into_bytes();
        Self {
            model: m.model,
            names: m.names,
            settings,
            model_json,
            report: report.into_bytes(),
            gate: Gate::new(slots),
        }
    }

    /// Answers one request. Never panics on any input; a bug shows as a 500.
    pub fn handle(&self, req: &Request) -> Response {
        let path = req.path.as_str();
        let allowed = match path {
            "/" | "/index.html" | "/app.js" | "/style.css" | "/api/model" | "/report" => "GET",
            "/api/predict" | "/api/strokes" => "POST",
            _ => {
                let shown: String = path.chars().take(80).collect();
                return Response::error(404, format!("no such page: {shown}"));
            }
        };
        if req.method != allowed {
            return Response::error(405, format!("{path} takes {allowed}, not {}", req.method))
                .with("Allow", allowed);
        }
        match path {
            "/" | "/index.html" => Response::asset("text/html; charset=utf-8", INDEX_HTML),
            "/app.js" => Response::asset("text/javascript; charset=utf-8", APP_JS),
            "/style.css" => Response::asset("text/css; charset=utf-8", STYLE_CSS),
            "/report" => Response {
                status: 200,
                content_type: "text/html; charset=utf-8",
                headers: Vec::new(),
                body: self.report.clone(),
            },
            "/api/model" => Response {
                status: 200,
                content_type: "application/json",
                headers: Vec::new(),
                body: self.model_json.clone(),
            },
            "/api/predict" => self.busy_or(|| self.predict(&req.body)),
            _ => self.busy_or(|| self.strokes(&req.body)),
        }
    }

    /// Runs `f` once the gate admits the request, or answers 503.
    fn busy_or(&self, f: impl FnOnce() -> Response) -> Response {
        match self.gate.enter(BUSY_WAIT) {
            Some(_pass) => f(),
            None => Response::error(503, "the server is busy; try again in a moment")
                .with("Retry-After", "1"),
        }
    }

    fn predict(&self, body: &[u8]) -> Response {
        if body.is_empty() {
            return Response::error(400, "empty body: send a PNG, JPEG or PGM/PPM picture");
        }
        let picture = match vision::decode("the picture", body) {
            Ok(p) => p,
            Err(e) => return Response::error(picture_status(&e), e.to_string()),
        };
        match picture.page() {
            Ok(page) => self.answer(&page),
            Err(e) => Response::error(422, e.to_string()),
        }
    }

    fn strokes(&self, body: &[u8]) -> Response {
        let drawing = match strokes::render(body) {
            Ok(d) => d,
            Err(e) => return Response::error(400, e),
        };
        match Page::new(drawing.width, drawing.height, Channels::Gray, &drawing.gray) {
            Ok(page) => self.answer(&page),
            Err(e) => Response::error(422, e.to_string()),
        }
    }

    /// Recognises `page` the way `--image` does and says all of it.
    fn answer(&self, page: &Page<'_>) -> Response {
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        let result = vision::recognise_with(&self.model, page, &self.settings)
            .map_err(|e| e.to_string())
            .and_then(|r| {
                let maps = feature_maps(&self.model, &r.input)?;
                let digits = recognise::digits_of(&self.model, page, &r, &self.settings)
                    .map_err(|e| e.to_string())?;
                Ok(answer_json(&r, &digits, &names, maps))
            });
        match result {
            Ok(v) => Response::json(200, &v),
            Err(e) => Response::error(500, e),
        }
    }
}

/// The status for a picture that does not decode: too large is 413, not a picture we read
/// is 415, broken is 400.
fn picture_status(e: &vision::Error) -> u16 {
    match e {
        vision::Error::TooLarge { .. } | vision::Error::FileTooLarge { .. } => 413,
        vision::Error::NotAPicture { .. } | vision::Error::Unsupported { .. } => 415,
        _ => 400,
    }
}

/// `--image --json`'s fields plus what the page draws.
fn answer_json(r: &Recognition, digits: &[Recognition], names: &[&str], maps: Value) -> Value {
    let mut out = recognise::fields(r, names);
    out.extend(recognise::number_fields(digits, names));
    out.insert("found".into(), vision::found(&r.diagnostics).into());
    out.insert("input".into(), rows(&r.input, IMAGE_SIDE, 3));
    out.insert("saliency".into(), rows(&r.saliency, IMAGE_SIDE, 5));
    out.insert("maps".into(), maps);
    Value::Object(out)
}

/// `data` as rows of `width`, rounded to `digits` decimals (the page needs no more, and the
/// answer stays small).
fn rows(data: &[f32], width: usize, digits: i32) -> Value {
    Value::Array(
        data.chunks(width)
            .map(|row| Value::Array(row.iter().map(|&v| rounded(v, digits)).collect()))
            .collect(),
    )
}

fn rounded(v: f32, digits: i32) -> Value {
    let k = 10f64.powi(digits);
    json!((f64::from(v) * k).round() / k)
}

/// The feature maps after the ReLU and after the pooling that follow the first convolution,
/// up to the next convolution: every map of the seed network, the first block's of others.
/// Each entry: `{"layer", "name", "channels", "height", "width", "data": [map, ...]}`, a map
/// being `height` rows of `width`.
fn feature_maps(model: &Sequential, input: &[f32]) -> Result<Value, String> {
    let x = Tensor::from_vec(vec![1, 1, IMAGE_SIDE, IMAGE_SIDE], input.to_vec())
        .map_err(|e| e.to_string())?;
    let trace = model.forward_trace(&x).map_err(|e| e.to_string())?;
    let layers = model.layers();
    let Some(first_conv) = layers.iter().position(|l| l.name() == "conv") else {
        return Ok(json!([]));
    };
    let mut out = Vec::new();
    for (i, layer) in layers.iter().enumerate().skip(first_conv + 1) {
        let name = match layer.name() {
            "conv" => break,
            "relu" => "after ReLU",
            "pool" => "after pooling",
            _ => continue,
        };
        let &[1, c, h, w] = trace[i].shape() else {
            continue;
        };
        let maps: Vec<Value> = trace[i]
            .data()
            .chunks_exact(h * w)
            .map(|m| rows(m, w, 3))
            .collect();
        out.push(json!({
            "layer": i,
            "name": name,
            "channels": c,
            "height": h,
            "width": w,
            "data": maps,
        }));
    }
    Ok(Value::Array(out))
}

/// `GET /api/model`: names, spec, size, the model file's `meta`, and the first layer's filters
/// (`{"count", "size", "data": [k rows of k, ...]}`, the first input channel of each).
fn model_json(m: &Loaded, min_confidence: f32) -> Value {
    let mut filters = Value::Null;
    m.model.visit_params_ref(&mut |name, p| {
        if !filters.is_null() || !name.ends_with(".weight") {
            return;
        }
        if let &[f, c, kh, kw] = p.value.shape() {
            let data = p.value.data();
            let maps: Vec<Value> = (0..f)
                .map(|i| rows(&data[i * c * kh * kw..][..kh * kw], kw, 4))
                .collect();
            filters = json!({"layer": name, "count": f, "channels": c, "height": kh, "width": kw, "data": maps});
        }
    });
    let meta: Map<String, Value> = m.saved.meta.clone();
    json!({
        "class_names": m.names,
        "spec": m.saved.spec,
        "architecture": m.saved.spec.to_string(),
        "parameters": m.model.param_count(),
        "meta": meta,
        "filters": filters,
        "min_confidence": min_confidence,
    })
}
