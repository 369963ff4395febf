//! Classify the digit in a picture with a trained model, as a library user would:
//!
//! ```sh
//! cargo run --release --example classify -- model.json digit.png
//! ```
//!
//! Load the model, decode the picture (PNG, JPEG, PGM/PPM), prepare it as MNIST was
//! prepared, run the network, print the verdict and every probability.

use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model_path, picture_path] = args.as_slice() else {
        return Err("usage: classify MODEL.json PICTURE".into());
    };
    let saved = nn::SavedModel::from_json(&std::fs::read_to_string(model_path)?)?;
    let model = saved.build()?;
    vision::check_model(&saved.spec)?;

    let picture = vision::read(picture_path)?;
    let r = vision::recognise(&model, &picture.page()?, vision::DEFAULT_MIN_CONFIDENCE)?;

    let names: Vec<String> = match saved.meta.get("class_names") {
        Some(v) => serde_json::from_value(v.clone())?,
        None => (0..r.probs.len()).map(|c| c.to_string()).collect(),
    };
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    println!("{picture_path}: {}", r.verdict.text(&names));
    for (name, p) in names.iter().zip(&r.probs) {
        println!("  {name:>12} {p:.4}");
    }
    Ok(())
}
