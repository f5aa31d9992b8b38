"""Every `dvc plots` definition renders, offline, with the series its matplotlib figure draws apart.

DVC fills each plot's template (workflow/plots/) with the CSV's rows; a Vega-Lite renderer
(vl-convert, the `test` extra) draws it as a reader of `dvc plots show` would see it. A series
is split when its name is drawn (a legend entry or a panel title): one line joining every
strategy, or one colour for two series, names none of them.
"""

from __future__ import annotations

import json

import pytest
import yaml

from helpers.plot_inputs import SERIES, write_plot_inputs
from tests.workflow.dvc_helpers import ROOT, dvc, repository_copy

vl_convert = pytest.importorskip("vl_convert")


def _definitions() -> dict[str, dict]:
    return {name: definition for plot in yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]
            for name, definition in plot.items()}


def test_every_plot_input_has_a_synthetic_csv_in_its_real_format():
    assert sorted(path for d in _definitions().values() for path in d["y"]) == sorted(SERIES)


def test_every_dvc_plot_renders_with_its_figures_series_apart(tmp_path):
    repo = repository_copy(tmp_path / "repo")
    write_plot_inputs(repo)
    shown = json.loads(dvc("plots", "show", "--json", cwd=repo).stdout)
    assert not shown.get("errors"), shown["errors"]
    definitions = _definitions()
    assert set(shown["data"]) == set(definitions)
    for name, entries in shown["data"].items():
        ((path, _),) = definitions[name]["y"].items()
        (entry,) = entries
        spec = entry["content"]
        png = vl_convert.vegalite_to_png(spec, scale=1)
        (tmp_path / f"{path.rsplit('/', 1)[-1]}.png").write_bytes(png)  # to look at: --basetemp
        assert png.startswith(b"\x89PNG") and len(png) > 10_000, name
        svg = vl_convert.vegalite_to_svg(spec)
        for series in SERIES[path]:
            assert f">{series}</text>" in svg, f"{name}: series {series!r} not drawn apart"
        for label in ("x_label", "y_label"):
            assert f">{definitions[name][label]}</text>" in svg, f"{name}: no axis title {definitions[name][label]!r}"
