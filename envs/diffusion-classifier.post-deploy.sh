#!/usr/bin/env bash
# Snakemake runs this in the new environment, from the workflow's directory (the repository root):
# the lock, then this repository's package on top of it, as README command 1 installs them.
# Snakemake hashes this file into the environment's name, so a new lock makes a new environment:
# requirements/lock.txt sha256: b9a400501f47dffe9322759950a77f773683e24fb6bf10a55283d92d7d2f9622
set -euo pipefail
python -m pip install -r requirements/lock.txt
python -m pip install --no-deps -e .
