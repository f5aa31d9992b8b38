"""``diffusion-classifier``: the console script of users' commands and of the workflow's stages.

``--help`` shows the commands a user runs by hand (``classify``, ``list``, ``stages``);
the workflow's stages, which the Snakemake rules call by name, are hidden there and
listed by ``diffusion-classifier stages``. Every stage subcommand is generated (with click) from one stage function registered with
:func:`diffusion_classifier.stages.stage`: parameter ``dataset_dir`` is option
``--dataset-dir``, its type hint decides the parsing and its ``Args:`` entry the help,
so an argument is written once, in the stage. The flag vocabulary follows the
parameter names:

- inputs: ``--*-dir`` a directory, ``--*-path(s)`` a file, ``--checkpoint`` a model
  directory or hub id, ``--model-name`` / ``--dataset-name`` names from the config;
- outputs: ``--output`` the one output file, ``--output-dir`` the one output directory,
  ``--output-<what>`` each of several outputs (``--output-predictions``,
  ``--output-summary``, a table's ``--output-md`` and ``--output-csv``, ...): the rule
  passes each as ``{output.name}``, so file names are decided once, in the rule;
- config sections (``--model``, ``--strategy``, ``--names``, ...) are JSON, so a rule
  passes exactly the part of the config its job depends on;
- a list is the words after its flag (``--shard-dirs a b c``), as a rule's
  ``{input.x:q}`` writes it.

Help text is plain (no reStructuredText), and every option has some: the stage's
``Args:`` entry, else the shared vocabulary (:data:`~.stages.COMMON_ARGS`).
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import sys
import types
import typing
from pathlib import Path
from typing import Any, Sequence

import click

from . import numerics
from .errors import UserError
from .stages import Stage, load_stages
from .stages._registry import plain

__all__ = ["main", "build_cli", "DEBUG_ENV"]

#: Environment variable that turns on ``--debug`` (tracebacks) for every subcommand.
DEBUG_ENV = "DIFFUSION_CLASSIFIER_DEBUG"
_PATHS = (str, Path)


class JsonType(click.ParamType):
    """A JSON value (a config section) given as one word."""

    name = "json"

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            self.fail(f"not valid JSON ({exc}): {value[:80]}", param, ctx)


JSON = JsonType()


def _without_none(hint) -> tuple[Any, bool]:
    """``(hint without None, whether None was allowed)``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) < len(typing.get_args(hint)):
            return (args[0] if len(args) == 1 else typing.Union[tuple(args)]), True
    return hint, False


def _scalar(hint) -> click.ParamType | None:
    """The click type of a one-word value: text/paths, int, float; None if it is not one."""
    if hint in (int, float):
        return click.INT if hint is int else click.FLOAT
    if hint in _PATHS or (typing.get_origin(hint) in (typing.Union, types.UnionType)
                          and set(typing.get_args(hint)) <= set(_PATHS)):
        return click.STRING  # stages take str | Path; the word is passed as given
    return None


#: Stands for "the flag, with no words after it" (an empty list); argv cannot hold a NUL.
_EMPTY = "\0"


class _Option(click.Option):
    """A click option that remembers how the stage wants its value (list or tuple)."""

    def __init__(self, *args, container: type | None = None, greedy: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.container = container
        self.greedy = greedy

    def process_value(self, ctx: click.Context, value):
        given = isinstance(value, (tuple, list)) and len(value) > 0  # click's "not given" is a sentinel
        if self.greedy and given and all(v == _EMPTY for v in value):
            return self.container()  # given with no words: an empty list, even where required
        if self.greedy and not given and not self.required:
            return self.default  # not given: the stage's own default (None stays None)
        return super().process_value(ctx, value)


#: Appended to the help of a list option (click takes one word per flag otherwise).
LIST_HELP = "(several values: the words after the flag)"


def _option(param: inspect.Parameter, hint, help: str) -> click.Option:
    """One ``--flag`` for one stage parameter, from its type hint and default."""
    flag = "--" + param.name.replace("_", "-")
    json_help = help or f"The {param.name} config section."
    required = param.default is inspect.Parameter.empty
    default = None if required else param.default
    hint, _ = _without_none(hint)
    kwargs: dict[str, Any] = {"required": required, "help": help, "show_default": default not in (None, (), [])}
    if not required:  # a required option gets no default at all: click (8.3+) takes default=None as a value
        kwargs["default"] = default
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return _Option([f"{flag}/--no-{flag[2:]}"], **{**kwargs, "default": bool(default)})
    if _scalar(hint) is not None:
        return _Option([flag], type=_scalar(hint), **kwargs)
    if origin in (list, tuple, Sequence, typing.Sequence) or hint in (list, tuple):
        container = tuple if origin is tuple or hint is tuple else list
        if origin is tuple and args and args[-1] is not Ellipsis:  # fixed length: tuple[str, str]
            if all(_scalar(a) is not None for a in args):
                return _Option([flag], type=tuple(_scalar(a) for a in args), nargs=len(args), container=tuple,
                               **kwargs)
        elif args and _scalar(args[0]) is not None:  # list[str], tuple[int, ...]: the words after the flag
            kwargs["help"] = f"{help} {LIST_HELP}".strip()
            return _Option([flag], type=_scalar(args[0]), multiple=True, container=container, greedy=True, **kwargs)
    return _Option([flag], type=JSON, **{**kwargs, "help": f"{json_help} (JSON)"})  # dict, list[dict], ...


def _greedy(args: list[str], flags: set[str], options: set[str]) -> list[str]:
    """``--a x y --b z`` -> ``--a x --a y --b z`` for the list flags ``flags``.

    click takes one word per option occurrence; a rule writes a list as the words after
    its flag (``{input.shards:q}``). A word that is one of the command's options, or
    starts with ``--``, ends the list; the flag with no words is an empty list.
    """
    out: list[str] = []
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if word not in flags:
            out.append(word)
            continue
        start = len(out)
        while i < len(args) and args[i] not in options and not args[i].startswith("--"):
            out += [word, args[i]]
            i += 1
        if len(out) == start:
            out += [word, _EMPTY]
    return out


class StageCommand(click.Command):
    """The subcommand of one stage: parses its options and calls the stage function."""

    def __init__(self, spec: Stage):
        self.spec = spec
        hints = typing.get_type_hints(spec.function)
        docs = spec.param_help
        params = [_option(p, hints.get(p.name, str), docs.get(p.name, ""))
                  for p in inspect.signature(spec.function).parameters.values()]
        if spec.threads:
            params.append(click.Option(["--threads"], type=click.INT, default=0, show_default=True,
                                       help="Torch threads (0: one thread with portable numerics, else torch's "
                                            "default)."))
        super().__init__(spec.name, params=params, callback=self._run, help=spec.help, short_help=spec.help,
                         hidden=not spec.user)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        flags = {o for p in self.params if getattr(p, "greedy", False) for o in p.opts}
        options = {o for p in self.params for o in p.opts + p.secondary_opts} | {"--help"}
        return super().parse_args(ctx, _greedy(list(args), flags, options))

    def _run(self, **values) -> None:
        threads = values.pop("threads", 0)
        for param in self.params:
            value = values.get(param.name)
            if getattr(param, "container", None) is not None and value is not None:
                values[param.name] = param.container(value)
        ctx = click.get_current_context()
        try:
            if self.spec.threads:
                numerics.configure_torch(threads)
            self.spec.function(**values)
        except (UserError, ValueError, OSError) as exc:
            # A failure the user can fix: one line naming the file or key and the fix.
            if ctx.find_root().params.get("debug") or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
                raise
            click.echo(f"error: {_one_line(exc)}", err=True)
            ctx.exit(2)


class _Cli(click.Group):
    """The console script; subcommands are loaded from the stage registry when first asked for."""

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *load_stages().names()})

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is None and name in load_stages():
            command = StageCommand(load_stages().get(name))
        return command


_HELP = """Diffusion Classifier (Li et al., ICCV 2023): zero-shot image classification with a
diffusion model, by the class whose conditioning best predicts the noise added to the image.

\b
Examples:
  diffusion-classifier classify --checkpoint stabilityai/stable-diffusion-2-base \\
      --images my_images/ --classes cat dog --template "a photo of a {}." --output preds.csv
  diffusion-classifier classify --checkpoint facebook/DiT-XL-2-256 --images my_images/ \\
      --classes tench goldfish --class-ids 0 1 --output dit.csv
  diffusion-classifier classify --help

The workflow's stages (run by Snakemake) are hidden here: 'diffusion-classifier stages' lists them.
"""


@click.group(cls=_Cli, help=_HELP, context_settings={"max_content_width": 100})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.option("--debug", is_flag=True, help=f"Show the traceback of an error (also: {DEBUG_ENV}=1).")
def cli(verbose: bool, debug: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@cli.command("stages", short_help="List the workflow's stages (hidden above; each has --help).")
def list_stages() -> None:
    """List the workflow's stages (the Snakemake rules call them; each has --help)."""
    stages = load_stages()
    width = max(len(name) for name in stages.names())
    for name in sorted(stages.names()):
        if not stages.get(name).user:
            click.echo(f"  {name:<{width}}  {stages.get(name).help}")


@cli.command("list", short_help="List the registered datasets, adapters, architectures, objectives.")
def list_registries() -> None:
    """List registered datasets, adapters, architectures and objectives."""
    from .data import list_datasets
    from .engine import list_objectives
    from .models import list_adapters
    from .models.architectures import list_architectures

    for title, names in (("datasets", list_datasets()), ("adapters", list_adapters()),
                         ("architectures", list_architectures()), ("objectives", list_objectives())):
        print(f"{title}: {', '.join(names)}")


def build_cli() -> click.Group:
    """The click group of the console script (for tests: ``make_context`` parses a rule's words)."""
    return cli


def main(argv: list[str] | None = None) -> int:
    """Run the console script; a user error is one line on stderr and exit status 2.

    The numerics mode (:data:`~diffusion_classifier.numerics.MODE_ENV`, portable unless
    set) is pinned first, before any subcommand imports torch or numpy.
    """
    try:
        numerics.pin()
    except UserError as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    try:
        return cli.main(args=argv, prog_name="diffusion-classifier", standalone_mode=False) or 0
    except click.UsageError as exc:  # a missing or unknown option: one line naming it, status 2
        command = exc.ctx.command_path if exc.ctx is not None else "diffusion-classifier"
        click.echo(f"error: {_one_line(exc.format_message())} (see {command} --help)", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        return 1


def _one_line(exc: BaseException | str) -> str:
    """The error as one line; a third-party error keeps its type and points at ``--debug``."""
    if isinstance(exc, str):
        text = exc
    elif isinstance(exc, OSError) and not isinstance(exc, UserError) and exc.filename and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}"  # permission denied, disk full, ...: names the file
    elif isinstance(exc, UserError) or type(exc) in (ValueError, FileNotFoundError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc} (run with --debug for the traceback)"
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
