"""The console script: every rule's subcommand exists, takes the arguments the rule gives it,
and user errors end in one line and exit status 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from diffusion_classifier.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
RULE_FILES = sorted((ROOT / "workflow" / "rules").glob("*.smk"))


def _subcommands() -> dict[str, bool]:
    """Registered subcommand -> whether it takes --threads."""
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    return {name: any("--threads" in a.option_strings for a in p._actions) for name, p in sub.choices.items()}


def _rule_calls() -> list[tuple[str, str, bool]]:
    """(rule file, subcommand, passes --threads) for every shell command of the workflow."""
    calls = []
    for path in RULE_FILES:
        text = path.read_text()
        for block in re.split(r"\n(?=rule |    rule )", text):
            for name in re.findall(r'"diffusion-classifier ([a-z0-9-]+)', block):
                calls.append((path.name, name, re.search(r"--threads {threads(:q)?}", block) is not None))
    return calls


def test_every_rule_calls_a_registered_subcommand_with_its_thread_flag():
    commands = _subcommands()
    calls = _rule_calls()
    assert len(calls) >= 25, "the rule files were not parsed"
    for rule_file, name, passes_threads in calls:
        assert name in commands, f"{rule_file} calls unknown subcommand {name!r}"
        assert passes_threads == commands[name], (
            f"{rule_file}: {name} {'passes' if passes_threads else 'does not pass'} --threads "
            f"but the subcommand {'does not take' if passes_threads else 'takes'} it")


def test_threads_only_where_registered(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["aggregate-scores", "--shards", "a", "--dataset", "d",
                                   "--predictions", "p", "--summary", "s", "--threads", "2"])
    args = build_parser().parse_args(["download-dataset", "--source", "digits", "--out", "x"])
    assert not args.command_spec.threads


def test_list_names_the_registries(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "sklearn_digits" in out and "stable_diffusion" in out and "l2" in out


def test_user_error_is_one_line_and_status_2(tmp_path, capsys):
    assert main(["download-dataset", "--source", "no_such_dataset", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "no_such_dataset" in err[0]
    assert not (tmp_path / "d").exists()
