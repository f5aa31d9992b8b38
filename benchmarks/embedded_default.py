"""Wall time and peak memory of the embedded default, end to end.

Runs `snakemake --cores 2` on config/mini.yaml into a fresh results directory and
reports the wall time, the peak resident memory of the largest job, and each rule's
time from Snakemake's benchmark records. Goals: <= 10 minutes, <= 4 GiB.

    python benchmarks/embedded_default.py [--results /tmp/bench-results]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="/tmp/dc-bench-results")
    parser.add_argument("--configfile", default="config/mini.yaml")
    args = parser.parse_args()
    results = Path(args.results)
    shutil.rmtree(results, ignore_errors=True)
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", args.configfile,
           "--config", f"results={results}", "--quiet"]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True)
    wall = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    records = []
    for tsv in sorted((results / "benchmarks").rglob("*.tsv")):
        row = pd.read_csv(tsv, sep="\t").iloc[0]
        records.append({"job": str(tsv.relative_to(results / "benchmarks").with_suffix("")),
                        "seconds": row["s"], "max_rss_mib": row["max_rss"]})
    jobs = pd.DataFrame(records)
    print(jobs.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    print(f"\nembedded default ({args.configfile}): wall {wall / 60:.2f} min, "
          f"peak RSS of the largest job {peak_mib / 1024:.2f} GiB")


if __name__ == "__main__":
    main()
