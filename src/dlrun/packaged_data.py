"""Data files that ship inside the dlrun package, found by name: `${dlrun.data:auto_mpg}` in a config.

The files live in `dlrun/datasets/packaged/` (sources and terms of use in its README.md). This module
only uses pathlib, so resolving a recipe's path never imports torch or pandas.
"""

from __future__ import annotations

from pathlib import Path

from dlrun.errors import ConfigError, DataError, did_you_mean

PACKAGED_DIR = Path(__file__).resolve().parent / "datasets" / "packaged"

# name -> file, relative to PACKAGED_DIR
PACKAGED_FILES = {
    "auto_mpg": "auto_mpg/auto-mpg.data",
    "boston_housing": "boston_housing/BostonHousing.csv",
    "daily_min_temperatures": "daily_min_temperatures/daily-min-temperatures.csv",
    "sms_spam": "sms_spam/SMSSpamCollection",
}


def packaged_file(name: str) -> str:
    """The absolute path of the packaged data file called `name`; a ConfigError names the known ones."""
    relative = PACKAGED_FILES.get(str(name).strip())
    if relative is None:
        known = ", ".join(f"{n} ({Path(f).name})" for n, f in PACKAGED_FILES.items())
        raise ConfigError(f"unknown packaged data set '{name}'. Known: {known}.{did_you_mean(name, PACKAGED_FILES)}")
    path = PACKAGED_DIR / relative
    if not path.is_file():
        raise DataError(f"packaged data file missing: {path} (reinstall dlrun, or set dataset.path to your copy)")
    return str(path)
