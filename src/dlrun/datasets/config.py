"""The `dataset` config group: one schema per data set (`conf/dataset/NAME.yaml` is written from it).

Every data set has a `split`; tables add `standardize`, images their normalization, augmentation and
loader. Those keys are the engine's (`build_data` reads them); the others go to the data set's factory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from dlrun.registry import Registry
from dlrun.schema import option

ENGINE_KEYS = ("split", "standardize", "normalize", "augment", "loader", "num_workers", "memory_limit_mb")
DATASETS = Registry("dataset", group="dataset", engine_keys=ENGINE_KEYS)

Encoding = Literal["sequence", "multi_hot"]
TOKEN_PATTERN = r"(?u)\b\w+\b"
DATA_ROOT = "${oc.env:DLRUN_DATA,data}"


@dataclass
class Split:
    """How rows are divided into training, validation and test rows."""

    val: float = option(0.1, "fraction of the non-test rows held out for validation", ge=0, lt=1)
    test: float = option(
        0.2,
        "fraction of all rows held out for the final test (ignored when the data set has an official test set)",
        ge=0,
        lt=1,
    )
    seed: int = option("${seed}", "seed of the random split")
    stratify: bool = option(True, "keep class proportions in every split (classification only)")
    shuffle: bool = option(
        True, "false takes test and validation rows from the end, unshuffled (Keras' validation_split)"
    )
    val_first_n: int | None = option(
        None, "use the first N training rows as validation instead of `val` (the books' MNIST/IMDB)", ge=1
    )


@dataclass
class Dataset:
    split: Split = option(Split(), "how rows are divided")


@dataclass
class Table(Dataset):
    standardize: bool = option(True, "z-score features with training-split statistics only")


@dataclass
class Augment:
    """Random augmentation of training batches only."""

    crop_padding: int = option(0, "random crop of the original size after zero-padding by this many pixels", ge=0)
    hflip: bool = option(False, "random horizontal flip")


@dataclass
class Images(Dataset):
    normalize: Literal["standard", "unit", "symmetric"] = option(
        "standard", "standard = training mean/std per channel | unit = x/255 in [0,1] | symmetric = [-1,1]"
    )
    augment: Augment = option(Augment(), "random augmentation of training batches only")
    loader: Literal["auto", "memory", "dataloader"] = option(
        "auto",
        "memory (uint8 tensor on the device, batches by indexing) | dataloader (workers) | auto (memory when "
        "it fits memory_limit_mb)",
    )
    num_workers: int = option(0, "DataLoader worker processes (dataloader loader only)", ge=0)
    memory_limit_mb: int = option(1024, "auto keeps file-based images in memory when they fit in this many MB", ge=0)


@dataclass
class Downloadable(Images):
    root: str = option(DATA_ROOT, "data folder ($DLRUN_DATA, default ./data)")
    download: bool = option(True, "try a download when the files are missing (gives up at once when offline)")


# ---------------------------------------------------------------- scikit-learn's embedded tables


@DATASETS.declare("digits", factory="dlrun.datasets.sklearn_sets:digits")
@dataclass
class Digits(Table):
    """scikit-learn's embedded 8x8 handwritten digits: 1,797 images, 10 classes, 64 pixel features."""


@DATASETS.declare("iris", factory="dlrun.datasets.sklearn_sets:iris")
@dataclass
class Iris(Table):
    """scikit-learn's embedded iris flowers: 150 rows, 4 features, 3 classes."""


@DATASETS.declare("wine", factory="dlrun.datasets.sklearn_sets:wine")
@dataclass
class Wine(Table):
    """scikit-learn's embedded wine recognition data: 178 rows, 13 features, 3 classes."""


@DATASETS.declare("breast_cancer", factory="dlrun.datasets.sklearn_sets:breast_cancer")
@dataclass
class BreastCancer(Table):
    """scikit-learn's embedded Wisconsin breast cancer data: 569 rows, 30 features, binary label."""


@DATASETS.declare("diabetes", factory="dlrun.datasets.sklearn_sets:diabetes")
@dataclass
class Diabetes(Table):
    """scikit-learn's embedded diabetes progression data: 442 rows, 10 features, regression target."""


@DATASETS.declare("moons", factory="dlrun.datasets.sklearn_sets:moons")
@dataclass
class Moons(Table):
    """scikit-learn's two interleaving half circles (make_moons), binary classification."""

    n_samples: int = option(1000, "number of points generated", ge=2)
    noise: float = option(0.2, "standard deviation of Gaussian noise added to the points", ge=0)
    seed: int = option("${seed}", "seed of the generator")


@DATASETS.declare("classification", factory="dlrun.datasets.sklearn_sets:classification")
@dataclass
class Classification(Table):
    """scikit-learn's random n-class problem (make_classification)."""

    n_samples: int = option(1000, "number of rows generated", ge=2)
    n_features: int = option(20, "total number of features", ge=1)
    n_informative: int = option(5, "features that carry signal", ge=1)
    n_classes: int = option(2, "number of classes", ge=2)
    flip_y: float = option(0.01, "fraction of labels assigned at random (label noise)", ge=0, le=1)
    class_sep: float = option(1.0, "how far apart the classes are", gt=0)
    seed: int = option("${seed}", "seed of the generator")


@DATASETS.declare("xor", factory="dlrun.datasets.synthetic:xor")
@dataclass
class Xor(Table):
    """The books' XOR points: uniform in [-1,1]^2, label 1 where x0*x1 >= 0; first 100 train, last 100 validation."""

    standardize: bool = option(False, "z-score features with training-split statistics only")
    split: Split = option(
        Split(val=0.5, test=0.0, shuffle=False),
        "the last half of the points is the validation set; no test split (the books report validation)",
    )
    n_samples: int = option(200, "number of points drawn", ge=2)
    seed: int = option(1, "seed of the point generator (the split is fixed, not random)")


@DATASETS.declare("california_housing", factory="dlrun.datasets.housing:california_housing")
@dataclass
class CaliforniaHousing(Table):
    """California housing (scikit-learn's copy): 20,640 districts, 8 features, median value in $100,000s."""

    n_rows: int | None = option(
        None, "keep only the first N districts (600 = the books' 'small' version); null = all", ge=1
    )
    features: Literal["derived", "raw"] = option(
        "derived", "derived (scikit-learn's per-household averages) | raw (Keras' census totals, as the books use)"
    )
    data_home: str | None = option(None, "scikit-learn's data folder; null = ~/scikit_learn_data")
    download: bool = option(False, "download the data (once) when it is not in data_home; needs the internet")


@DATASETS.declare("boston_housing", factory="dlrun.datasets.housing:boston_housing")
@dataclass
class BostonHousing(Table):
    """Boston housing: 506 rows, 13 features, target medv (median value, $1000s), read from a CSV file."""

    path: str = option(
        "${dlrun.data:boston_housing}",
        "the file; ${dlrun.data:...} is the copy shipped in dlrun "
        "(datasets/packaged/); set dataset.path=FILE for your own copy",
    )
    target: str = option("medv", "the target column")


# ---------------------------------------------------------------- the user's own tables


@DATASETS.declare("csv", factory="dlrun.datasets.csv_table:csv", check_files="dlrun.datasets.csv_table:check_csv")
@dataclass
class Csv(Table):
    """Your own table: a CSV, TSV or whitespace-separated file, one row per example, one column the target.

    dlrun train dataset=csv dataset.path=my.csv dataset.target=price
    """

    path: str | None = option(None, "the file (required); a relative path starts from the directory you run dlrun in")
    target: str | None = option(None, "the column to predict (required)")
    kind: Literal["auto", "classification", "regression"] = option(
        "auto", "auto = classification for text, or <= 10 values written as integers"
    )
    sep: str = option(",", "one character (',' ';' '\\t'), or comma | tab | semicolon | whitespace (runs of spaces)")
    header: bool = option(True, "the first row holds the column names; false needs `names`")
    names: list[str] | None = option(None, "column names in file order (with header: true they replace the header row)")
    na_values: list[str] = option(
        [], "more strings that mean 'missing' (empty fields, NA, NaN, null, n/a... always do)"
    )
    comment: str | None = option(None, "one character; the rest of a line after it is ignored (Auto MPG: a tab)")
    drop: list[str] = option([], "columns to ignore")
    dropna: bool = option(
        False, "drop rows with any missing value; false: missing numbers -> training median, categories -> own level"
    )
    features: dict[str, Any] = option(
        {},
        "column -> numeric | categorical | passthrough | date | datetime | {kind: bucketized, "
        "boundaries: [..], right: false}; categorical options: encoding "
        "auto|onehot|embedding, embedding_dim; bucketized: encoding index|onehot; date/datetime: format (strftime)",
    )
    infer: bool = option(
        True,
        "columns not named in `features`: numeric when all values are numbers, date/datetime when they parse as "
        "dates, else categorical; ID-like columns are left out; false ignores them",
    )
    onehot_max_levels: int = option(
        10, "a categorical column with more levels (training rows) is embedded instead of one-hot", ge=0
    )
    target_scale: Literal["none", "standard"] | float = option(
        "none",
        "regression targets: none | standard (training mean/std) | a divisor (100000); metrics stay in original units",
        gt=0,
    )
    encoding: str = option(
        "utf-8", "the file's text encoding (utf-8 also reads a byte-order mark; spreadsheet exports: cp1252, latin-1)"
    )


@dataclass
class Vocabulary:
    encoding: Encoding = option(
        "sequence", "sequence (word ids padded to max_len, for lstm/gru) | multi_hot (one 0/1 column per word, for mlp)"
    )
    num_words: int = option(
        10000, "vocabulary size: the most frequent words of the training texts; others are out-of-vocabulary", ge=1
    )
    max_len: int = option(
        200, "sequence encoding: ids per text; longer texts are cut, shorter ones padded with 0", ge=1
    )
    keep: Literal["first", "last"] = option("first", "which max_len words of a longer text are kept")
    token_pattern: str = option(TOKEN_PATTERN, "regular expression of a word (matched after lowercasing)")


@DATASETS.declare("text_csv", factory="dlrun.datasets.text:text_csv", check_files="dlrun.datasets.text:check_text_csv")
@dataclass
class TextCsv(Dataset, Vocabulary):
    """Labelled texts in a delimited file, one row per text; the defaults read the SMS spam layout.

    label<TAB>text, no header. Words -> a vocabulary of the top num_words training words.
    """

    path: str | None = option(None, "the file (required); a relative path starts from the directory you run dlrun in")
    text: str = option("text", "the column holding the texts")
    label: str = option(
        "label", "the column holding the class labels (sorted: the second of two is the positive class)"
    )
    sep: str = option("\t", "one character (',' ';' '\\t'), or comma | tab | semicolon | whitespace")
    header: bool = option(False, "the first row holds the column names; false needs `names`")
    names: list[str] | None = option(
        ["label", "text"], "column names in file order when header is false (ignored with header: true)"
    )
    quotes: bool = option(False, 'fields may be wrapped in double quotes (CSV); false reads " as an ordinary character')


@DATASETS.declare(
    "text_folder", factory="dlrun.datasets.text:text_folder", check_files="dlrun.datasets.text:check_text_folder"
)
@dataclass
class TextFolder(Dataset, Vocabulary):
    """Documents in one sub-folder per class, one file per document: the layout of the extracted aclImdb archive.

    aclImdb/train/pos/*.txt, aclImdb/train/neg/*.txt, aclImdb/test/... Encoded as text_csv's texts are.
    """

    path: str = option(
        "data/aclImdb",
        "the folder holding the split folders; a relative path starts from the directory you run dlrun in",
    )
    train: str = option("train", "the training split's sub-folder")
    test: str | None = option(
        "test", "the official test split's sub-folder; null holds out dataset.split.test of the training files"
    )
    classes: list[str] | None = option(
        None, "the class sub-folders to read (aclImdb: [neg, pos], leaving out train/unsup); null = all"
    )


@DATASETS.declare("tagged_text", factory="dlrun.datasets.tagged_text:tagged_text")
@dataclass
class TaggedText(Dataset):
    """Sentences written word/TAG, one tag per word (sequence tagging). Defaults: the books' part-of-speech example."""

    split: Split = option(
        Split(val=0.0, stratify=False), "two sentences: no validation split; per-step labels cannot be stratified"
    )
    sentences: list[str] = option(
        ["The/DET dog/NN ate/V the/DET apple/NN", "Everybody/NN read/V that/DET book/NN"], "the training sentences"
    )
    test_sentences: list[str] = option(
        ["The/DET dog/NN ate/V the/DET apple/NN"],
        "the test sentences (the book tags its first training sentence again)",
    )
    tags: list[str] | None = option(
        ["DET", "NN", "V"], "tag names in id order (DET=0, NN=1, V=2); null = sorted tags found"
    )


@DATASETS.declare(
    "timeseries_csv",
    factory="dlrun.datasets.timeseries:timeseries_csv",
    check_files="dlrun.datasets.timeseries:check_timeseries",
)
@dataclass
class TimeseriesCsv(Dataset):
    """One series in a CSV file, in time order, cut into sliding windows: `window` steps -> the next `horizon` values.

    Split in time order (train, val, test), each split windowed on its own; z-scored with training statistics.
    """

    split: Split = option(
        Split(shuffle=False, stratify=False), "the fractions are of the steps, in time order; shuffle must stay false"
    )
    path: str | None = option(None, "the file (required); a relative path starts from the directory you run dlrun in")
    value: str | None = option(None, "the column to forecast (required); also the first input feature")
    date: str | None = option(None, "a date column the rows are sorted by; null keeps the file's order")
    features: list[str] = option([], "more numeric columns fed to the model beside the value (not forecast)")
    window: int = option(30, "steps of input per sample", ge=1)
    horizon: int = option(1, "how many next values each sample predicts (1 = the next step)", ge=1)
    stride: int = option(1, "steps between the starts of consecutive windows", ge=1)
    period: int | None = option(
        None, "season length in steps (7 for weekly days); adds a seasonal last-value baseline", ge=1
    )
    sep: str = option(",", "one character (',' ';' '\\t'), or comma | tab | semicolon | whitespace")
    header: bool = option(True, "the first row holds the column names; false needs `names`")
    names: list[str] | None = option(None, "column names in file order (with header: true they replace the header row)")


# ---------------------------------------------------------------- images


@DATASETS.declare("mnist", factory="dlrun.datasets.mnist:mnist")
@dataclass
class Mnist(Downloadable):
    """MNIST: 28x28 grey handwritten digits, 10 classes, 60,000 train / 10,000 official test.

    Read from <root>/MNIST/raw/ or <root>/ (the four *-ubyte.gz files), else downloaded.
    """

    split: Split = option(
        Split(val=0.1),
        "val: fraction of the 60,000 training images used for validation (the test set is the official one)",
    )
    normalize: Literal["standard", "unit", "symmetric"] = option(
        "unit", "unit = x/255 in [0,1] (the books) | standard = training mean/std per channel | symmetric = [-1,1]"
    )


@DATASETS.declare("fashion_mnist", factory="dlrun.datasets.mnist:fashion_mnist")
@dataclass
class FashionMnist(Mnist):
    """Fashion-MNIST: 28x28 grey clothing images, 10 classes, 60,000 train / 10,000 official test.

    Read from <root>/FashionMNIST/raw/, <root>/, or Debian's /usr/share/datasets/fashion-mnist/
    (apt install dataset-fashion-mnist).
    """


@DATASETS.declare("cifar10", factory="dlrun.datasets.cifar:cifar10")
@dataclass
class Cifar10(Downloadable):
    """CIFAR-10: 32x32 colour images, 10 classes, 50,000 train / 10,000 official test.

    Read from <root>/cifar-10-batches-py/ (torchvision's layout of the python version), else downloaded.
    """

    split: Split = option(
        Split(val=0.1),
        "val: fraction of the 50,000 training images used for validation (the test set is the official one)",
    )


@DATASETS.declare("image_folder", factory="dlrun.datasets.image_folder:image_folder")
@dataclass
class ImageFolder(Images):
    """Your own images: one sub-folder per class under `path` (torchvision's ImageFolder layout)."""

    path: str = option("data/images", "folder with one sub-folder of images per class")
    image_size: list[int] = option([64, 64], "every image is resized to [height, width]", ge=1)
    channels: Literal[1, 3] = option(3, "3 (RGB) or 1 (grey)")
    num_workers: int = option(2, "DataLoader worker processes (decoding, and the dataloader loader)", ge=0)
