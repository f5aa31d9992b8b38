#!/usr/bin/env bash
# Snakemake runs this in the new environment, from the workflow's directory (the repository root):
# the lock, then this repository's package on top of it, as README command 1 installs them.
# Snakemake hashes this file into the environment's name, so a new lock makes a new environment:
# requirements/lock.txt sha256: 1e461c02e53a72ac49c361ea846bbf20c4f67bc17c88b18126cdc8d471ff9650
set -euo pipefail
python -m pip install -r requirements/lock.txt
python -m pip install --no-deps -e .
