//! Reading the MNIST file format (IDX), plain or gzip-compressed.
//!
//! MNIST, Fashion-MNIST, EMNIST and KMNIST ship as four IDX files: `train-images-idx3-ubyte`,
//! `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each
//! plain or compressed as `.gz` (some copies write `train-images.idx3-ubyte`, with a dot). An
//! IDX file is a header and then the data:
//!
//! | offset | bytes | content |
//! |---|---|---|
//! | 0 | 4 | magic, a big-endian u32: two zero bytes, the element type (`0x08` is u8), the number of dimensions |
//! | 4 | 4 per dimension | the dimensions, big-endian u32: the count, then rows and cols for images |
//! | after the header | product of the dimensions | the elements, one u8 each, row-major |
//!
//! So an images file starts with magic `0x00000803` and a 16-byte header (count, rows, cols), a
//! labels file with `0x00000801` and an 8-byte header (count). Pixels are 0..=255 (0 is the
//! background) and stay bytes in the [`Dataset`].
//!
//! Every reader checks the magic, that the header is complete, and that the data is exactly as
//! long as the header declares: not truncated and with no trailing bytes. The declared size is
//! computed with checked arithmetic and is never trusted for an allocation: a plain file is
//! checked against its length on disk before anything is reserved, and a gzip stream (whose
//! length is unknown until it is decompressed) is read into a buffer that grows only with the
//! bytes that actually arrive, at most one past the declared size. A header that claims four
//! billion images fails with an error, not with a 3 GB allocation. Whether a file is gzip is
//! decided by its first two bytes (`1f 8b`), not by its name. Byte offsets in errors count
//! from the start of the (decompressed) IDX data.
//!
//! # Example
//! ```no_run
//! use datagen::idx;
//!
//! // A directory with the t10k pair and, optionally, the train pair.
//! let data = idx::load_dir("/usr/share/datasets/fashion-mnist")?;
//! println!("{} test images of {}x{}", data.test.len(), data.test.rows(), data.test.cols());
//! if let Some(train) = &data.train {
//!     println!("{} training images", train.len());
//! }
//! # Ok::<(), datagen::Error>(())
//! ```

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

use crate::dataset::Dataset;
use crate::error::{Error, Result};

/// Number of classes [`load_pair`] accepts: every label must be below it (digits 0..=9).
pub const CLASSES: usize = 10;

/// Image side [`load_pair`] requires: the network takes 28x28 inputs.
const SIDE: usize = 28;

/// First two bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The images of one IDX images file, as [`read_images`] returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// `count * rows * cols` pixels, image after image, each row-major.
    pub pixels: Vec<u8>,
    /// Number of images.
    pub count: usize,
    /// Image height in pixels (never 0).
    pub rows: usize,
    /// Image width in pixels (never 0).
    pub cols: usize,
}

/// The data sets of a directory of IDX files, as [`load_dir`] returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxDir {
    /// The `train` pair, when the directory holds one.
    pub train: Option<Dataset>,
    /// The `t10k` pair, which every IDX directory must hold.
    pub test: Dataset,
}

/// Which pair of files of an IDX directory to look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// `train-images-idx3-ubyte` and `train-labels-idx1-ubyte`.
    Train,
    /// `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`.
    Test,
}

impl Split {
    /// The file name prefix: `"train"` or `"t10k"`.
    pub fn prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }

    /// The canonical name of the images file, without `.gz`.
    pub fn images_name(self) -> &'static str {
        match self {
            Split::Train => "train-images-idx3-ubyte",
            Split::Test => "t10k-images-idx3-ubyte",
        }
    }

    /// The canonical name of the labels file, without `.gz`.
    pub fn labels_name(self) -> &'static str {
        match self {
            Split::Train => "train-labels-idx1-ubyte",
            Split::Test => "t10k-labels-idx1-ubyte",
        }
    }
}

/// Reads an IDX images file (magic `0x00000803`), plain or gzip, of any non-zero image size.
///
/// # Errors
/// [`Error::Io`] when the file cannot be opened or read; [`Error::Idx`] when it is not an IDX
/// images file, its header is incomplete, an image side is 0, or its data is shorter or longer
/// than the header declares.
pub fn read_images(path: impl AsRef<Path>) -> Result<IdxImages> {
    let file = IdxFile::open(path.as_ref(), Kind::Images)?;
    let header = file.header;
    let pixels = file.read_data()?;
    Ok(IdxImages {
        pixels,
        count: header.count,
        rows: header.rows,
        cols: header.cols,
    })
}

/// Reads an IDX labels file (magic `0x00000801`), plain or gzip. The values are not checked
/// here; [`load_pair`] checks them against [`CLASSES`].
///
/// # Errors
/// [`Error::Io`] when the file cannot be opened or read; [`Error::Idx`] when it is not an IDX
/// labels file, its header is incomplete, or its data is shorter or longer than declared.
pub fn read_labels(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    IdxFile::open(path.as_ref(), Kind::Labels)?.read_data()
}

/// Loads an images file and its labels file into a [`Dataset`] of 28x28 digits.
///
/// Both headers are checked before any data is read: the images must be 28x28 and at least
/// one, and both files must declare the same count. Every label must be below [`CLASSES`].
///
/// # Errors
/// Those of [`read_images`] and [`read_labels`]; [`Error::Idx`] when the images are not 28x28
/// ("images are 32x32, expected 28x28"), the files hold no image, or a label is 10 or more
/// (naming the index of the first one); [`Error::CountMismatch`] when the counts differ.
pub fn load_pair(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Dataset> {
    load_pair_classes(images.as_ref(), labels.as_ref(), CLASSES)
}

/// [`load_pair`] with the number of classes as a parameter: labels must be below `classes`.
///
/// Digits have [`CLASSES`] (10); EMNIST letters have 26 (labelled 1..=26, so 27 here) and
/// would need this. It stays private until a caller trains on something other than digits.
fn load_pair_classes(images_path: &Path, labels_path: &Path, classes: usize) -> Result<Dataset> {
    let images = IdxFile::open(images_path, Kind::Images)?;
    let h = images.header;
    if (h.rows, h.cols) != (SIDE, SIDE) {
        return Err(images.error(
            8,
            format!("images are {}x{}, expected {SIDE}x{SIDE}", h.rows, h.cols),
        ));
    }
    if h.count == 0 {
        return Err(images.error(4, "header declares 0 images".to_string()));
    }
    let labels = IdxFile::open(labels_path, Kind::Labels)?;
    if labels.header.count != h.count {
        return Err(Error::CountMismatch {
            images: images_path.to_path_buf(),
            image_count: h.count,
            labels: labels_path.to_path_buf(),
            label_count: labels.header.count,
        });
    }
    let label_offset = Kind::Labels.header_len();
    let pixels = images.read_data()?;
    let labels = labels.read_data()?;
    if let Some((i, &label)) = labels
        .iter()
        .enumerate()
        .find(|&(_, &l)| usize::from(l) >= classes)
    {
        return Err(Error::Idx {
            path: labels_path.to_path_buf(),
            offset: label_offset + i as u64,
            reason: format!(
                "label {label} at index {i} is out of range 0..={}",
                classes - 1
            ),
        });
    }
    Dataset::new(pixels, labels, SIDE, SIDE)
}

/// Finds the images and labels files of `split` in `dir`.
///
/// Each file may be named the canonical way (`t10k-images-idx3-ubyte`) or with a dot
/// (`t10k-images.idx3-ubyte`), with or without `.gz`; when several exist, the first of that
/// order (canonical, canonical `.gz`, dotted, dotted `.gz`) wins. Whether a file really is gzip
/// is decided later, by its content.
///
/// Returns `Ok(None)` when neither file of the pair is there.
///
/// # Errors
/// [`Error::Io`] when `dir` does not exist or is not a directory; [`Error::MissingFile`] when
/// only one file of the pair is there (naming the missing one).
pub fn find_split(dir: impl AsRef<Path>, split: Split) -> Result<Option<(PathBuf, PathBuf)>> {
    let dir = dir.as_ref();
    let meta = fs::metadata(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(Error::Io {
            path: dir.to_path_buf(),
            source: io::ErrorKind::NotADirectory.into(),
        });
    }
    let images = find_file(dir, split.images_name());
    let labels = find_file(dir, split.labels_name());
    match (images, labels) {
        (Some(images), Some(labels)) => Ok(Some((images, labels))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(missing(dir, split.labels_name())),
        (None, Some(_)) => Err(missing(dir, split.images_name())),
    }
}

/// Loads the `split` pair of `dir` (see [`find_split`] for the accepted names).
///
/// `eval` needs only `load_split(dir, Split::Test)`; `train` needs [`Split::Train`] and this
/// says so when it is missing.
///
/// # Errors
/// [`Error::MissingFile`] when the pair is not there, and those of [`find_split`] and
/// [`load_pair`].
pub fn load_split(dir: impl AsRef<Path>, split: Split) -> Result<Dataset> {
    let dir = dir.as_ref();
    match find_split(dir, split)? {
        Some((images, labels)) => load_pair(images, labels),
        None => Err(missing(dir, split.images_name())),
    }
}

/// Loads a directory of IDX files: the `t10k` pair, which is required, and the `train` pair
/// when it is there.
///
/// # Errors
/// [`Error::MissingFile`] when the `t10k` pair (or one file of the `train` pair) is missing,
/// and those of [`load_pair`].
pub fn load_dir(dir: impl AsRef<Path>) -> Result<IdxDir> {
    let dir = dir.as_ref();
    let test = load_split(dir, Split::Test)?;
    let train = find_split(dir, Split::Train)?
        .map(|(images, labels)| load_pair(images, labels))
        .transpose()?;
    Ok(IdxDir { train, test })
}

fn missing(dir: &Path, name: &'static str) -> Error {
    Error::MissingFile {
        dir: dir.to_path_buf(),
        name,
    }
}

/// The first existing file of `name`, `name.gz`, and the same with the dot before `idx`.
fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    let dotted = name.replacen("-idx", ".idx", 1);
    [
        name.to_string(),
        format!("{name}.gz"),
        dotted.clone(),
        format!("{dotted}.gz"),
    ]
    .into_iter()
    .map(|candidate| dir.join(candidate))
    .find(|path| path.is_file())
}

/// The two kinds of IDX file the loader reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Images,
    Labels,
}

impl Kind {
    fn magic(self) -> u32 {
        match self {
            Kind::Images => 0x0000_0803,
            Kind::Labels => 0x0000_0801,
        }
    }

    /// Number of dimensions: the low byte of the magic.
    fn dims(self) -> usize {
        usize::from(self.magic().to_be_bytes()[3])
    }

    /// Magic plus one u32 per dimension.
    fn header_len(self) -> u64 {
        4 + 4 * self.dims() as u64
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Images => "images",
            Kind::Labels => "labels",
        }
    }
}

/// A parsed header. Labels have `rows = cols = 1`.
#[derive(Debug, Clone, Copy)]
struct Header {
    kind: Kind,
    count: usize,
    rows: usize,
    cols: usize,
    /// `count * rows * cols`: the data length the header declares, known to fit a `usize`.
    data_len: u64,
}

impl Header {
    /// What the header declares, in words, for error messages.
    fn describe(&self) -> String {
        match self.kind {
            Kind::Images => format!(
                "{} images of {}x{} ({} bytes)",
                self.count, self.rows, self.cols, self.data_len
            ),
            Kind::Labels => format!("{} labels ({} bytes)", self.count, self.data_len),
        }
    }

    fn data_name(&self) -> &'static str {
        match self.kind {
            Kind::Images => "pixels",
            Kind::Labels => "labels",
        }
    }
}

/// The decompressed bytes of a file.
enum Stream {
    Plain(BufReader<File>),
    Gzip(MultiGzDecoder<BufReader<File>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(r) => r.read(buf),
            Stream::Gzip(r) => r.read(buf),
        }
    }
}

/// An open IDX file whose header has been read and checked.
struct IdxFile {
    path: PathBuf,
    stream: Stream,
    /// Length on disk of a plain regular file; `None` for gzip, pipes and other streams.
    len: Option<u64>,
    header: Header,
}

impl IdxFile {
    /// Opens `path`, detects gzip by its magic, and reads and checks the header.
    fn open(path: &Path, kind: Kind) -> Result<Self> {
        let io_error = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io_error)?;
        let meta = file.metadata().map_err(io_error)?;
        let mut reader = BufReader::new(file);
        // On a file, `fill_buf` returns fewer than two bytes only at the end of the file.
        let gzip = reader
            .fill_buf()
            .map_err(io_error)?
            .starts_with(&GZIP_MAGIC);
        let (stream, len) = if gzip {
            // `MultiGzDecoder`: concatenated gzip members are one valid stream (as for
            // `gunzip`), and bytes after the last member that are not gzip are an error
            // instead of being ignored.
            (Stream::Gzip(MultiGzDecoder::new(reader)), None)
        } else {
            (Stream::Plain(reader), meta.is_file().then_some(meta.len()))
        };
        let mut file = IdxFile {
            path: path.to_path_buf(),
            stream,
            len,
            header: Header {
                kind,
                count: 0,
                rows: 1,
                cols: 1,
                data_len: 0,
            },
        };
        file.header = file.read_header(kind)?;
        Ok(file)
    }

    fn read_header(&mut self, kind: Kind) -> Result<Header> {
        let header_len = kind.header_len();
        let mut buf = [0u8; 16];
        let buf = &mut buf[..header_len as usize];
        let got = read_full(&mut self.stream, buf).map_err(|(n, e)| self.read_error(n, e))?;
        if got >= 4 {
            let magic = be_u32(&buf[0..4]);
            if magic != kind.magic() {
                return Err(self.error(
                    0,
                    format!(
                        "bad magic {}, expected {:#010x} ({}-dim u8 {})",
                        describe_magic(magic),
                        kind.magic(),
                        kind.dims(),
                        kind.name()
                    ),
                ));
            }
        }
        if got < buf.len() {
            return Err(self.error(
                got as u64,
                format!(
                    "file ends after {got} bytes, inside the {header_len}-byte header of an \
                     IDX {} file",
                    kind.name()
                ),
            ));
        }
        let dims: Vec<u32> = buf[4..].chunks_exact(4).map(be_u32).collect();
        let (count, rows, cols) = match kind {
            Kind::Images => (dims[0], dims[1], dims[2]),
            Kind::Labels => (dims[0], 1, 1),
        };
        if rows == 0 || cols == 0 {
            return Err(self.error(8, format!("image size {rows}x{cols} has no pixels")));
        }
        let data_len = u64::from(count)
            .checked_mul(u64::from(rows))
            .and_then(|n| n.checked_mul(u64::from(cols)))
            .filter(|&n| usize::try_from(n).is_ok());
        let Some(data_len) = data_len else {
            return Err(self.error(
                4,
                format!(
                    "header declares {count} images of {rows}x{cols}, more bytes than this \
                     machine can address"
                ),
            ));
        };
        // u32 -> usize cannot fail where `data_len` fits a usize.
        let to_usize = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        Ok(Header {
            kind,
            count: to_usize(count),
            rows: to_usize(rows),
            cols: to_usize(cols),
            data_len,
        })
    }

    /// Reads the data after the header, which must be exactly as long as the header declares.
    fn read_data(mut self) -> Result<Vec<u8>> {
        let h = self.header;
        let start = h.kind.header_len();
        if let Some(len) = self.len {
            // Fail before reading or reserving anything when the length on disk disagrees.
            let have = len.saturating_sub(start);
            if have != h.data_len {
                return Err(self.length_error(have, Some(have.saturating_sub(h.data_len))));
            }
        }
        // A plain file was just checked against its length, so reserving all of it is safe. A
        // gzip stream's length is unknown: `read_to_end` on a `Take` grows the vector
        // geometrically from the bytes that actually arrive, never from the declared size, and
        // reading one byte past it is how trailing bytes show.
        let reserve = match self.len {
            Some(_) => usize::try_from(h.data_len).unwrap_or(0),
            None => 0,
        };
        let mut data = Vec::with_capacity(reserve);
        let read = (&mut self.stream)
            .take(h.data_len.saturating_add(1))
            .read_to_end(&mut data);
        if let Err(e) = read {
            return Err(self.read_error(start + data.len() as u64, e));
        }
        let have = data.len() as u64;
        if have != h.data_len {
            // Past the declared length only one extra byte was read, so the number of trailing
            // bytes is unknown here.
            return Err(self.length_error(have, None));
        }
        Ok(data)
    }

    /// The error for data of `have` bytes when the header declares another length.
    fn length_error(&self, have: u64, extra: Option<u64>) -> Error {
        let h = &self.header;
        let start = h.kind.header_len();
        if have < h.data_len {
            self.error(
                start,
                format!(
                    "file holds {have} bytes of {}, header declares {}",
                    h.data_name(),
                    h.describe()
                ),
            )
        } else {
            let bytes = match extra {
                Some(n) => format!("{n} trailing bytes"),
                None => "trailing bytes".to_string(),
            };
            self.error(
                start + h.data_len,
                format!(
                    "{bytes} after the {} bytes of {} the header declares ({})",
                    h.data_len,
                    h.data_name(),
                    h.describe()
                ),
            )
        }
    }

    fn error(&self, offset: u64, reason: String) -> Error {
        Error::Idx {
            path: self.path.clone(),
            offset,
            reason,
        }
    }

    /// A failed read at `offset`: corrupt gzip data is an [`Error::Idx`], anything else (a
    /// disk error) an [`Error::Io`].
    fn read_error(&self, offset: u64, e: io::Error) -> Error {
        let corrupt = matches!(
            e.kind(),
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
        );
        if corrupt && matches!(self.stream, Stream::Gzip(_)) {
            self.error(offset, format!("corrupt gzip stream: {e}"))
        } else {
            Error::Io {
                path: self.path.clone(),
                source: e,
            }
        }
    }
}

/// Fills `buf` unless the stream ends first; returns how many bytes were read, or the error
/// with how many bytes were read before it.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::result::Result<usize, (u64, io::Error)> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err((filled as u64, e)),
        }
    }
    Ok(filled)
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// A magic number and what it means, e.g. `0x00000801 (1-dim u8, a labels file)`.
fn describe_magic(magic: u32) -> String {
    let [zero0, zero1, ty, dims] = magic.to_be_bytes();
    let ty = match ty {
        0x08 => "u8",
        0x09 => "i8",
        0x0b => "i16",
        0x0c => "i32",
        0x0d => "f32",
        0x0e => "f64",
        _ => "",
    };
    let what = if magic == Kind::Labels.magic() {
        "1-dim u8, a labels file".to_string()
    } else if magic == Kind::Images.magic() {
        "3-dim u8, an images file".to_string()
    } else if (zero0, zero1) == (0, 0) && !ty.is_empty() {
        format!("{dims}-dim {ty}")
    } else if magic.to_be_bytes()[..2] == GZIP_MAGIC {
        "gzip inside gzip: compressed twice?".to_string()
    } else {
        "not an IDX file".to_string()
    };
    format!("{magic:#010x} ({what})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_descriptions_name_the_kind() {
        assert_eq!(
            describe_magic(0x801),
            "0x00000801 (1-dim u8, a labels file)"
        );
        assert_eq!(
            describe_magic(0x803),
            "0x00000803 (3-dim u8, an images file)"
        );
        assert_eq!(describe_magic(0x0d02), "0x00000d02 (2-dim f32)");
        assert_eq!(
            describe_magic(0x1f8b_0800),
            "0x1f8b0800 (gzip inside gzip: compressed twice?)"
        );
        assert_eq!(describe_magic(0x4d5a_0000), "0x4d5a0000 (not an IDX file)");
    }

    #[test]
    fn dotted_name_moves_the_dash_before_idx() {
        assert_eq!(
            "t10k-images-idx3-ubyte".replacen("-idx", ".idx", 1),
            "t10k-images.idx3-ubyte"
        );
    }

    #[test]
    fn load_pair_classes_accepts_labels_below_a_larger_class_count() {
        let dir = std::env::temp_dir().join(format!("datagen-idx-unit-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let images = dir.join("images");
        let labels = dir.join("labels");
        let mut img = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28];
        img.extend(std::iter::repeat_n(7u8, 2 * 28 * 28));
        fs::write(&images, img).unwrap();
        fs::write(&labels, [0, 0, 8, 1, 0, 0, 0, 2, 26, 3]).unwrap();
        let digits = load_pair(&images, &labels).unwrap_err().to_string();
        let letters = load_pair_classes(&images, &labels, 27).map(|d| d.labels().to_vec());
        fs::remove_dir_all(&dir).unwrap();
        assert!(
            digits.contains("label 26 at index 0 is out of range 0..=9"),
            "{digits}"
        );
        assert_eq!(letters.unwrap(), vec![26, 3]);
    }
}
