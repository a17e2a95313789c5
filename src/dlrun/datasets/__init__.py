"""Data sets: `conf/dataset/NAME.yaml` names a factory registered here.

A factory returns `RawData` (features, targets, kind); `build_data` splits it, fits the
preprocessing on the training split only and returns a `DataBundle` of tensors.
"""

from dlrun.datasets.base import DATASETS, DataBundle, DataInfo, Preprocessor, RawData
from dlrun.datasets.build import build_data, check_data_config
from dlrun.datasets import (cifar, csv_table, housing, image_folder, mnist, sklearn_sets, synthetic,  # noqa: F401
                            tagged_text, text, timeseries)  # (registers the factories)

__all__ = ["DATASETS", "DataBundle", "DataInfo", "Preprocessor", "RawData", "build_data", "check_data_config"]
