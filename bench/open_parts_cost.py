"""What asking the open parts again costs (``answer.open_parts: ask``), against the first reply.

For each question of a reference-checked set that asks several parts, the shipped answer path
answers it once with ``open_parts: ask``, in one process and without a reply cache, so the
follow-ups run right after the first reply, as in production. Reported per question: the first
reply's generation time, the follow-ups' time, how many parts were asked again, and the
outcome against the set's keys. The follow-up prompt differs from the first only after the
sources, so llama.cpp should read only the part's tokens: a follow-up that costs about as
much as the first reply would mean the sources were read again.

Run: ``.venv/bin/python bench/open_parts_cost.py [--set sample] [--model qwen2.5-1.5b]``.
The corpus is ingested once under bench/out/open-parts/.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api import composition
from bench.answer_latency import ingest
from core.models import Principal
from core.settings import Settings
from evals.answer_run import reference_outcome
from evals.qa_datasets import load_dataset
from generation.open_parts import asked_parts

OUT = Path(__file__).resolve().parent / "out" / "open-parts"
READER = Principal(user_id="bench", groups=("public", "hr"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--set", dest="set_name", choices=["sample", "sourcegraph"], default="sample"
    )
    parser.add_argument("--model", default="qwen2.5-1.5b")
    args = parser.parse_args()
    settings = Settings.load(
        data_dir=OUT / f"data-{args.set_name}",
        llm={"model": args.model},
        answer={"open_parts": "ask"},
    )
    data = load_dataset(args.set_name)
    ingest(settings, data)
    examples = [e for e in data.examples if asked_parts(e.question)]
    rows: list[dict[str, Any]] = []
    with composition.open_store(settings) as store:
        service = composition.build_answer_service(settings, store.index)
        service.warm_up()
        for example in examples:
            started = time.perf_counter()
            answer = service.answer(example.question, READER)
            outcome = reference_outcome(example, answer)
            rows.append(
                {
                    "id": example.id,
                    "prompt_tokens": answer.prompt_tokens,
                    "generate_s": round(answer.timings.get("generate", 0.0), 2),
                    "follow_up_s": round(answer.timings.get("follow_up", 0.0), 2),
                    "total_s": round(time.perf_counter() - started, 2),
                    "outcome": outcome.value if outcome else None,
                    "unanswered_parts": answer.unanswered_parts,
                    "text": answer.text,
                }
            )
            row = rows[-1]
            print(
                f"{example.id}: generate {row['generate_s']} s, follow-ups {row['follow_up_s']} s"
                f", {row['outcome']}",
                flush=True,
            )
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / f"{args.set_name}-{args.model}.json"
    target.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    asked = [r for r in rows if r["follow_up_s"]]
    if asked:
        share = sum(r["follow_up_s"] for r in asked) / sum(r["generate_s"] for r in asked)
        print(f"{len(asked)} of {len(rows)} asked again; follow-ups / first reply = {share:.2f}")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
