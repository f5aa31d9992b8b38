"""Atomic writes: a killed writer's temporary never outlives the next write of its target."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import diffusion_classifier
from diffusion_classifier.artifacts import atomic_directory, atomic_path, atomic_write_text
from diffusion_classifier.artifacts.io import remove_stale_temporaries

SRC = str(Path(diffusion_classifier.__file__).resolve().parents[1])


def killed_while(code: str, tmp_path: Path) -> None:
    """Run ``code`` in a child that SIGKILLs itself where ``kill()`` is called."""
    script = "import os, signal\nfrom pathlib import Path\n" \
             "def kill():\n    os.kill(os.getpid(), signal.SIGKILL)\n" + textwrap.dedent(code)
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": SRC})
    assert run.returncode == -9, run.stderr[-2000:]


def test_a_file_temporary_of_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    killed_while("""
        from diffusion_classifier.artifacts import atomic_path
        with atomic_path("table.csv") as tmp:
            tmp.write_text("half")
            kill()
    """, tmp_path)
    assert [p.name.startswith(".table.csv.") for p in tmp_path.iterdir()] == [True]
    atomic_write_text(tmp_path / "table.csv", "whole\n")
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_a_kill_during_the_final_rename_leaves_no_hidden_copy_after_the_rerun(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "old.bin").write_bytes(b"old")
    # Killed after the old directory was removed, before the new one was renamed in: the
    # finished copy is left under its hidden temporary name.
    killed_while("""
        import os
        from diffusion_classifier.artifacts import atomic_directory
        os.replace = lambda *args: kill()
        with atomic_directory("model") as tmp:
            (tmp / "weights.bin").write_bytes(b"x" * 4096)
    """, tmp_path)
    hidden = [p for p in tmp_path.iterdir() if p.name.startswith(".model.")]
    assert len(hidden) == 1 and (hidden[0] / "weights.bin").exists()
    with atomic_directory(tmp_path / "model") as tmp:
        (tmp / "weights.bin").write_bytes(b"y")
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    assert [p.name for p in (tmp_path / "model").iterdir()] == ["weights.bin"]


def test_a_live_writers_temporary_is_left_alone(tmp_path):
    with atomic_path(tmp_path / "a.json") as file_tmp, atomic_directory(tmp_path / "d") as dir_tmp:
        assert remove_stale_temporaries(tmp_path / "a.json") == []
        assert remove_stale_temporaries(tmp_path / "d") == []
        assert file_tmp.exists()
        assert dir_tmp.is_dir()
        file_tmp.write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "d"]
