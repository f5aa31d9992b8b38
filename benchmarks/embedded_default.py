"""Wall time, CPU time, critical path and peak memory of the embedded default, end to end.

Runs `snakemake --cores 2` on config/mini.yaml into a fresh results directory and
reports the wall time, the peak resident memory of the largest job, each job's time
from Snakemake's benchmark records (wall ``s`` and ``cpu_time``), their sums, and the
critical path: the longest chain of dependent jobs, by the jobs' measured seconds.
On a shared machine the wall time is noisy; the CPU-time sum and the critical path
are the figures to compare (issue 12: the whole run under 5 minutes on 2 cores).
Goals: <= 5 minutes, <= 4 GiB.

    python benchmarks/embedded_default.py [--results /tmp/bench-results]
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def dry_run_jobs(text: str) -> list[dict]:
    """Jobs of a ``snakemake -n`` listing: rule, input and output paths, benchmark file."""
    jobs = []
    for block in re.split(r"^(?:localrule|rule) ", text, flags=re.MULTILINE)[1:]:
        job = {"rule": block.split(":", 1)[0], "input": [], "output": [], "benchmark": None}
        for key in ("input", "output", "benchmark"):
            match = re.search(rf"^\s+{key}: (.*)$", block, flags=re.MULTILINE)
            if match:
                paths = [p.strip() for p in match.group(1).split(",") if p.strip()]
                job[key] = paths[0] if key == "benchmark" else paths
        jobs.append(job)
    return jobs


def critical_path(jobs: list[dict], seconds: dict[str, float]) -> tuple[float, list[str]]:
    """The longest chain of dependent jobs by ``seconds[benchmark file]`` (0 for jobs without one).

    A job depends on the job whose output is one of its inputs or a folder above one.
    """
    producer = {Path(out): k for k, job in enumerate(jobs) for out in job["output"]}

    def parents(job: dict) -> set[int]:
        found = set()
        for path in map(Path, job["input"]):
            for candidate in (path, *path.parents):
                if candidate in producer:
                    found.add(producer[candidate])
                    break
        return found

    deps = [parents(job) for job in jobs]
    finish: dict[int, tuple[float, list[int]]] = {}

    def longest(k: int) -> tuple[float, list[int]]:
        if k not in finish:
            best = max((longest(d) for d in deps[k]), default=(0.0, []), key=lambda item: item[0])
            own = seconds.get(jobs[k]["benchmark"], 0.0) if jobs[k]["benchmark"] else 0.0
            finish[k] = (best[0] + own, [*best[1], k])
        return finish[k]

    total, chain = max((longest(k) for k in range(len(jobs))), default=(0.0, []), key=lambda item: item[0])
    return total, [jobs[k]["rule"] for k in chain]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="/tmp/dc-bench-results")
    parser.add_argument("--configfile", default="config/mini.yaml")
    args = parser.parse_args()
    results = Path(args.results).resolve()
    shutil.rmtree(results, ignore_errors=True)
    base = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", args.configfile,
            "--config", f"results={results}"]
    dry = subprocess.run([*base, "-n", "--forceall"], cwd=ROOT, check=True, capture_output=True, text=True)
    start = time.perf_counter()
    subprocess.run([*base, "--quiet", "all"], cwd=ROOT, check=True)
    wall = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    records = []
    for tsv in sorted((results / "benchmarks").rglob("*.tsv")):
        row = pd.read_csv(tsv, sep="\t").iloc[0]
        records.append({"job": str(tsv.relative_to(results / "benchmarks").with_suffix("")), "file": str(tsv),
                        "seconds": row["s"], "cpu_seconds": row["cpu_time"], "max_rss_mib": row["max_rss"]})
    jobs = pd.DataFrame(records)
    print(jobs.drop(columns="file").sort_values("seconds", ascending=False)
          .to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    dag = dry_run_jobs(dry.stdout + dry.stderr)
    path_s, chain = critical_path(dag, dict(zip(jobs["file"], jobs["seconds"])))
    path_cpu, _ = critical_path(dag, dict(zip(jobs["file"], jobs["cpu_seconds"])))
    print(f"\n{len(jobs)} jobs: {jobs['seconds'].sum():.0f} job-seconds, {jobs['cpu_seconds'].sum():.0f} CPU seconds")
    print(f"critical path: {path_s:.0f} s ({path_cpu:.0f} CPU s by the same measure): {' -> '.join(chain)}")
    print(f"embedded default ({args.configfile}): wall {wall / 60:.2f} min, "
          f"peak RSS of the largest job {peak_mib / 1024:.2f} GiB")


if __name__ == "__main__":
    main()
