"""The console script, generated from the ``@stage`` registrations.

Every rule's shell command, taken from a dry run of the embedded default and of the
paper-scale config, must parse with the generated CLI (click's ``make_context``, the
stage is not run): a rule passing a flag its stage lacks, missing a required one, or
giving a config section that is not JSON fails here. ``--help`` and the CLI itself
import no torch; user errors end in one line and exit status 2.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest

from diffusion_classifier.cli import _EMPTY, _greedy, cli, main
from diffusion_classifier.stages import load_stages
from diffusion_classifier.stages._registry import docstring_args
from helpers.dry_run import dry_run_jobs_with_outputs

ROOT = Path(__file__).resolve().parents[1]


def _shell_commands(configfile: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """(rule, shell command, declared outputs) of every job of a dry run of ``configfile``."""
    return dry_run_jobs_with_outputs(configfile, "--config", "results=/tmp/dc-cli-dry-run")


def _output_words(words: list[str]) -> dict[str, list[str]]:
    """``--output*`` flag -> the words after it (a list flag takes several)."""
    flags: dict[str, list[str]] = {}
    current = None
    for word in words:
        if word.startswith("--"):
            current = word if word.startswith("--output") else None
            if current:
                flags[current] = []
        elif current:
            flags[current].append(word)
    return flags


def _stage_words(command: str) -> list[str]:
    """The words ``diffusion-classifier`` receives: up to the log redirection, shard arithmetic done."""
    words = shlex.split(command)
    words = words[:words.index(">")] if ">" in words else words
    return [str(int(w[6:-2])) if w.startswith("$((10#") else w for w in words]


def _parse(words: list[str]) -> click.Context:
    """Parse a subcommand's words as the console script would, without running the stage."""
    root = click.Context(cli, info_name="diffusion-classifier")
    command = cli.get_command(root, words[0])
    assert command is not None, f"unknown subcommand {words[0]!r}"
    return command.make_context(words[0], words[1:], parent=root)


@pytest.mark.parametrize("configfile", ["config/mini.yaml", "config/paper.yaml"])
def test_every_rule_command_parses_with_the_generated_cli(configfile):
    jobs = _shell_commands(configfile)
    assert len({rule for rule, _, _ in jobs}) >= 25, "the dry run printed too few rules"
    stages = load_stages()
    for rule, command, outputs in dict.fromkeys(jobs):
        words = _stage_words(command)
        # File names are decided once, in the rule: every output flag passes the rule's declared outputs.
        for flag, paths in _output_words(words).items():
            assert set(paths) <= set(outputs), (
                f"rule {rule}: {flag} {paths} is not among its declared outputs {outputs}")
        assert words[0] == "diffusion-classifier", f"{rule}: {command}"
        try:
            _parse(words[1:])
        except click.ClickException as exc:
            pytest.fail(f"rule {rule}: {exc.format_message()}\n{command}")
        spec = stages.get(words[1])
        assert ("--threads" in words) == spec.threads, (
            f"rule {rule}: {words[1]} {'takes' if spec.threads else 'does not take'} --threads")


def test_a_flag_the_stage_lacks_fails_to_parse():
    good = ["make-metrics", "--table-csvs", "a.csv", "b.csv", "--output", "m.json"]
    assert _parse(good).params == {"table_csvs": ("a.csv", "b.csv"), "output": "m.json", "detail": None}
    with pytest.raises(click.NoSuchOption):
        _parse([*good, "--out", "x"])
    with pytest.raises(click.MissingParameter):
        _parse(good[:1] + good[4:])
    with pytest.raises(click.BadParameter, match="JSON"):
        _parse(["make-table1", "--sources", "{", "--datasets", "a", "--output-md", "t.md", "--output-csv", "t.csv"])


def _words_for(param: click.Option) -> list[str]:
    """A value that parses for ``param``: a JSON object, a number, or a word, as many as it takes."""
    types = param.type.types if isinstance(param.type, click.Tuple) else [param.type] * max(param.nargs, 1)
    return [param.opts[0], *("{}" if t.name == "json" else "1" if t.name in ("integer", "float") else "x"
                              for t in types)]


@pytest.mark.parametrize("name", sorted(load_stages().names()))
def test_a_missing_required_option_stops_parsing_and_names_it(name):
    """Left out, each required option is click's usage error naming it, before the stage runs
    (click 8.3+ takes an explicit default=None as a value: a required option must have none)."""
    required = [p for p in cli.get_command(click.Context(cli), name).params if p.required]
    assert _parse([name, *(w for p in required for w in _words_for(p))]).params  # all given: parses
    for left_out in required:
        with pytest.raises(click.MissingParameter) as missing:
            _parse([name, *(w for p in required if p is not left_out for w in _words_for(p))])
        assert missing.value.param.name == left_out.name


def test_lists_are_the_words_after_their_flag():
    flags, options = {"--a"}, {"--a", "--b"}
    assert _greedy(["--a", "x", "y", "--b", "z"], flags, options) == ["--a", "x", "--a", "y", "--b", "z"]
    assert _greedy(["--a", "--b", "z"], flags, options) == ["--a", _EMPTY, "--b", "z"]
    ctx = _parse(["fit-effective-robustness", "--fit-name", "v2", "--robustness", "{}", "--zoo-summaries",
                  "z1", "z2", "--diffusion-summaries", "--output-models", "m.csv", "--output-parameters", "p.csv",
                  "--output-fit", "fit.json"])
    assert ctx.params["zoo_summaries"] == ("z1", "z2") and ctx.params["diffusion_summaries"] == []
    ctx = _parse(["schedule-study", "--shard-dirs", "s", "--study", "{}", "--output-md", "t.md", "--output-csv",
                  "t.csv", "--output-figure", "f.png", "--output-sequential", "seq.md", "seq.csv", "seq.png"])
    assert ctx.params["output_sequential"] == ("seq.md", "seq.csv", "seq.png")
    ctx = _parse(["classify", "--checkpoint", "m", "--images", "i", "--classes", "a", "b", "--output", "o.csv"])
    assert ctx.params["classes"] == ("a", "b") and ctx.params["prompts"] is None  # not given: the stage's default


def test_help_comes_from_the_docstring():
    assert docstring_args("""Do.

    Args:
        a, b: Two
            lines.
        c (int): Three.

    Returns:
        d: not an argument.
    """) == {"a": "Two lines.", "b": "Two lines.", "c": "Three."}
    help_text = _parse_help(["classify"])
    assert "Classify a folder of your own images" in help_text and "Candidate class names" in help_text


def test_top_help_fits_a_screen_and_leads_with_the_user_commands(capsys):
    """``--help`` shows what a user runs by hand (the stages the rules call are hidden,
    and listed by ``stages``): on one screen, the project described, with examples."""
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert len(lines) <= 40, text
    commands = [line.split()[0] for line in lines[lines.index("Commands:") + 1:] if line.startswith("  ") and
                not line.startswith("   ")]
    assert commands[0] == "classify" and set(commands) == {"classify", "list", "stages"}, commands
    assert "Examples:" in text and "score-shard" not in text and "rule" not in text
    assert main(["stages"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines()}
    assert "score-shard" in listed and "classify" not in listed and len(listed) > 30


@pytest.mark.parametrize("name", sorted(load_stages().names()))
def test_every_option_has_plain_help(name):
    """Every option of every command says what it takes, without reStructuredText markup;
    a list option says that it takes the words after its flag."""
    command = cli.get_command(click.Context(cli), name)
    for param in command.params:
        assert param.help and not param.help.startswith("("), f"{name} --{param.name}: no help"
        assert "``" not in param.help and ":func:" not in param.help, f"{name} --{param.name}: {param.help}"
        if getattr(param, "greedy", False):
            assert "several values" in param.help, f"{name} --{param.name}: {param.help}"
    assert "``" not in (command.help or "") and ":func:`" not in (command.help or "")


def _parse_help(words: list[str]) -> str:
    root = click.Context(cli, info_name="diffusion-classifier")
    command = cli.get_command(root, words[0])
    return command.get_help(command.make_context(words[0], ["--help"], parent=root, resilient_parsing=True))


def test_the_cli_and_help_import_no_torch():
    """``--help`` of every subcommand, and loading every stage, costs no ``import torch``."""
    code = ("import sys; from diffusion_classifier.cli import main; from diffusion_classifier.stages import "
            "load_stages; load_stages(); [main([name, '--help']) for name in load_stages().names()]; "
            "print('torch' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "False"


def test_threads_only_where_registered(capsys):
    assert main(["aggregate-scores", "--shard-dirs", "a", "--dataset-dir", "d", "--output-predictions", "p",
                 "--output-summary", "s", "--threads", "2"]) == 2
    assert "--threads" in capsys.readouterr().err
    assert "--threads" in _parse_help(["score-shard"])


def test_list_names_the_registries(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "sklearn_digits" in out and "stable_diffusion" in out and "l2" in out


def test_user_error_is_one_line_and_status_2(tmp_path, capsys):
    assert main(["download-dataset", "--source", "no_such_dataset", "--output-dir", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "no_such_dataset" in err[0]
    assert not (tmp_path / "d").exists()


def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    monkeypatch.delenv("DIFFUSION_CLASSIFIER_DEBUG", raising=False)
    with pytest.raises(ValueError, match="no_such_dataset"):
        main(["--debug", "download-dataset", "--source", "no_such_dataset", "--output-dir", str(tmp_path / "d")])


def test_a_table_is_written_to_the_paths_the_rule_declares(tmp_path):
    from diffusion_classifier.errors import UserError
    from diffusion_classifier.stages._outputs import table_stem

    assert table_stem(tmp_path / "t4.md", tmp_path / "t4.csv") == tmp_path / "t4"
    for md, csv in ((tmp_path / "t4.md", tmp_path / "other.csv"), (tmp_path / "t4.txt", tmp_path / "t4.csv")):
        with pytest.raises(UserError, match="--output-md"):
            table_stem(md, csv)
