"""Table 4 / Figure 6's ID accuracies on a shift's classes, replayed from a stored one-stage run."""

import json

import numpy as np
import pandas as pd
import pytest

from diffusion_classifier.engine.replay import ErrorCube
from diffusion_classifier.reporting.restricted_replay import restricted_correct, restricted_summary
from diffusion_classifier.stages.robustness import fit_effective_robustness
from helpers.fits import fit_outputs


def _cube(labels, best, num_classes=8, points=3):
    """Each image's lowest error at ``best[i]``, the next lowest at its label."""
    errors = np.full((len(labels), num_classes, points), 5.0, dtype=np.float32)
    for i, (label, b) in enumerate(zip(labels, best)):
        errors[i, label] = 2.0
        errors[i, b] = 1.0
    return ErrorCube(np.array([str(i) for i in range(len(labels))]), np.array(labels), errors,
                     np.arange(points) * 10)


def test_the_argmin_is_over_the_restricting_classes_and_only_their_images_count():
    # Image 0 (label 1) prefers class 7, outside {1, 4}: restricted, it is right.
    # Image 1 (label 4) prefers 1, inside: wrong. Image 2 (label 6) is not of those classes.
    cube = _cube(labels=[1, 4, 6], best=[7, 1, 6])
    assert restricted_correct(cube, [(1,), (4,)]).tolist() == [True, False]


def test_a_class_with_several_ids_is_right_on_any_of_them():
    # ObjectNet-like: class 0 = ids {2, 3}, class 1 = {5}. Label 2 predicted 3: right.
    cube = _cube(labels=[2, 5, 3], best=[3, 2, 0])
    assert restricted_correct(cube, [(2, 3), (5,)]).tolist() == [True, False, True]


def test_the_summary_counts_every_shard_and_names_its_restriction():
    cubes = [_cube([1, 4], [1, 1]), _cube([4, 0], [4, 4])]
    summary = restricted_summary(cubes, [(1,), (4,)], dataset="imagenet_10k", model="dit", strategy="s",
                                 classes_from="imagenet_a")
    assert (summary["num_images"], summary["num_correct"], summary["classes_from"]) == (3, 2, "imagenet_a")
    with pytest.raises(ValueError, match="no image"):
        restricted_summary([_cube([0], [0])], [(1,)], dataset="d", model="m", strategy="s", classes_from="a")


def test_a_fit_row_reads_the_replayed_summary_not_the_full_run(tmp_path):
    def write(name, **summary):
        (tmp_path / name).write_text(json.dumps(summary))
        return tmp_path / name

    zoo = [write(f"{s}{i}.json", model=f"m{i}", setting=s, num_correct=c, num_images=1000)
           for i, (a, b) in enumerate([(600, 300), (700, 400), (800, 500)]) for s, c in (("id", a), ("ood", b))]
    diffusion = [write("full.json", dataset="val", model="u", strategy="s", num_correct=100, num_images=1000),
                 write("replayed.json", dataset="val", model="u", strategy="s", classes_from="shift",
                       num_correct=150, num_images=200),
                 write("ood.json", dataset="shift", model="u", strategy="s", num_correct=40, num_images=100)]
    row = {"label": "DC", "model": "u", "strategy": "s", "id_dataset": "val", "id_classes_from": "shift",
           "ood_dataset": "shift"}
    spec = {"fits": {"f": {"id_setting": "id", "ood_setting": "ood", "diffusion": [row]}}}
    fit_effective_robustness("f", spec, zoo, diffusion, *fit_outputs(tmp_path / "fit"))
    dc = pd.read_csv(tmp_path / "fit" / "models.csv").set_index("model").loc["DC"]
    assert (dc["id_correct"], dc["id_total"]) == (150, 200)


def test_a_run_with_identity_candidate_labels_is_accepted_and_a_mapped_one_refused():
    cube = _cube(labels=[1, 4], best=[1, 1])
    identity = ErrorCube(cube.image_ids, cube.labels, cube.errors, cube.timesteps, np.arange(8))
    assert restricted_correct(identity, [(1,), (4,)]).tolist() == [True, False]
    mapped = ErrorCube(cube.image_ids, cube.labels, cube.errors, cube.timesteps, np.array([0, 0, 1, 2, 3, 4, 5, 6]))
    with pytest.raises(ValueError, match="candidate k is class k"):
        restricted_correct(mapped, [(1,), (4,)])
