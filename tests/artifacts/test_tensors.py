"""Safetensors artifacts are byte-identical across processes (DVC must not see a change)."""

import subprocess
import sys

from safetensors.torch import load_file, safe_open

# The prompt table's writer, as prepare_prompts calls it.
WRITE = """
import sys, pandas as pd, torch
from diffusion_classifier.models.prompts import write_prompt_table
frame = pd.DataFrame({"index": [0, 1], "class_index": [0, 1], "class_name": ["a", "b"], "template": "a {}.",
                      "prompt": ["a a.", "a b."]})
write_prompt_table(sys.argv[1], frame, torch.arange(6.0).reshape(2, 3), "classes", {"model": "m"})
"""


def test_a_prompt_table_written_by_separate_processes_is_identical_bytes(tmp_path):
    # Plain safetensors orders its header per process (a seeded hash map): four processes
    # agree on the order of the metadata keys only by chance (1 in 8 for two keys).
    outputs = []
    for i in range(4):
        out = tmp_path / f"table-{i}"
        subprocess.run([sys.executable, "-c", WRITE, str(out)], check=True)
        outputs.append((out / "embeddings.safetensors").read_bytes())
    assert len(set(outputs)) == 1
    path = tmp_path / "table-0" / "embeddings.safetensors"
    assert load_file(path)["embeddings"].tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    with safe_open(path, "pt") as handle:
        assert handle.metadata() == {"kind": "classes", "num_prompts": "2"}
