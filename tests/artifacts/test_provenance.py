"""Provenance fingerprints: files are hashed in one streaming way everywhere (weights, shards, inputs),
and the code version of an artifact is a hash of the package's source, never the git commit."""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import diffusion_classifier
from diffusion_classifier.artifacts import file_sha256, provenance


def test_sha256_streams_files_larger_than_one_chunk(tmp_path: Path) -> None:
    data = bytes(range(256)) * 10_000  # 2.56 MB > the 1 MiB chunk
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    assert file_sha256(path, chunk_size=7) == file_sha256(path)


# --- the code version: what computed an artifact, not which commit it was made from -------
PACKAGE = Path(diffusion_classifier.__file__).resolve().parent
ROOT = Path(__file__).resolve().parents[2]


def _package_copy(target: Path) -> Path:
    """The package's sources as a wheel would install them (no bytecode), under ``target/src``."""
    copy = target / "src" / PACKAGE.name
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_the_code_version_is_a_hash_of_the_package_source_and_runs_no_git(monkeypatch):
    def no_git(*args, **kwargs):
        raise AssertionError(f"the code version must not ask git: {args}")

    monkeypatch.setattr(subprocess, "run", no_git)
    version = provenance.code_version()
    expected = provenance.files_sha256(provenance.package_files(PACKAGE), PACKAGE)
    assert version == f"{diffusion_classifier.__version__}+src.{expected[:12]}"
    assert provenance.package_source_sha256() == expected


def test_the_source_hash_counts_sources_and_package_data_and_nothing_else(tmp_path):
    package = _package_copy(tmp_path)
    names = {p.relative_to(package).as_posix() for p in provenance.package_files(package)}
    assert {"__init__.py", "artifacts/provenance.py", "py.typed", "reporting/catalog.yaml",
            "robustness/data/testbed_top1.csv"} <= names
    before = provenance.package_source_sha256(package)
    assert before == provenance.package_source_sha256(PACKAGE)  # a copy hashes like the checkout
    # What a run or an install leaves behind, and files outside the package, do not count.
    (package / "artifacts/__pycache__").mkdir(exist_ok=True)
    (package / "artifacts/__pycache__/provenance.cpython-311.pyc").write_bytes(b"\0bytecode")
    (package / "notes.txt").write_text("an editor's scratch file, not installed by a wheel\n")
    (tmp_path / "README.md").write_text("a README edit\n")
    (tmp_path / "src/diffusion_classifier.egg-info").mkdir()
    assert provenance.package_source_sha256(package) == before
    # Any edit of a source or a data file does, and so does a renamed file.
    source = package / "engine/__init__.py"
    source.write_text(source.read_text() + "\n# an edit\n")
    edited = provenance.package_source_sha256(package)
    assert edited != before
    data = package / "reporting/catalog.yaml"
    data.write_text(data.read_text() + "\n")
    assert provenance.package_source_sha256(package) not in (before, edited)
    changed = provenance.package_source_sha256(package)
    (package / "reporting/catalog.yaml").rename(package / "reporting/catalog_renamed.yaml")
    assert provenance.package_source_sha256(package) != changed


def test_the_package_data_is_what_pyproject_installs():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert set(provenance.PACKAGE_DATA) == set(config["tool"]["setuptools"]["package-data"][PACKAGE.name])


def _git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout


def _versions(repo: Path) -> tuple[str, str]:
    """(code_version(), git_describe()) as the package copy in ``repo`` reports them."""
    out = subprocess.run([sys.executable, "-c", "from diffusion_classifier.artifacts.provenance import "
                          "code_version, git_describe; print(code_version()); print(git_describe())"],
                         cwd=repo, env={**os.environ, "PYTHONPATH": str(repo / "src")}, capture_output=True,
                         text=True, check=True).stdout.split()
    return out[0], out[1]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_commit_changes_the_git_describe_and_not_the_code_version(tmp_path):
    repo = tmp_path / "repo"
    package = _package_copy(repo)
    (repo / "README.md").write_text("v1\n")
    _git("init", "-q", cwd=repo)
    _git("add", "-A", cwd=repo)
    _git("commit", "-qm", "one", cwd=repo)
    version, commit = _versions(repo)
    assert commit == _git("rev-parse", "--short=12", "HEAD", cwd=repo).strip()
    assert commit not in version and version.startswith(f"{diffusion_classifier.__version__}+src.")

    (repo / "README.md").write_text("v2\n")  # a commit that does not touch the package
    _git("commit", "-qam", "two", cwd=repo)
    version_2, commit_2 = _versions(repo)
    assert commit_2 != commit and version_2 == version

    (package / "engine/__init__.py").write_text((package / "engine/__init__.py").read_text() + "\n# edit\n")
    version_3, commit_3 = _versions(repo)  # an uncommitted edit of the package
    assert version_3 != version and commit_3 == f"{commit_2}-dirty"


def test_the_versioned_environment_names_no_machine_and_the_timing_record_does(tmp_path, monkeypatch):
    """Two machines that compute the same bytes write the same artifacts: host, kernel and CPU
    go with the measured times, the numerics in force with the artifact."""
    from diffusion_classifier.artifacts import read_timing, write_timing

    env = provenance.environment()
    assert {"host", "platform"}.isdisjoint(env) and env["python"].count(".") == 1
    assert env["numerics"]["mode"] == "portable" and env["numerics"]["pins"]["MKL_CBWR"] == "COMPATIBLE"
    artifact = tmp_path / "scores" / "shard-000"
    write_timing(artifact, {"seconds": 1.0}, root=tmp_path)
    machine = read_timing(artifact, root=tmp_path)["machine"]
    assert machine["host"] and machine["python"].count(".") == 2
    if Path("/proc/cpuinfo").exists():
        assert machine["cpu"]["model"] and isinstance(machine["cpu"]["isa_flags"], list)


def test_the_lock_state_names_every_installed_version_that_is_not_the_locked_one(tmp_path):
    import importlib.metadata

    pytest_version = importlib.metadata.version("pytest")
    lock = tmp_path / "lock.txt"
    lock.write_text(f"--extra-index-url https://example.invalid/simple\n\npytest=={pytest_version} \\\n"
                    "    --hash=sha256:00\nPyYAML==0.0.1 ; python_version >= '3.10' \\\n    --hash=sha256:11\n"
                    "no-such-distribution==1.0\n")
    state = provenance.lock_state(lock)
    assert state["sha256"] == file_sha256(lock)
    assert state["installed_differs"] == {"pyyaml": importlib.metadata.version("pyyaml"),
                                          "no-such-distribution": None}
    assert provenance.lock_state(tmp_path / "absent.txt") is None
