#!/usr/bin/env bash
# Snakemake runs this in the new environment, from the workflow's directory (the repository root):
# the lock, then this repository's package on top of it, as README command 1 installs them.
# Snakemake hashes this file into the environment's name, so a new lock makes a new environment:
# requirements/lock.txt sha256: f4fa32ad8f1b61dd324e347c27b61b616ab8ef3c98105ad4a3976bdc81fdd567
set -euo pipefail
python -m pip install -r requirements/lock.txt
python -m pip install --no-deps -e .
