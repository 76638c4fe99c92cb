"""Convert a GGUF model into a Hugging Face directory (safetensors) that vLLM can serve.

Usage: ``python scripts/convert_gguf_to_hf.py MODEL.gguf OUTDIR``, run by
``scripts/vllm_cpu.sh convert`` inside ``.vllm-venv`` (it needs torch, transformers and gguf,
which the app's venv does not carry for this purpose).

transformers dequantizes the GGUF tensors into float weights. The config it builds still
carries the GGUF ``quantization_config`` (and the model its quantizer), which vLLM would try
to honour and ``save_pretrained`` refuses, so both are cleared before saving. Weights are
saved in bfloat16 (vLLM's CPU backend runs bf16; half the size of fp32).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def convert(gguf: Path, out: Path) -> None:
    """Write ``gguf`` as an HF model plus tokenizer into ``out``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.perf_counter()
    print(f"loading tokenizer from {gguf}", file=sys.stderr, flush=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    print("loading and dequantizing weights", file=sys.stderr, flush=True)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16
    )
    # The weights are plain floats now, but the model still records the GGUF "quantization":
    # save_pretrained refuses a model with a non-serializable quantizer, and vLLM would try
    # to honour a quantization_config left in config.json.
    model.hf_quantizer = None
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    out.mkdir(parents=True, exist_ok=True)
    print(f"saving to {out}", file=sys.stderr, flush=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    saved = (out / "config.json").read_text(encoding="utf-8")
    if '"quantization_config"' in saved:
        raise SystemExit(f"{out}/config.json still holds a quantization_config")
    params = sum(p.numel() for p in model.parameters())
    elapsed = time.perf_counter() - start
    print(f"done: {params / 1e6:.0f}M parameters in {elapsed:.1f} s", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and convert."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gguf", type=Path, help="the .gguf file")
    parser.add_argument("out", type=Path, help="the output directory")
    args = parser.parse_args(argv)
    gguf: Path = args.gguf.resolve()
    if not gguf.is_file():
        parser.error(f"not a file: {gguf}")
    convert(gguf, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
