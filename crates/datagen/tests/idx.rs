//! The IDX loader against small files written by each test: good pairs (plain and gzip), one
//! test per kind of corruption, directory lookup, and a proptest that the parser never panics.
//!
//! Every error test asserts the one-line message names the file and the problem.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use datagen::idx::{self, Split};
use datagen::Error;
use flate2::write::GzEncoder;
use flate2::Compression;
use proptest::prelude::*;

/// Records the largest single allocation this test binary ever asks for, so that the tests of
/// huge headers can prove no buffer was sized from the header. (A 3 GB `Vec` would often
/// succeed here thanks to overcommit, and the test would pass for the wrong reason.)
struct LargestAllocation;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`, which upholds the `GlobalAlloc`
// contract; the atomic bookkeeping neither allocates nor touches the memory.
unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: same layout, same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: same layout, same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` with this layout; the caller guarantees `new_size`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// No test here needs more than a few hundred kilobytes at once.
const ALLOCATION_LIMIT: usize = 16 << 20;

fn assert_no_huge_allocation() {
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest < ALLOCATION_LIMIT,
        "largest allocation was {largest} bytes"
    );
}

const IMAGES_MAGIC: u32 = 0x803;
const LABELS_MAGIC: u32 = 0x801;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("datagen-idx-test-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// An IDX file: magic, big-endian dims, then `data`.
fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend(data);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// `count` distinct 28x28 images: pixel `p` of image `i` is `(i * 31 + p) % 256`.
fn pixels(count: usize, rows: usize, cols: usize) -> Vec<u8> {
    (0..count * rows * cols)
        .map(|k| ((k / (rows * cols)) * 31 + k % (rows * cols)) as u8)
        .collect()
}

fn images_file(count: u32) -> Vec<u8> {
    idx_bytes(
        IMAGES_MAGIC,
        &[count, 28, 28],
        &pixels(count as usize, 28, 28),
    )
}

fn labels_file(labels: &[u8]) -> Vec<u8> {
    idx_bytes(LABELS_MAGIC, &[labels.len() as u32], labels)
}

const LABELS: [u8; 5] = [3, 0, 9, 7, 1];

/// Writes a good 5-image pair under the canonical t10k names, gzip when `gz`.
fn write_good_pair(dir: &TempDir, gz: bool) -> (PathBuf, PathBuf) {
    let (images, labels) = (images_file(5), labels_file(&LABELS));
    if gz {
        (
            dir.write("t10k-images-idx3-ubyte.gz", &gzip(&images)),
            dir.write("t10k-labels-idx1-ubyte.gz", &gzip(&labels)),
        )
    } else {
        (
            dir.write("t10k-images-idx3-ubyte", &images),
            dir.write("t10k-labels-idx1-ubyte", &labels),
        )
    }
}

/// Asserts the error's one-line message, with its causes as the commands print them
/// (`error: a: b`), names `file` and contains every part of `problem`.
fn assert_message(err: &Error, file: &str, problem: &[&str]) {
    let mut msg = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        msg.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    assert!(!msg.contains('\n'), "message is not one line: {msg}");
    assert!(msg.contains(file), "message does not name {file}: {msg}");
    for part in problem {
        assert!(msg.contains(part), "message lacks {part:?}: {msg}");
    }
}

/// Runs `f` on a plain and a gzip version of `bytes`, written as `name` (plus `.gz`).
fn for_plain_and_gzip(dir: &TempDir, name: &str, bytes: &[u8], f: impl Fn(&Path, &str)) {
    f(&dir.write(name, bytes), name);
    let gz = format!("{name}.gz");
    f(&dir.write(&gz, &gzip(bytes)), &gz);
}

#[test]
fn plain_pair_loads_exact_pixels_and_labels() {
    let dir = TempDir::new("plain-pair");
    let (images, labels) = write_good_pair(&dir, false);
    let ds = idx::load_pair(&images, &labels).unwrap();
    assert_eq!((ds.len(), ds.rows(), ds.cols()), (5, 28, 28));
    assert_eq!(ds.images(), &pixels(5, 28, 28)[..]);
    assert_eq!(ds.labels(), &LABELS);
}

#[test]
fn gzip_pair_loads_exact_pixels_and_labels() {
    let dir = TempDir::new("gzip-pair");
    let (images, labels) = write_good_pair(&dir, true);
    let ds = idx::load_pair(&images, &labels).unwrap();
    assert_eq!(ds.images(), &pixels(5, 28, 28)[..]);
    assert_eq!(ds.labels(), &LABELS);
}

#[test]
fn gzip_is_detected_by_content_not_by_name() {
    let dir = TempDir::new("gzip-by-content");
    let gz_without_suffix = dir.write("images", &gzip(&images_file(2)));
    let plain_with_suffix = dir.write("labels.gz", &labels_file(&[4, 2]));
    let ds = idx::load_pair(&gz_without_suffix, &plain_with_suffix).unwrap();
    assert_eq!(ds.images(), &pixels(2, 28, 28)[..]);
    assert_eq!(ds.labels(), &[4, 2]);
}

#[test]
fn concatenated_gzip_members_are_one_stream() {
    let dir = TempDir::new("gzip-members");
    let bytes = images_file(3);
    let mut gz = gzip(&bytes[..100]);
    gz.extend(gzip(&bytes[100..]));
    let images = idx::read_images(dir.write("images.gz", &gz)).unwrap();
    assert_eq!(images.pixels, pixels(3, 28, 28));
}

#[test]
fn read_images_reports_any_image_size() {
    let dir = TempDir::new("read-any-size");
    let path = dir.write(
        "img",
        &idx_bytes(IMAGES_MAGIC, &[2, 3, 4], &pixels(2, 3, 4)),
    );
    let images = idx::read_images(&path).unwrap();
    assert_eq!((images.count, images.rows, images.cols), (2, 3, 4));
    assert_eq!(images.pixels, pixels(2, 3, 4));
    assert_eq!(
        idx::read_labels(dir.write("lbl", &labels_file(&[]))).unwrap(),
        Vec::<u8>::new()
    );
}

#[test]
fn bad_magic_names_found_and_expected_magic() {
    let dir = TempDir::new("bad-magic");
    let bytes = idx_bytes(0x0000_0d03, &[5, 28, 28], &pixels(5, 28, 28));
    for_plain_and_gzip(&dir, "bad-images", &bytes, |path, name| {
        let err = idx::read_images(path).unwrap_err();
        assert_message(
            &err,
            name,
            &[
                "at byte 0",
                "bad magic 0x00000d03 (3-dim f32)",
                "expected 0x00000803",
            ],
        );
    });
}

#[test]
fn labels_file_read_as_images_says_so() {
    let dir = TempDir::new("swapped");
    let (images, labels) = write_good_pair(&dir, false);
    let err = idx::load_pair(&labels, &images).unwrap_err();
    assert_message(
        &err,
        "t10k-labels-idx1-ubyte",
        &[
            "bad magic 0x00000801 (1-dim u8, a labels file)",
            "expected 0x00000803",
        ],
    );
}

#[test]
fn images_of_32x32_are_rejected_with_their_size() {
    let dir = TempDir::new("32x32");
    let bytes = idx_bytes(IMAGES_MAGIC, &[5, 32, 32], &pixels(5, 32, 32));
    let labels = dir.write("labels", &labels_file(&LABELS));
    for_plain_and_gzip(&dir, "images-32", &bytes, |path, name| {
        let err = idx::load_pair(path, &labels).unwrap_err();
        assert_message(
            &err,
            name,
            &["at byte 8", "images are 32x32, expected 28x28"],
        );
    });
}

#[test]
fn three_dim_labels_are_rejected() {
    let dir = TempDir::new("3-dim-labels");
    let images = dir.write("images", &images_file(5));
    let bytes = idx_bytes(IMAGES_MAGIC, &[5, 1, 1], &LABELS);
    let labels = dir.write("labels-3d", &bytes);
    let err = idx::load_pair(&images, &labels).unwrap_err();
    assert_message(
        &err,
        "labels-3d",
        &[
            "bad magic 0x00000803 (3-dim u8, an images file)",
            "expected 0x00000801",
        ],
    );
}

#[test]
fn zero_sized_images_are_rejected() {
    let dir = TempDir::new("zero-size");
    let path = dir.write("empty-images", &idx_bytes(IMAGES_MAGIC, &[5, 0, 28], &[]));
    let err = idx::read_images(&path).unwrap_err();
    assert_message(&err, "empty-images", &["image size 0x28 has no pixels"]);
}

#[test]
fn pair_without_images_is_rejected() {
    let dir = TempDir::new("no-images");
    let images = dir.write("none-images", &images_file(0));
    let labels = dir.write("none-labels", &labels_file(&[]));
    let err = idx::load_pair(&images, &labels).unwrap_err();
    assert_message(
        &err,
        "none-images",
        &["at byte 4", "header declares 0 images"],
    );
}

#[test]
fn count_mismatch_names_both_files_and_counts() {
    let dir = TempDir::new("count-mismatch");
    let images = dir.write("five-images", &images_file(5));
    let labels = dir.write("four-labels.gz", &gzip(&labels_file(&LABELS[..4])));
    let err = idx::load_pair(&images, &labels).unwrap_err();
    assert!(matches!(
        err,
        Error::CountMismatch {
            image_count: 5,
            label_count: 4,
            ..
        }
    ));
    assert_message(
        &err,
        "five-images",
        &["declares 5 images but", "four-labels.gz declares 4 labels"],
    );
}

#[test]
fn truncated_pixels_are_rejected() {
    let dir = TempDir::new("truncated-pixels");
    let mut bytes = images_file(5);
    bytes.truncate(16 + 4 * 784 + 100);
    for_plain_and_gzip(&dir, "short-images", &bytes, |path, name| {
        let err = idx::read_images(path).unwrap_err();
        assert_message(
            &err,
            name,
            &[
                "at byte 16",
                "file holds 3236 bytes of pixels",
                "header declares 5 images of 28x28 (3920 bytes)",
            ],
        );
    });
}

#[test]
fn truncated_labels_are_rejected() {
    let dir = TempDir::new("truncated-labels");
    let mut bytes = labels_file(&LABELS);
    bytes.pop();
    for_plain_and_gzip(&dir, "short-labels", &bytes, |path, name| {
        let err = idx::read_labels(path).unwrap_err();
        assert_message(
            &err,
            name,
            &["file holds 4 bytes of labels, header declares 5 labels"],
        );
    });
}

#[test]
fn truncated_header_is_rejected() {
    let dir = TempDir::new("truncated-header");
    let bytes = &images_file(5)[..10];
    for_plain_and_gzip(&dir, "short-header", bytes, |path, name| {
        let err = idx::read_images(path).unwrap_err();
        assert_message(
            &err,
            name,
            &[
                "at byte 10",
                "file ends after 10 bytes, inside the 16-byte header",
            ],
        );
    });
}

#[test]
fn empty_file_is_rejected() {
    let dir = TempDir::new("empty");
    let path = dir.write("empty-labels", &[]);
    let err = idx::read_labels(&path).unwrap_err();
    assert_message(
        &err,
        "empty-labels",
        &["file ends after 0 bytes, inside the 8-byte header"],
    );
}

#[test]
fn trailing_bytes_are_rejected() {
    let dir = TempDir::new("trailing");
    let mut bytes = images_file(5);
    bytes.extend([0; 7]);
    let err = idx::read_images(dir.write("long-images", &bytes)).unwrap_err();
    assert_message(
        &err,
        "long-images",
        &[
            "at byte 3936",
            "7 trailing bytes after the 3920 bytes of pixels",
        ],
    );
    let err = idx::read_images(dir.write("long-images.gz", &gzip(&bytes))).unwrap_err();
    assert_message(
        &err,
        "long-images.gz",
        &[
            "at byte 3936",
            "trailing bytes after the 3920 bytes of pixels",
        ],
    );
}

#[test]
fn garbage_after_the_gzip_stream_is_rejected() {
    let dir = TempDir::new("gzip-garbage");
    let mut gz = gzip(&labels_file(&LABELS));
    gz.extend(b"junk");
    let err = idx::read_labels(dir.write("labels.gz", &gz)).unwrap_err();
    assert_message(&err, "labels.gz", &["corrupt gzip stream"]);
}

#[test]
fn corrupt_gzip_stream_is_rejected() {
    let dir = TempDir::new("gzip-corrupt");
    let mut gz = gzip(&images_file(5));
    let crc = gz.len() - 8;
    gz[crc] ^= 0xff;
    let err = idx::read_images(dir.write("bad-crc.gz", &gz)).unwrap_err();
    assert_message(&err, "bad-crc.gz", &["corrupt gzip stream"]);
    let cut = &gz[..gz.len() / 2];
    let err = idx::read_images(dir.write("cut.gz", cut)).unwrap_err();
    assert_message(&err, "cut.gz", &["corrupt gzip stream"]);
}

#[test]
fn label_10_is_rejected_with_its_index() {
    let dir = TempDir::new("label-10");
    let images = dir.write("images", &images_file(5));
    let labels = dir.write("bad-labels", &labels_file(&[3, 0, 10, 11, 1]));
    let err = idx::load_pair(&images, &labels).unwrap_err();
    assert_message(
        &err,
        "bad-labels",
        &["at byte 10", "label 10 at index 2 is out of range 0..=9"],
    );
}

#[test]
fn header_claiming_4_billion_images_fails_fast_in_a_plain_file() {
    let dir = TempDir::new("huge-plain");
    let bytes = idx_bytes(IMAGES_MAGIC, &[4_000_000_000, 28, 28], &pixels(2, 28, 28));
    let path = dir.write("huge-images", &bytes);
    let err = idx::read_images(&path).unwrap_err();
    assert_message(
        &err,
        "huge-images",
        &[
            "file holds 1568 bytes of pixels",
            "header declares 4000000000 images of 28x28 (3136000000000 bytes)",
        ],
    );
    let labels = dir.write(
        "huge-labels",
        &idx_bytes(LABELS_MAGIC, &[u32::MAX], &[1, 2]),
    );
    let err = idx::read_labels(&labels).unwrap_err();
    assert_message(&err, "huge-labels", &["file holds 2 bytes of labels"]);
    assert_no_huge_allocation();
}

#[test]
fn header_claiming_4_billion_images_fails_fast_in_a_gzip_file() {
    let dir = TempDir::new("huge-gzip");
    let bytes = idx_bytes(IMAGES_MAGIC, &[4_000_000_000, 28, 28], &pixels(2, 28, 28));
    let path = dir.write("huge-images.gz", &gzip(&bytes));
    let err = idx::read_images(&path).unwrap_err();
    assert_message(
        &err,
        "huge-images.gz",
        &[
            "file holds 1568 bytes of pixels",
            "header declares 4000000000 images of 28x28",
        ],
    );
    // The same claim about 1x1 images: 4 GB would be small enough to allocate lazily.
    let bytes = idx_bytes(IMAGES_MAGIC, &[4_000_000_000, 1, 1], &[0; 1000]);
    let err = idx::read_images(dir.write("huge-1x1.gz", &gzip(&bytes))).unwrap_err();
    assert_message(&err, "huge-1x1.gz", &["file holds 1000 bytes of pixels"]);
    assert_no_huge_allocation();
}

#[test]
fn declared_size_that_overflows_is_an_error() {
    let dir = TempDir::new("overflow");
    let bytes = idx_bytes(IMAGES_MAGIC, &[u32::MAX, u32::MAX, u32::MAX], &[]);
    for_plain_and_gzip(&dir, "overflow-images", &bytes, |path, name| {
        let err = idx::read_images(path).unwrap_err();
        assert_message(
            &err,
            name,
            &["at byte 4", "more bytes than this machine can address"],
        );
    });
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let dir = TempDir::new("no-file");
    let err = idx::read_images(dir.0.join("absent-images")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert_message(&err, "absent-images", &[]);
}

#[test]
fn directory_with_only_the_t10k_pair_loads_with_no_train_set() {
    let dir = TempDir::new("only-t10k");
    write_good_pair(&dir, true);
    let data = idx::load_dir(&dir.0).unwrap();
    assert_eq!(data.train, None);
    assert_eq!(data.test.labels(), &LABELS);
    let err = idx::load_split(&dir.0, Split::Train).unwrap_err();
    assert!(matches!(
        err,
        Error::MissingFile {
            name: "train-images-idx3-ubyte",
            ..
        }
    ));
    assert_message(&err, "no train-images-idx3-ubyte[.gz] in", &["only-t10k"]);
}

#[test]
fn directory_with_both_pairs_loads_both() {
    let dir = TempDir::new("both-pairs");
    write_good_pair(&dir, false);
    dir.write("train-images-idx3-ubyte.gz", &gzip(&images_file(2)));
    dir.write("train-labels-idx1-ubyte", &labels_file(&[5, 6]));
    let data = idx::load_dir(&dir.0).unwrap();
    assert_eq!(data.train.unwrap().labels(), &[5, 6]);
    assert_eq!(data.test.len(), 5);
}

#[test]
fn directory_without_the_test_pair_says_which_file_is_missing() {
    let dir = TempDir::new("no-t10k");
    dir.write("train-images-idx3-ubyte", &images_file(2));
    dir.write("train-labels-idx1-ubyte", &labels_file(&[5, 6]));
    let err = idx::load_dir(&dir.0).unwrap_err();
    assert_message(&err, "no t10k-images-idx3-ubyte[.gz] in", &["no-t10k"]);
    assert_eq!(idx::find_split(&dir.0, Split::Test).unwrap(), None);
}

#[test]
fn directory_with_half_a_pair_names_the_missing_half() {
    let dir = TempDir::new("half-pair");
    dir.write("t10k-images-idx3-ubyte", &images_file(2));
    let err = idx::load_dir(&dir.0).unwrap_err();
    assert_message(&err, "no t10k-labels-idx1-ubyte[.gz] in", &["half-pair"]);
}

#[test]
fn dotted_names_are_found() {
    let dir = TempDir::new("dotted");
    dir.write("t10k-images.idx3-ubyte", &images_file(5));
    dir.write("t10k-labels.idx1-ubyte.gz", &gzip(&labels_file(&LABELS)));
    let (images, labels) = idx::find_split(&dir.0, Split::Test).unwrap().unwrap();
    assert!(images.ends_with("t10k-images.idx3-ubyte"));
    assert!(labels.ends_with("t10k-labels.idx1-ubyte.gz"));
    assert_eq!(idx::load_dir(&dir.0).unwrap().test.labels(), &LABELS);
}

#[test]
fn nonexistent_directory_is_an_io_error() {
    let dir = TempDir::new("gone");
    let gone = dir.0.join("not-here");
    let err = idx::load_dir(&gone).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert_message(&err, "not-here", &[]);
    let file = dir.write("a-file", b"");
    let err = idx::load_dir(&file).unwrap_err();
    assert_message(&err, "a-file", &["not a directory"]);
}

/// Parses `bytes` as images, labels and both as a pair; any result is fine but a panic, and
/// an image set that loads must be consistent.
fn parse_all(dir: &TempDir, bytes: &[u8]) {
    let path = dir.write("fuzz", bytes);
    if let Ok(images) = idx::read_images(&path) {
        assert_eq!(
            images.pixels.len(),
            images.count * images.rows * images.cols
        );
    }
    let _ = idx::read_labels(&path);
    let _ = idx::load_pair(&path, &path);
}

/// A 3-image, 28x28 images file and its labels file, plain.
fn valid_files() -> [Vec<u8>; 2] {
    [images_file(3), labels_file(&[1, 2, 3])]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let dir = TempDir::new("fuzz-random");
        parse_all(&dir, &bytes);
        // The same bytes behind a valid magic reach the dims and data checks.
        let mut with_magic = IMAGES_MAGIC.to_be_bytes().to_vec();
        with_magic.extend(&bytes);
        parse_all(&dir, &with_magic);
        parse_all(&dir, &gzip(&with_magic));
        assert_no_huge_allocation();
    }

    #[test]
    fn mutated_valid_files_never_panic(
        which in 0usize..2,
        gz in any::<bool>(),
        compress_after in any::<bool>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        header_word in proptest::option::of((0usize..4, any::<u32>())),
        cut in proptest::option::of(any::<prop::sample::Index>()),
        extra in proptest::collection::vec(any::<u8>(), 0..4),
    ) {
        let dir = TempDir::new("fuzz-mutate");
        let mut bytes = valid_files()[which].clone();
        if gz && compress_after {
            // Corrupt the compressed stream itself.
            bytes = gzip(&bytes);
        }
        if let Some((word, value)) = header_word {
            let at = 4 * word;
            if at + 4 <= bytes.len() {
                bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
            }
        }
        for (at, value) in edits {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        bytes.extend(extra);
        if gz && !compress_after {
            bytes = gzip(&bytes);
        }
        parse_all(&dir, &bytes);
        assert_no_huge_allocation();
    }
}
