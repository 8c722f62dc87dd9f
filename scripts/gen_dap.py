"""Regenerate src/buildg_dap/_dap from the Debug Adapter Protocol JSON schema.

The DAP server parses and builds its messages with pydantic models; the protocol has
about two hundred message and data types, so they are derived from the official schema
rather than written by hand. The schema (a copy of microsoft's debugAdapterProtocol.json)
is read from a pinned go-dap release in the Go module cache and must match a pinned
sha256, so regenerating is reproducible. ``--check`` compares instead of writing, for
the staleness test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import keyword
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "buildg_dap" / "_dap"
MODULE = "github.com/google/go-dap"
VERSION = "v0.12.0"
SCHEMA_IN_MODULE = "cmd/gentypes/debugProtocol.json"
SCHEMA_SHA256 = "28feb08ccf7858002b03e6ee9fb015ed011ea26b7c4d933dfe2eede13247d626"

BASE = "DAPModel"
WIDTH = 100
# A property typed as every JSON type at once is "anything".
_ANY_JSON = {"array", "boolean", "integer", "null", "number", "object", "string"}
_SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}
# "e.g." and "i.e." end no sentence.
_SENTENCE_END = re.compile(r"(?<!e\.g)(?<!i\.e)\.(\s|$)")

Schema = dict[str, Any]


# --- locating the schema ---------------------------------------------------------------


def _go_env(name: str) -> str:
    if os.environ.get(name):
        return os.environ[name]
    if shutil.which("go") is None:
        return ""
    done = subprocess.run(["go", "env", name], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def _module_dir() -> Path:
    cache = _go_env("GOMODCACHE") or str(Path.home() / "go" / "pkg" / "mod")
    cached = Path(cache) / f"{MODULE}@{VERSION}"
    if (cached / SCHEMA_IN_MODULE).is_file():
        return cached
    if shutil.which("go") is None:
        raise SystemExit(f"{MODULE}@{VERSION} is not in {cache} and there is no `go` to fetch it")
    # Outside any module, so the download cannot touch a go.mod.
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            ["go", "mod", "download", "-json", f"{MODULE}@{VERSION}"],
            cwd=tmp, capture_output=True, text=True, check=False,
            env={**os.environ, "GOFLAGS": "-mod=mod"},
        )
    if done.returncode:
        raise SystemExit(f"go mod download {MODULE}@{VERSION} failed:\n{done.stdout}{done.stderr}")
    return Path(json.loads(done.stdout)["Dir"])


def load_schema() -> Schema:
    path = _module_dir() / SCHEMA_IN_MODULE
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SCHEMA_SHA256:
        raise SystemExit(
            f"{path} has sha256 {digest}, but {MODULE} {VERSION} is pinned to {SCHEMA_SHA256};"
            " refusing to generate from a different schema (update the pins deliberately)"
        )
    schema: Schema = json.loads(data)
    return schema


# --- code generation ---------------------------------------------------------------------


def _summary(description: str | None) -> str:
    """The first sentence of the first line: the schema's descriptions run to paragraphs."""
    if not description:
        return ""
    line = description.strip().splitlines()[0].strip()
    end = _SENTENCE_END.search(line)
    text = line[: end.start() + 1] if end else line
    if text.endswith(":"):
        # A list follows; the lead-in alone still reads as a sentence.
        text = text[:-1] + "."
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def _docstring(text: str, indent: str) -> list[str]:
    if text.endswith('"'):
        text = text[:-1] + '\\"'
    one = f'{indent}"""{text}"""'
    if len(one) <= WIDTH:
        return [one]
    body = textwrap.wrap(text, WIDTH - len(indent) - 3, break_on_hyphens=False)
    return [f'{indent}"""{body[0]}', *(indent + line for line in body[1:]), f'{indent}"""']


def _literal(values: list[str]) -> str:
    return "Literal[" + ", ".join(json.dumps(v) for v in values) + "]"


def _ref(schema: Schema) -> str:
    return str(schema["$ref"]).rsplit("/", 1)[-1]


def _py_name(name: str, taken: set[str]) -> str:
    # `__restart` would be name-mangled (and pydantic makes `_x` private), keywords are
    # invalid, and a field named like a pydantic attribute or a type used in annotations
    # would shadow it; all of these keep their wire name as an alias.
    py = name.lstrip("_")
    if py != name or keyword.iskeyword(py) or py in taken:
        py += "_"
    if not py.isidentifier():
        raise SystemExit(f"cannot name a field {name!r}")
    return py


@dataclass
class _Field:
    name: str
    annotation: str
    required: bool
    constant: str | None = None


@dataclass
class _Class:
    name: str
    base: str
    doc: str
    fields: list[_Field] = field(default_factory=list)


class Generator:
    def __init__(self, schema: Schema) -> None:
        self.defs: dict[str, Schema] = schema["definitions"]
        self.blocks: list[list[str]] = []
        self.taken = {*dir(BaseModel), *_SCALARS.values(), "Any", "Literal", "Field", "list",
                      "dict", BASE, *self.defs}

    def _parts(self, name: str) -> tuple[str, Schema]:
        """The base class and this definition's own object schema."""
        schema = self.defs[name]
        if "allOf" not in schema:
            return BASE, schema
        base, own = schema["allOf"]
        return _ref(base), own

    def _required(self, name: str) -> set[str]:
        # allOf is a conjunction: a property required anywhere up the chain stays required.
        base, own = self._parts(name)
        inherited = self._required(base) if base != BASE else set()
        return inherited | set(own.get("required", []))

    def _type(self, schema: Schema, owner: str, prop: str) -> str:
        if "$ref" in schema:
            return _ref(schema)
        if "oneOf" in schema:
            return " | ".join(self._type(s, owner, prop) for s in schema["oneOf"])
        if "enum" in schema:
            return _literal(schema["enum"])
        kind = schema.get("type")
        if isinstance(kind, list):
            if set(kind) >= _ANY_JSON:
                return "Any"
            names = [self._type({"type": k}, owner, prop) for k in kind if k != "null"]
            return " | ".join(names + ["None"] * ("null" in kind))
        if kind == "array":
            return f"list[{self._type(schema['items'], owner, prop)}]"
        if kind == "object":
            if "properties" in schema:
                nested = owner + prop[:1].upper() + prop[1:]
                self._emit_class(_Class(nested, BASE, f"``{owner}.{prop}``."),
                                 schema, set(schema.get("required", [])))
                return nested
            values = schema.get("additionalProperties", True)
            value = "Any" if values is True else self._type(values, owner, prop)
            return f"dict[str, {value}]"
        if kind in _SCALARS:
            return _SCALARS[kind]
        raise SystemExit(f"{owner}.{prop}: unsupported schema {json.dumps(schema)[:200]}")

    def _emit_class(self, cls: _Class, own: Schema, required: set[str]) -> None:
        for prop, schema in own.get("properties", {}).items():
            annotation = self._type(schema, cls.name, prop)
            enum = schema.get("enum", [])
            constant = json.dumps(enum[0]) if len(enum) == 1 else None
            cls.fields.append(_Field(prop, annotation, prop in required, constant))
        self.blocks.append(self._render(cls))

    def _render(self, cls: _Class) -> list[str]:
        lines = [f"class {cls.name}({cls.base}):"]
        if cls.doc:
            lines += _docstring(cls.doc, "    ")
        if cls.doc and cls.fields:
            lines.append("")
        for f in cls.fields:
            lines.append(self._field_line(f))
        if len(lines) == 1:
            lines.append("    pass")
        return lines

    def _field_line(self, f: _Field) -> str:
        py = _py_name(f.name, self.taken)
        annotation = f.annotation
        default: str | None = None
        if f.constant is not None and f.required:
            # A single-valued enum (`type`, `command`, `event`) is a constant: defaulting it
            # lets code build messages without repeating the discriminator.
            default = f.constant
        elif not f.required:
            default = "None"
            if annotation != "Any" and not annotation.endswith("| None"):
                annotation += " | None"
        if py != f.name:
            args = ([f"default={default}"] if default is not None else []) + [
                f"alias={json.dumps(f.name)}"
            ]
            default = f"Field({', '.join(args)})"
        line = f"    {py}: {annotation}" + (f" = {default}" if default is not None else "")
        if len(line) <= WIDTH:
            return line
        return f"    {py}: (\n        {annotation}\n    )" + (
            f" = {default}" if default is not None else ""
        )

    def _emit_definition(self, name: str) -> None:
        schema = self.defs[name]
        if schema.get("type") == "string":
            lines = [f"# {line}" for line in textwrap.wrap(_summary(schema.get("description")),
                                                            WIDTH - 2)]
            if "enum" in schema:
                alias = _literal(schema["enum"])
                if len(f"{name}: TypeAlias = {alias}") > WIDTH:
                    items = "".join(f"    {json.dumps(v)},\n" for v in schema["enum"])
                    alias = f"Literal[\n{items}]"
            else:
                # `_enum` lists suggestions only: any string is valid.
                alias = "str"
            self.blocks.append([*lines, f"{name}: TypeAlias = {alias}"])
            return
        base, own = self._parts(name)
        doc = _summary(own.get("description") or schema.get("description"))
        self._emit_class(_Class(name, base, doc), own, self._required(name))

    def _tables(self) -> list[str]:
        requests: list[tuple[str, str]] = []
        responses: list[tuple[str, str]] = []
        events: list[tuple[str, str]] = []
        for name in self.defs:
            base, own = self._parts(name)
            props = own.get("properties", {})
            if base == "Request" and "command" in props:
                command = props["command"]["enum"][0]
                requests.append((command, name))
                response = name.removesuffix("Request") + "Response"
                if response not in self.defs:
                    raise SystemExit(f"{name} has no {response}")
                responses.append((command, response))
            elif base == "Event" and "event" in props:
                events.append((props["event"]["enum"][0], name))
        out: list[str] = []
        for table, base, rows, doc in (
            ("REQUESTS", "Request", requests, "Request models by `command`."),
            ("RESPONSES", "Response", responses, "Response models by the `command` answered."),
            ("EVENTS", "Event", events, "Event models by `event`."),
        ):
            out += [f"# {doc}", f"{table}: dict[str, type[{base}]] = {{"]
            out += [f"    {json.dumps(key)}: {model}," for key, model in rows]
            out += ["}", ""]
        return out[:-1]

    def protocol(self) -> str:
        for name in self.defs:
            self._emit_definition(name)
        header = f'''\
"""Debug Adapter Protocol messages and types as pydantic models.

Generated by scripts/gen_dap.py from the official JSON schema, as shipped in
{MODULE} {VERSION} ({SCHEMA_IN_MODULE},
sha256 {SCHEMA_SHA256}).
Do not edit; rerun the script.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field


class {BASE}(BaseModel):
    """Base of every model: unknown fields are kept, since clients send extensions."""

    # A model's validator is built on its first use, not at import: the adapter uses a
    # few dozen of the protocol's ~400 models, and building them all took most of the
    # module's import time. Forward references resolve then, from this module.
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


def dump(model: BaseModel) -> dict[str, Any]:
    """The wire form of ``model``: wire names, and absent (None) fields left out."""
    return model.model_dump(exclude_none=True, by_alias=True)
'''
        parts = [header, *("\n".join(block) + "\n" for block in self.blocks),
                 "\n".join(self._tables()) + "\n"]
        return "\n\n".join(parts)


def render() -> dict[str, str]:
    """File name under OUT -> contents."""
    return {
        "__init__.py": '"""Debug Adapter Protocol models generated by scripts/gen_dap.py."""\n',
        "protocol.py": Generator(load_schema()).protocol(),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true", help="fail if the generated code is stale")
    args = parser.parse_args()
    files = render()
    if args.check:
        stale = [
            str((OUT / name).relative_to(ROOT))
            for name, text in files.items()
            if not (OUT / name).is_file() or (OUT / name).read_text(encoding="utf-8") != text
        ]
        present = {p.name for p in OUT.glob("*.py")} if OUT.is_dir() else set()
        stale += [str((OUT / name).relative_to(ROOT)) for name in sorted(present - set(files))]
        if stale:
            print("generated DAP models are stale; run scripts/gen_dap.py:", *stale)
            return 1
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (OUT / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
