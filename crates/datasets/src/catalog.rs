//! The data sets known by name, their files, the checksums their publishers give, and where
//! they are served.

/// One of the four files of an MNIST-format data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remote {
    /// The file name on the mirrors and in the cache (`train-images-idx3-ubyte.gz`).
    pub file: &'static str,
    /// MD5 of the `.gz` file as published.
    pub md5_gz: &'static str,
    /// MD5 of the file's decompressed content: a file whose `.gz` bytes differ (compressed
    /// again, as Debian's package is) passes when its content has this MD5.
    pub md5_raw: &'static str,
}

/// A data set known by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Named {
    /// Its name on the command line (`mnist`, `fashion-mnist`).
    pub name: &'static str,
    /// The four IDX files: training images and labels, test images and labels.
    pub files: [Remote; 4],
    /// Base URLs, tried in order; a file is fetched as `<mirror><file>`.
    pub mirrors: &'static [&'static str],
    /// Directories a system package installs the files into, used without a download when
    /// every file there passes its checksum (unless mirrors are named explicitly).
    pub system_dirs: &'static [&'static str],
    /// Where the files and their checksums are published.
    pub source: &'static str,
}

/// MNIST (LeCun, Cortes and Burges). Checksums: the MD5s of the `.gz` files that torchvision
/// (`torchvision/datasets/mnist.py`, `MNIST.resources`) and TensorFlow Datasets check; the
/// MD5s of the decompressed files as listed by projects that verify the raw IDX files.
/// Mirrors: torchvision's (the original host, yann.lecun.com, often answers 403 and is last).
pub const MNIST: Named = Named {
    name: "mnist",
    files: [
        Remote {
            file: "train-images-idx3-ubyte.gz",
            md5_gz: "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            md5_raw: "6bbc9ace898e44ae57da46a324031adb",
        },
        Remote {
            file: "train-labels-idx1-ubyte.gz",
            md5_gz: "d53e105ee54ea40749a09fcbcd1e9432",
            md5_raw: "a25bea736e30d166cdddb491f175f624",
        },
        Remote {
            file: "t10k-images-idx3-ubyte.gz",
            md5_gz: "9fb629c4189551a2d022fa330f9573f3",
            md5_raw: "2646ac647ad5339dbf082846283269ea",
        },
        Remote {
            file: "t10k-labels-idx1-ubyte.gz",
            md5_gz: "ec29112dd5afa0611ce80d1b7f02629c",
            md5_raw: "27ae3e4e09519cfbb04c329615203637",
        },
    ],
    mirrors: &[
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    system_dirs: &[],
    source: "http://yann.lecun.com/exdb/mnist/",
};

/// Fashion-MNIST (Zalando Research). Checksums: the MD5s of the `.gz` files published in the
/// project's README (github.com/zalandoresearch/fashion-mnist, "Get the Data"), which
/// torchvision's `FashionMNIST.resources` repeat; the MD5s of the decompressed files as
/// torchvision-style loaders list them (`raw_data`). Debian's `dataset-fashion-mnist`
/// package compresses the files again (other `.gz` bytes, the same content), so it is
/// checked on the decompressed content.
pub const FASHION_MNIST: Named = Named {
    name: "fashion-mnist",
    files: [
        Remote {
            file: "train-images-idx3-ubyte.gz",
            md5_gz: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            md5_raw: "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        },
        Remote {
            file: "train-labels-idx1-ubyte.gz",
            md5_gz: "25c81989df183df01b3e8a0aad5dffbe",
            md5_raw: "9018921c3c673c538a1fc5bad174d6f9",
        },
        Remote {
            file: "t10k-images-idx3-ubyte.gz",
            md5_gz: "bef4ecab320f06d8554ea6380940ec79",
            md5_raw: "8181f5470baa50b63fa0f6fddb340f0a",
        },
        Remote {
            file: "t10k-labels-idx1-ubyte.gz",
            md5_gz: "bb300cfdad3c16e7a12a480ee83cd310",
            md5_raw: "15d484375f8d13e6eb1aabb0c3f46965",
        },
    ],
    mirrors: &[
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ],
    system_dirs: &["/usr/share/datasets/fashion-mnist"],
    source: "https://github.com/zalandoresearch/fashion-mnist",
};

/// Every data set known by name.
pub const ALL: [Named; 2] = [MNIST, FASHION_MNIST];

/// The data set called `name` (`mnist`, `fashion-mnist`; `fashion_mnist` and `fashion` too).
pub fn by_name(name: &str) -> Option<Named> {
    match name.to_ascii_lowercase().as_str() {
        "mnist" => Some(MNIST),
        "fashion-mnist" | "fashion_mnist" | "fashionmnist" => Some(FASHION_MNIST),
        _ => None,
    }
}
