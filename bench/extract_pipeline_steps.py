#!/usr/bin/env python3
"""Time per step of the whole `nagare extract` pipeline on the tests' fixture news site.

Starts the fixture site (tests/api/extract_site.py: real nginx on loopback, English, Japanese,
Shift_JIS and EUC-JP pages among failing ones) and the search stand-in (tests/api/
searxng_standin.py), runs `nagare extract` in process on each model, and prints the report's
per-step figures (time, items, failures, tokens) as a Markdown table.

  .venv/bin/python bench/extract_pipeline_steps.py --models models/SmolLM2-135M-Instruct.Q4_1.gguf \
      models/gemma-3-270m-q4_k_m.gguf
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "api"))
from extract_site import Site  # noqa: E402
from searxng_standin import SearchStandin  # noqa: E402

PAGES = ["/news/en/bus.html", "/news/ja/bus.html", "/news/ja/library-sjis.html", "/eucjp/harbour.html",
         "/big.html", "/slow.html", "/missing.html", "/loop/a", "/bin/data.bin", "/allscript.html",
         "/private/secret.html", "/moved"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=[str(ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf")])
    ap.add_argument("--nagare", default=str(ROOT / "build" / "nagare"))
    ap.add_argument("--question", default="How does Minato City's self-driving bus run, and what does it cost?")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="extract-bench-"))
    site = Site(base).start()
    rows = []
    try:
        results = [{"url": site.url + p, "title": p, "content": ""} for p in PAGES]
        for model in args.models:
            with SearchStandin(fallback=results) as st:
                out = base / (Path(model).stem + ".json")
                cmd = [args.nagare, "extract", args.question, "-m", model, "--search", f"searxng:{st.url}",
                       "--keywords", "2", "--per-query", "20", "--allow-private", "--fetch-timeout", "3",
                       "--max-page-bytes", "1000000", "--json", str(out), "--md", str(base / "report.md"), "-q"]
                if args.threads:
                    cmd += ["--threads", str(args.threads)]
                p = subprocess.run(cmd, capture_output=True, text=True)
                if not out.exists():
                    sys.exit(f"nagare extract failed ({p.returncode}): {p.stderr}")
                r = json.loads(out.read_text())
                for s in r["steps"]:
                    rows.append((Path(model).name, s))
                rows.append((Path(model).name, {"step": "total", "ms": sum(s["ms"] for s in r["steps"]), "items": "",
                                                "failures": "", "prompt_tokens": sum(s["prompt_tokens"] for s in r["steps"]),
                                                "completion_tokens": sum(s["completion_tokens"] for s in r["steps"])}))
    finally:
        site.stop()
    print("| model | step | time s | items | failures | prompt tok | completion tok |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for model, s in rows:
        print(f"| {model} | {s['step']} | {s['ms'] / 1000:.2f} | {s['items']} | {s['failures']} | "
              f"{s['prompt_tokens']} | {s['completion_tokens']} |")


if __name__ == "__main__":
    main()
