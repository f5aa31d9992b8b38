"""Stages ``make_zeroshot_table``, ``make_compositional_table``, ``make_table3`` and
``figure_pair_examples`` (paper Tables 1 and 3, Figure 5)."""

from __future__ import annotations

from pathlib import Path

from ._inputs import read_jsons
from ._outputs import table_stem
from ._registry import stage

__all__ = ["make_zeroshot_table", "make_compositional_table", "figure_pair_examples", "make_table3"]


@stage("make-zeroshot-table")
def make_zeroshot_table(summary_paths: list[str | Path], prompt_dirs: list[str | Path],
                        output_md: str | Path, output_csv: str | Path) -> tuple[Path, Path]:
    """Write ``output_csv`` and ``output_md``: zero-shot accuracy of text-conditional models."""
    from ..reporting import write_table
    from ..reporting.run_tables import zeroshot_frame

    prompt_tables = read_jsons([Path(d) / "provenance.json" for d in prompt_dirs])
    return write_table(zeroshot_frame(read_jsons(summary_paths), prompt_tables), table_stem(output_md, output_csv),
                       "Zero-shot Diffusion Classifier accuracy (%) of text-conditional models, one prompt per "
                       "class from the template shown; 99.5% Clopper-Pearson intervals.")


@stage("make-compositional-table")
def make_compositional_table(
    summary_paths: list[str | Path], output_md: str | Path, output_csv: str | Path
) -> tuple[Path, Path]:
    """Write ``output_csv`` and ``output_md``: Winoground-style text / image / group scores."""
    from ..reporting import write_table
    from ..reporting.run_tables import compositional_frame

    return write_table(compositional_frame(read_jsons(summary_paths)), table_stem(output_md, output_csv),
                       "Compositional scores (%) as in Winoground (paper Table 3 reports the text score): text = "
                       "each image prefers its own caption; image = each caption prefers its own image; group = "
                       "both. Chance: 25 / 25 / 16.7. 99.5% Clopper-Pearson intervals.")


@stage("figure-pair-examples")
def figure_pair_examples(dataset_dir: str | Path, output: str | Path, *, per_tag: int = 3,
                         split: str = "test") -> Path:
    """Paper Figure 5: the first ``per_tag`` examples of each collapsed tag of a caption-pair dataset.

    Args:
        per_tag: Examples shown per tag.
    """
    from ..data import load_dataset
    from ..data.pairs import load_examples
    from ..reporting.pair_examples import choose_examples, plot_pair_examples

    dataset = load_dataset(dataset_dir)
    chosen = choose_examples(load_examples(dataset, split), per_tag)
    manifest = dataset.manifest.set_index("image_id", drop=False)
    plot_pair_examples(chosen, lambda image_id: dataset.load_image(manifest.loc[image_id]), output,
                       f"{dataset.name}: caption pairs by swap type (each image's own caption below it)")
    return Path(output)


@stage("make-table3")
def make_table3(diffusion_summary: str | Path, clip_summaries: dict[str, str | Path],
                output_md: str | Path, output_csv: str | Path) -> tuple[Path, Path]:
    """Paper Table 3: Winoground text scores of CLIP and the Diffusion Classifier, the paper's beside ours.

    Args:
        diffusion_summary: The Diffusion Classifier's Winoground summary (JSON).
        clip_summaries: CLIP model name -> its Winoground summary (JSON).
    """
    from ..reporting.cells import write_cells_and_display
    from ..reporting.table3 import TABLE3_CAPTION, table3_cells, table3_display

    cells = table3_cells(diffusion_summary, clip_summaries)
    return write_cells_and_display(cells, table3_display(cells), TABLE3_CAPTION, table_stem(output_md, output_csv))
