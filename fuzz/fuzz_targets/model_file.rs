//! Any bytes as a model file: parsing and rebuilding must return a value or a typed error,
//! never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(saved) = nn::SavedModel::from_json(text) {
            let _ = saved.build();
        }
    }
});
