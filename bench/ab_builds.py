#!/usr/bin/env python3
"""A/B of two or more nagare builds on a noisy machine: `bench-model` runs alternated.

On a shared host one run's tokens/s can move by 15% from one minute to the next, more than most
changes are worth. This alternates the builds round by round (so that a busy period hits them
alike), collects every repetition's sample (`bench-model -o json`'s samples_ts) and prints, per
build and test, the best and the median of all of them. Compare builds only within one
invocation.

Run (from the repository root):
  python bench/ab_builds.py --rounds 3 --args "-m models/SmolLM2-135M-Instruct.Q4_1.gguf -p 512 -n 0 -d 4096 -r 3 -t 2" \\
      /tmp/nagare-before build/nagare
"""
import argparse
import json
import shlex
import statistics
import subprocess


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("builds", nargs="+", help="nagare binaries")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--args", required=True, help="bench-model arguments (one string)")
    args = ap.parse_args()
    extra = ["-o", "json", "--no-roofline", "-b", ""]
    samples = {}  # (build, test) -> tokens/s samples
    for _ in range(args.rounds):
        for build in args.builds:
            out = subprocess.run([build, "bench-model", *shlex.split(args.args), *extra], capture_output=True,
                                 text=True, check=True).stdout
            for t in json.loads(out):
                samples.setdefault((build, t["test"]), []).extend(t["samples_ts"])
    for (build, test), s in samples.items():
        print(f"{test:>16}  {build}: best {max(s):.1f}  median {statistics.median(s):.1f} t/s  "
              f"({len(s)} samples: {' '.join(f'{x:.0f}' for x in s)})")


if __name__ == "__main__":
    main()
