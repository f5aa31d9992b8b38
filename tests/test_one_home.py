"""Each setting's default is written once (issue 21: "each setting stated once").

The config dataclasses are the defaults' home (the workflow's schema is generated from them,
tests/test_config_schema.py); every other place that needs one names it (``ScoringSpec.batch_size``,
``engine.batching.BATCH_SIZE``) instead of writing the number again. This test finds every literal
default in the package and the rules: dataclass fields, function parameters, module constants,
``field(default=...)`` / ``unfilled(default=...)`` and the rules' ``.get(key, default)``.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src/diffusion_classifier"


_NAMED = object()  # a default that names its value (an attribute, a call) rather than writing it


def _literal(node):
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return _NAMED


def _defaults(path: Path):
    """(name, value, 'file:qualname') of every literal default written in a module."""
    where = str(path.relative_to(SRC))
    found = []

    def visit(node, scope):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, scope + [child.name])
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = child.args
                positional = args.posonlyargs + args.args
                pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults))
                pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
                qualname = ".".join(scope + [child.name])
                found.extend((arg.arg, _literal(d), f"{where}:{qualname}({arg.arg})") for arg, d in pairs)
                visit(child, scope + [child.name])
            elif isinstance(child, (ast.AnnAssign, ast.Assign)) and child.value is not None:
                targets = [child.target] if isinstance(child, ast.AnnAssign) else child.targets
                value = child.value
                if isinstance(value, ast.Call) and getattr(value.func, "id", None) in ("field", "unfilled"):
                    value = next((k.value for k in value.keywords if k.arg == "default"), None)
                found.extend((t.id, _literal(value), f"{where}:{'.'.join(scope + [t.id])}")
                             for t in targets if isinstance(t, ast.Name) and value is not None)

    visit(ast.parse(path.read_text()), [])
    return found


def _all_defaults():
    return [entry for path in sorted(SRC.rglob("*.py")) for entry in _defaults(path)]


#: setting -> (its default, the one place it is written, the places that carry it by name).
KNOWN = {
    "scoring.batch_size": (256, "engine/batching.py:BATCH_SIZE", [
        "specs.py:ScoringSpec.batch_size", "engine/scoring.py:ScoringConfig.batch_size",
        "engine/batching.py:AutoBatch.fixed", "classify.py:ZeroShotClassifier.load(batch_size)",
        "stages/classify.py:classify(batch_size)"]),
    "noise_pairing.batch_size": (250, "specs.py:NoisePairingSpec.batch_size", [
        "stages/noise_pairing.py:error_curves(batch_size)"]),
    "audit.batch_size": (32, "audit/config.py:AuditConfig.batch_size", ["specs.py:AuditSpec.batch_size"]),
    "zoo.settings.*.batch_size": (256, "specs.py:EvaluationSetting.batch_size", [
        "baselines/zoo_evaluation.py:evaluate_classifier(batch_size)"]),
    "prompt_tables.dir": ("data/raw/prompts", "workflow_config.py:PromptTablesSpec.dir", []),
}


@pytest.mark.parametrize("setting", sorted(KNOWN))
def test_a_known_default_is_written_once(setting):
    value, home, carriers = KNOWN[setting]
    literals = {where: literal for _, literal, where in _all_defaults() if literal is not _NAMED}
    assert literals.get(home) == value, f"{setting}: its default {value!r} is no longer written at {home}"
    restated = [where for where in carriers if where in literals]
    assert not restated, f"{setting}: default written again at {restated}; name {home} there instead"
    if isinstance(value, str):
        rules = "\n".join(p.read_text() for p in [ROOT / "Snakefile", *(ROOT / "workflow/rules").glob("*.smk")])
        assert f"'{value}'" not in rules and f'"{value}"' not in rules, f"{setting}: the rules write {value!r}"


def test_the_finder_sees_the_kinds_of_default_it_checks():
    found = {where for _, _, where in _all_defaults()}
    assert "engine/batching.py:BATCH_SIZE" in found  # a module constant
    assert "specs.py:ScoringSpec.checkpoint_every" in found  # a dataclass field
    assert "specs.py:ClipModelSpec.label" in found  # unfilled(default=...)
    assert "engine/batching.py:AutoBatch.trial" in found


def test_the_rules_restate_no_default_the_schema_fills():
    """``config.get(key, default)`` in the rules where the schema fills the key: the default twice."""
    from diffusion_classifier import config_schema

    filled = {}  # key -> the defaults the schema gives keys of that name

    def walk(node):
        if isinstance(node, dict):
            for key, prop in (node.get("properties") or {}).items():
                if isinstance(prop, dict) and "default" in prop:
                    filled.setdefault(key, []).append(prop["default"])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(config_schema.generate())
    rules = [ROOT / "Snakefile", *sorted((ROOT / "workflow/rules").glob("*.smk"))]
    restated = []
    for path in rules:
        for call in re.finditer(r"""\.get\(\s*["'](\w+)["']\s*,\s*([^()]+?)\)""", path.read_text()):
            try:
                default = ast.literal_eval(call.group(2))
            except (ValueError, SyntaxError):
                continue
            if default in filled.get(call.group(1), []):
                restated.append(f"{path.name}: {call.group(0)}")
    assert not restated, f"defaults the schema fills, restated in the rules: {restated}"
