"""The workflow's config schema, generated from the config dataclasses.

``python -m diffusion_classifier.config_schema > workflow/schemas/config.schema.yaml``
writes it, and ``python -m diffusion_classifier.config_schema --markdown > config/README.md``
the reference of every key a reader looks up (:func:`render_markdown`); tests/test_config_schema.py
checks that both committed files are this output. The
dataclasses (:class:`~.workflow_config.WorkflowConfig` and the sections it holds) are the one home of
every key, type, default, range and description: pydantic's JSON-schema generator reads their
annotations (constraints from :mod:`.config`'s vocabulary), and this module adds

* ``additionalProperties: false`` on every section, so that a misspelt key fails at start;
* each field's description, from the ``Attributes:`` of its class's docstring;
* the defaults Snakemake's ``validate`` fills into the config the rules read: a field's
  default or its factory's value, except ``None`` (absent and null mean the same) and the
  fields made with :func:`~.config.unfilled` (their default goes into the description).
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from typing import Any

import yaml
from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema

__all__ = ["generate", "render", "render_markdown", "field_docs"]

HEADER = ("# Generated from the config dataclasses (diffusion_classifier.workflow_config.WorkflowConfig): "
          "do not edit.\n"
          "# python -m diffusion_classifier.config_schema > workflow/schemas/config.schema.yaml\n")

_ROLE = re.compile(r":[a-z]+:`(~?)\.?([^`]+)`")


def _plain(text: str) -> str:
    """Docstring markup as plain text on one line: ``x`` -> x, :class:`~a.b.C` -> C, :mod:`a.b` -> a.b."""
    text = _ROLE.sub(lambda m: m.group(2).rsplit(".", 1)[-1] if m.group(1) else m.group(2), text)
    return " ".join(text.replace("``", "").split())


def field_docs(cls: type) -> tuple[str, dict[str, str]]:
    """(summary, field -> description) from the docstrings (Google style ``Attributes:``) of
    ``cls`` and of the dataclasses it inherits fields from."""
    docs = {}
    for base in reversed(cls.__mro__):
        if dataclasses.is_dataclass(base) and base.__doc__:
            docs.update(_docstring(base.__doc__)[1])
    return _docstring(cls.__doc__ or "")[0], docs


def _docstring(doc: str) -> tuple[str, dict[str, str]]:
    """(first paragraph, field -> description) of one docstring."""
    summary, docs, names, indent, part = [], {}, [], None, "summary"
    for line in doc.expandtabs().splitlines():
        stripped = line.strip()
        if stripped == "Attributes:":
            part = "attributes"
        elif part == "summary" and (stripped or not summary):
            summary.append(stripped)
        elif part == "summary":
            part = "body"  # the first paragraph ended: read nothing more until the Attributes
        if part != "attributes" or not stripped or stripped == "Attributes:":
            continue
        width = len(line) - len(line.lstrip())
        match = re.match(r"([A-Za-z_][\w, ]*):\s*(.*)", stripped)
        if match and (indent is None or width <= indent):
            indent = width
            names = [name.strip() for name in match.group(1).split(",")]
            for name in names:
                docs[name] = match.group(2)
        elif names and width > (indent or 0):
            for name in names:
                docs[name] += " " + stripped
    return _plain(" ".join(summary)), {k: _plain(v) for k, v in docs.items()}


def _default(field: dataclasses.Field) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def _json(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    return value


class _Generator(GenerateJsonSchema):
    """pydantic's generator, with closed sections, descriptions and the filled defaults."""

    def sort(self, value, parent_key=None):
        """Keys as written: fields in their dataclass's order."""
        return value

    def dataclass_schema(self, schema):
        out = super().dataclass_schema(schema)
        cls = schema["cls"]
        summary, docs = field_docs(cls)
        out.pop("title", None)
        out.pop("description", None)  # pydantic's: the whole docstring
        out["additionalProperties"] = False
        if summary:
            out["description"] = summary
        properties = out.get("properties", {})
        for field in dataclasses.fields(cls):
            if field.name not in properties:
                continue
            prop = properties[field.name]
            if not field.metadata.get("null", True) and "anyOf" in prop:
                options = [o for o in prop.pop("anyOf") if o != {"type": "null"}]
                prop.update(options[0] if len(options) == 1 else {"anyOf": options})
            prop.pop("title", None)
            prop.pop("default", None)
            description = docs.get(field.name, "")
            default = _default(field)
            if default is not dataclasses.MISSING and default is not None:
                if field.metadata.get("fill", True):
                    prop["default"] = _json(default)
                else:
                    description = f"{description} (default {_json(default)!r}: applied by the stage, not filled in)"
            if description:
                prop["description"] = description.strip()
        order = ["type", "description", "properties", "required", "additionalProperties"]
        return {**{k: out[k] for k in order if k in out}, **{k: v for k, v in out.items() if k not in order}}


def _tidy(node: Any) -> Any:
    """Drop pydantic's titles (the descriptions say it), and close the mappings whose keys are
    names: ``patternProperties`` (other keys allowed) -> ``propertyNames`` (other keys refused)."""
    if isinstance(node, dict):
        node = dict(node)
        if "patternProperties" in node and "additionalProperties" not in node:
            [(pattern, value)] = node.pop("patternProperties").items()
            node["propertyNames"] = {"pattern": pattern}
            node["additionalProperties"] = value
        return {k: _tidy(v) for k, v in node.items() if k != "title" or not isinstance(v, str)}
    if isinstance(node, list):
        return [_tidy(v) for v in node]
    return node


def generate() -> dict[str, Any]:
    """The JSON schema (draft 2020-12) of :class:`~.workflow_config.WorkflowConfig`."""
    from .workflow_config import WorkflowConfig

    schema = _tidy(TypeAdapter(WorkflowConfig).json_schema(schema_generator=_Generator))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


class _Dumper(yaml.SafeDumper):
    """Block style for sections, flow style for the short leaves (``{type: integer, minimum: 1}``)."""


def _is_leaf(value: Any) -> bool:
    scalar = (str, int, float, bool, type(None))
    if isinstance(value, list):
        return all(isinstance(v, scalar) or (isinstance(v, dict) and _is_leaf(v)) for v in value)
    return isinstance(value, dict) and all(isinstance(v, scalar) or (isinstance(v, list) and _is_leaf(v))
                                           for v in value.values()) and len(str(value)) <= 100


def _represent_dict(dumper: yaml.SafeDumper, value: dict) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value.items(), flow_style=_is_leaf(value))


def _represent_list(dumper: yaml.SafeDumper, value: list) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=_is_leaf(value))


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, _represent_list)


def render() -> str:
    """The schema as the committed YAML file."""
    return HEADER + yaml.dump(generate(), Dumper=_Dumper, sort_keys=False, width=110, allow_unicode=True)


MARKDOWN_HEADER = """# Configuration keys

Every key of a workflow config (`config/mini.yaml`, the embedded run; `config/paper.yaml`, the
paper's scale), with its type, default and meaning. Snakemake checks a config against the same
schema at start (`workflow/schemas/config.schema.yaml`): a misspelt key or a value out of range
stops the run before any job. `<name>` stands for a name you choose (a dataset's, a model's), `[]`
for each item of a list.

Generated from the config dataclasses' docstrings (`diffusion_classifier.workflow_config`): do not
edit; `python -m diffusion_classifier.config_schema --markdown > config/README.md` regenerates it.
"""


def _type(node: dict[str, Any]) -> str:
    """A key's type in words: ``integer >= 1``, ``one of portable, native``, ``list of string``."""
    if "$ref" in node:
        return "section"
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    if "anyOf" in node:
        return " or ".join(_type(option) for option in node["anyOf"])
    kind = node.get("type", "any")
    if kind == "array":
        return f"list of {_type(node.get('items', {}))}"
    if kind == "object" and "additionalProperties" in node and isinstance(node["additionalProperties"], dict):
        return f"mapping name -> {_type(node['additionalProperties'])}"
    bounds = [f"{sign} {node[key]}" for key, sign in (("minimum", ">="), ("exclusiveMinimum", ">"),
                                                        ("maximum", "<="), ("exclusiveMaximum", "<"))
              if key in node]
    return " ".join([kind, *bounds])


def _markdown_keys(node: dict[str, Any], path: str, defs: dict[str, Any], seen: tuple[str, ...],
                   out: list[str]) -> None:
    """Append one line per key under ``node`` (a section's schema), depth first."""
    for key, prop in node.get("properties", {}).items():
        _markdown_key(prop, f"{path}.{key}" if path else key, defs, seen, out,
                      required=key in node.get("required", ()))


def _markdown_key(prop: dict[str, Any], path: str, defs: dict[str, Any], seen: tuple[str, ...], out: list[str],
                  required: bool = False) -> None:
    details = [_type(prop)]
    if "default" in prop:
        details.append(f"default `{json.dumps(prop['default'])}`")
    if required:
        details.append("required")
    description = " ".join(str(prop.get("description", "")).split())
    out.append(f"- `{path}` ({'; '.join(details)}): {description}".rstrip(": ") + "\n")
    for child, suffix in _children(prop):
        ref = child.get("$ref", "").rsplit("/", 1)[-1]
        if ref and ref not in seen:
            _markdown_keys(defs[ref], path + suffix, defs, (*seen, ref), out)


def _children(prop: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """The sub-schemas of a key whose keys are documented below it, and their path suffix."""
    children = [(prop, "")]
    if isinstance(prop.get("additionalProperties"), dict):
        children.append((prop["additionalProperties"], ".<name>"))
    if isinstance(prop.get("items"), dict):
        children.append((prop["items"], "[]"))
    children += [(option, "") for option in prop.get("anyOf", ())]
    return children


def render_markdown() -> str:
    """``config/README.md``: every key of the config, a section per top-level key."""
    schema = generate()
    defs = schema.get("$defs", {})
    parts = [MARKDOWN_HEADER]
    for key, prop in schema["properties"].items():
        lines: list[str] = []
        _markdown_key(prop, key, defs, (), lines, required=key in schema.get("required", ()))
        parts.append(f"\n## `{key}`\n\n" + "".join(lines))
    return "".join(parts)


if __name__ == "__main__":
    sys.stdout.write(render_markdown() if sys.argv[1:] == ["--markdown"] else render())
