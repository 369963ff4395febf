//! Any bytes as a picture for `eval --image`: the real decoding code of the eval command
//! (included from its source) and MNIST preprocessing must give an image or a one-line
//! error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../apps/eval/src/picture.rs"]
mod picture;

fuzz_target!(|data: &[u8]| {
    if let Ok(pic) = picture::decode("fuzz", data) {
        if let Ok(page) = pic.page() {
            let _ = datagen::preprocess::prepare(&page, &datagen::preprocess::Options::default());
        }
    }
});
