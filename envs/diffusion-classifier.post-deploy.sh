#!/usr/bin/env bash
# Snakemake runs this in the new environment, from the workflow's directory (the repository root):
# the lock, then this repository's package on top of it, as README command 1 installs them.
# Snakemake hashes this file into the environment's name, so a new lock makes a new environment:
# requirements/lock.txt sha256: 9ef3bdc2d5d7f6ff1d2407f5f3f6ab26b32281a4926e5101223ab2406c537669
set -euo pipefail
python -m pip install -r requirements/lock.txt
python -m pip install --no-deps -e .
