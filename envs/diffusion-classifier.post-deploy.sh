#!/usr/bin/env bash
# Snakemake runs this in the new environment, from the workflow's directory (the repository root):
# the lock, then this repository's package on top of it, as README command 1 installs them.
# Snakemake hashes this file into the environment's name, so a new lock makes a new environment:
# requirements/lock.txt sha256: c339a99633adf03b228d7e84dbc4bd103a8b43cbc977ad07666fca99ff528559
set -euo pipefail
python -m pip install -r requirements/lock.txt
python -m pip install --no-deps -e .
