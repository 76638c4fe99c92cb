"""Export a sentence-transformers (BERT-family, mean-pooled) model to ONNX and quantize it.

The exported graph includes mean pooling and L2 normalisation, so the runtime only has to
tokenize and run it. Export happens once per model and is cached by a hash of the weights.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from core.errors import ModelLoadError
from core.logging import fields

log = logging.getLogger(__name__)

_EXPORT_VERSION = "1"
_OPSET = 17


def quantized_model_path(model_dir: Path, cache_dir: Path) -> Path:
    """Return the cached int8 ONNX file for ``model_dir``, exporting it on first use."""
    target = cache_dir / f"{model_dir.name}-{_fingerprint(model_dir)}-int8.onnx"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    float_path = target.with_suffix(f".{os.getpid()}.fp32.onnx")
    log.info("exporting embedding model to ONNX", extra=fields(model=str(model_dir)))
    try:
        _export(model_dir, float_path)
        _quantize(float_path, target)
    except Exception as e:
        target.unlink(missing_ok=True)
        raise ModelLoadError(f"cannot export {model_dir} to ONNX: {e}") from e
    finally:
        float_path.unlink(missing_ok=True)
    return target


def _fingerprint(model_dir: Path) -> str:
    digest = hashlib.sha256(_EXPORT_VERSION.encode())
    for weights in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        digest.update(weights.name.encode())
        digest.update(str(weights.stat().st_size).encode())
        with weights.open("rb") as handle:
            digest.update(handle.read(1 << 20))
    return digest.hexdigest()[:12]


def _export(model_dir: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # Eager attention traces into plain ops that ONNX Runtime's quantizer understands.
    bert = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class MeanPooled(torch.nn.Module):
        """BERT, then attention-masked mean pooling and L2 normalisation (MiniLM's pooling)."""

        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(summed, p=2, dim=1)

    pooled = MeanPooled(bert).eval()
    ids = torch.ones(2, 64, dtype=torch.long)
    mask = ids.clone()
    mask[1, 40:] = 0  # trace the padded case too
    tmp = out.with_suffix(f".{os.getpid()}.tmp")  # concurrent exporters never share a file
    torch.onnx.export(
        pooled,
        (ids, mask, torch.zeros_like(ids)),
        str(tmp),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["embedding"],
        dynamic_axes={
            "input_ids": {0: "batch", 1: "sequence"},
            "attention_mask": {0: "batch", 1: "sequence"},
            "token_type_ids": {0: "batch", 1: "sequence"},
            "embedding": {0: "batch"},
        },
        opset_version=_OPSET,
        dynamo=False,
    )
    tmp.replace(out)


def _quantize(float_path: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    quantize_dynamic(str(float_path), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
    tmp.replace(out)
