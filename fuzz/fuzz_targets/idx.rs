//! Any bytes as an IDX images file and as an IDX labels file (plain, or gzip when the bytes
//! start with the gzip magic): a dataset or a typed error, never a panic, never an
//! allocation of a declared size the file does not back.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("digits-fuzz-idx-{}", std::process::id()));
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(data).unwrap();
    drop(f);
    let _ = datagen::idx::read_images(&path);
    let _ = datagen::idx::read_labels(&path);
    let _ = datagen::idx::load_pair(&path, &path);
});
