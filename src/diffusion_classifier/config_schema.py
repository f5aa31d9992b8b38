"""The workflow's config schema, generated from the config dataclasses.

``python -m diffusion_classifier.config_schema > workflow/schemas/config.schema.yaml``
writes it; tests/test_config_schema.py checks that the committed file is this output. The
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
import re
import sys
from typing import Any

import yaml
from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema

__all__ = ["generate", "render", "field_docs"]

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


if __name__ == "__main__":
    sys.stdout.write(render())
