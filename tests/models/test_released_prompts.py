"""The authors' released prompt tables: fetch + sha256, form, join to the dataset, identical prompts."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pandas as pd
import pytest

from diffusion_classifier.models.prompt_checks import PromptTableError
from diffusion_classifier.models.prompts import PromptSpec, class_prompts, read_prompt_table
from diffusion_classifier.models.released_prompts import (comparable_name, fetch_prompt_table,
                                                          join_released_table, read_released_table)
from diffusion_classifier.stages.prompts import fetch_released_prompts, prepare_prompts
from diffusion_classifier.workflow_config import ConfigError, check_config

from helpers.sd_helpers import IMAGE_SIZE, build_sd_checkpoint, write_rgb_dataset

# The released tables' header and quoting (Pets: "cat"/"dog" words that no template gives).
PETS_LIKE = ('prompt,classname,classidx\n'
             '"a photo of a Cat cat, a type of pet.",cat,0\n'
             '"a photo of a Dog dog, a type of pet.",dog,1\n'
             '"a photo of a Bird, a type of pet.",BIRD,2\n')


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------------------- fetching
def test_fetch_downloads_from_a_url_and_verifies_the_checksum(tmp_path):
    mirror = write(tmp_path / "mirror" / "pets_prompts.csv", PETS_LIKE)
    out = fetch_prompt_table(mirror.as_uri(), sha(PETS_LIKE), tmp_path / "cache" / "pets_prompts.csv",
                             tmp_path / "out" / "pets.csv")
    assert out.read_text() == PETS_LIKE and (tmp_path / "cache" / "pets_prompts.csv").read_text() == PETS_LIKE


def test_a_checksum_mismatch_is_refused_and_nothing_is_written(tmp_path):
    mirror = write(tmp_path / "mirror" / "pets_prompts.csv", PETS_LIKE)
    with pytest.raises(PromptTableError, match=r"pets_prompts\.csv has sha256 \w+, not the released table's 0{64}"):
        fetch_prompt_table(mirror.as_uri(), "0" * 64, tmp_path / "cache" / "pets_prompts.csv", tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_a_cached_copy_with_the_right_checksum_needs_no_network(tmp_path):
    cache = write(tmp_path / "cache" / "pets_prompts.csv", PETS_LIKE)
    unreachable = (tmp_path / "no-such-mirror" / "pets_prompts.csv").as_uri()
    assert fetch_prompt_table(unreachable, sha(PETS_LIKE), cache, tmp_path / "out.csv").read_text() == PETS_LIKE


def test_a_failed_download_names_the_url_and_where_to_put_the_file(tmp_path):
    url = (tmp_path / "no-such-mirror" / "pets_prompts.csv").as_uri()
    cache = tmp_path / "cache" / "pets_prompts.csv"
    with pytest.raises(PromptTableError, match=rf"could not download the prompt table {url} .*place it at {cache}"):
        fetch_prompt_table(url, sha(PETS_LIKE), cache, tmp_path / "out.csv")
    assert not cache.exists() and not list(cache.parent.glob(".*"))


def test_the_fetch_command_refuses_identical_prompts_unless_listed(tmp_path):
    twice = "prompt,classname,classidx\na photo of a missile.,missile,0\na photo of a missile.,missile,1\n"
    mirror = write(tmp_path / "mirror" / "imagenet_prompts.csv", twice)
    args = [sys.executable, "-m", "diffusion_classifier.cli", "fetch-prompt-table", "--url", mirror.as_uri(),
            "--sha256", sha(twice), "--cache", str(tmp_path / "cache.csv"), "--output", str(tmp_path / "out.csv")]
    refused = subprocess.run(args, capture_output=True, text=True)
    assert refused.returncode != 0 and "classes 0 (missile), 1 (missile) get the identical prompt" in refused.stderr
    assert "list [0, 1] under the dataset's prompt_table.identical_prompts" in refused.stderr
    assert not (tmp_path / "out.csv").exists()
    fetch_released_prompts(mirror.as_uri(), sha(twice), tmp_path / "cache.csv", tmp_path / "out.csv",
                           identical_prompts=[[0, 1]])
    assert (tmp_path / "out.csv").read_text() == twice


# --------------------------------------------------------------------------- form and join
@pytest.mark.parametrize("text, message", [
    ("prompt,name,classidx\na,a,0\n", "header must be prompt,classname,classidx"),
    ("prompt,classname,classidx\na,a,0\nb,b,0\n", "classidx 0 has more than one row"),
    ("prompt,classname,classidx\na,a,0\nb,b,2\n", r"classidx must be 0\.\.1 without gaps; \[1\] missing"),
    ("prompt,classname,classidx\na,a,x\n", "classidx 'x' is not a non-negative integer"),
])
def test_a_malformed_table_is_refused(tmp_path, text, message):
    with pytest.raises(PromptTableError, match=message):
        read_released_table(write(tmp_path / "t.csv", text))


def test_the_join_checks_names_up_to_case_and_punctuation(tmp_path):
    path = write(tmp_path / "aircraft_prompts.csv",
                 'prompt,classname,classidx\n"a photo of a F-16A/B.",F-16A_B,0\n"a photo of a F/A-18.",F_A-18,1\n')
    joined = join_released_table(read_released_table(path), pd.DataFrame({"name": ["F-16A/B", "F/A-18"]}), str(path))
    assert joined["prompt"].tolist() == ["a photo of a F-16A/B.", "a photo of a F/A-18."]
    assert comparable_name("Butcher's knife") == comparable_name("butchers_knife")
    # ObjectNet's tables name a class by its folder; the dataset's display name differs.
    objectnet = write(tmp_path / "objectnet_prompts.csv", "prompt,classname,classidx\na photo of a bath towel.,"
                      "full_sized_towel,0\n")
    classes = pd.DataFrame({"name": ["Bath towel"], "folder": ["full_sized_towel"]})
    assert join_released_table(read_released_table(objectnet), classes, str(objectnet))["class_index"].tolist() == [0]


def test_a_join_mismatch_is_refused_naming_the_file_and_class(tmp_path):
    path = write(tmp_path / "pets_prompts.csv", PETS_LIKE)
    table = read_released_table(path)
    with pytest.raises(PromptTableError, match=rf"{path}: classidx 1 is 'dog' but the dataset's class 1 is 'bird'"):
        join_released_table(table, pd.DataFrame({"name": ["cat", "bird", "dog"]}), str(path))
    with pytest.raises(PromptTableError, match=rf"{path} has 3 classes .* but the dataset has 4"):
        join_released_table(table, pd.DataFrame({"name": ["cat", "dog", "bird", "fish"]}), str(path))


# -------------------------------------------------------------------------- identical prompts
def test_identical_template_prompts_are_refused_naming_both_classes():
    spec = PromptSpec("a photo of a {}.", ("tench", "crane", "crane"))
    with pytest.raises(PromptTableError, match=r"classes 1 \(crane bird\), 2 \(crane machine\) get the identical "
                                               r"prompt 'a photo of a crane\.'"):
        class_prompts(["tench", "crane bird", "crane machine"], spec)
    allowed = PromptSpec("a photo of a {}.", ("tench", "crane", "crane"), identical_prompts=((1, 2),))
    assert class_prompts(["tench", "crane bird", "crane machine"], allowed)["prompt"].nunique() == 2


def _config(datasets: dict) -> dict:
    return {
        "datasets": datasets,
        "models": {"sd": {"adapter": "stable_diffusion", "checkpoint": "some/sd"}},
        "strategies": {"s": {"evaluations": [4], "keep": [1]}},
        "experiments": [{"dataset": name, "model": "sd", "strategy": "s"} for name in datasets],
    }


def test_identical_prompts_are_a_config_error_before_any_job():
    crane = {"source": "imagenet_val", "options": {"image_folder": "x", "class_index": "y"},
             "prompt_template": "a photo of a {}.", "prompt_class_names": ["tench", "crane", "Crane"]}
    with pytest.raises(ConfigError, match=r"datasets\.inet\.prompt_template: classes 1 \(crane\), 2 \(Crane\)"):
        check_config(_config({"inet": crane}))
    # With the official devkit the names are open_clip's, which repeat "missile" and "sunglasses".
    official = {"source": "imagenet_val", "options": {"root": "data/raw/imagenet"},
                "prompt_template": "a photo of a {}."}
    with pytest.raises(ConfigError, match=r"classes 657 \(missile\), 744 \(missile\)"):
        check_config(_config({"inet": official}))
    table = {"source": "imagenet_val", "options": {"root": "data/raw/imagenet"},
             "prompt_table": {"file": "imagenet_prompts.csv", "sha256": "0" * 64}}
    check_config(_config({"inet": table}))  # the released table's identical prompts are checked when fetched


# ---------------------------------------------------------------------------- prompt stage
MODEL = {"adapter": "stable_diffusion", "image": {"size": IMAGE_SIZE, "channels": 3, "resample": "bicubic"}}


def test_the_prompt_stage_uses_the_released_table(tmp_path):
    sd = tmp_path / "sd"
    build_sd_checkpoint(sd)
    rgb = write_rgb_dataset(tmp_path / "rgb")  # classes cat, dog, bird
    table = write(tmp_path / "pets_prompts.csv", PETS_LIKE)
    out = prepare_prompts(rgb, sd, MODEL, tmp_path / "prompts", prompt={"table": str(table)},
                          scoring={"device": "cpu"})
    frame = read_prompt_table(out).frame
    assert frame["prompt"].tolist() == ["a photo of a Cat cat, a type of pet.", "a photo of a Dog dog, a type of pet.",
                                        "a photo of a Bird, a type of pet."]
    assert frame["class_name"].tolist() == ["cat", "dog", "bird"]
    assert read_prompt_table(out).provenance["prompt"]["table_sha256"] == sha(PETS_LIKE)
    swapped = write(tmp_path / "swapped.csv", PETS_LIKE.replace(",cat,0", ",dog,0").replace(",dog,1", ",cat,1"))
    with pytest.raises(PromptTableError, match="classidx 0 is 'dog' but the dataset's class 0 is 'cat'"):
        prepare_prompts(rgb, sd, MODEL, tmp_path / "bad", prompt={"table": str(swapped)}, scoring={"device": "cpu"})
    assert not (tmp_path / "bad").exists()
