"""docs/vars.md, generated from the ``vars:`` block of dbt_project.yml (names, defaults, comments).

``python -m lifthouse.run.varsdoc`` rewrites docs/vars.md; ``--check`` exits 1 when it is stale
(tests/python/test_varsdoc.py runs the same check in ``make test``).

Reading rules for the ``vars:`` block: a ``# --- title ---`` line starts a section; comment
lines right after it are the section's introduction; any other comment lines belong to the next
var; a var's inline ``# comment`` is its description.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field

import yaml

from lifthouse.run.dbt import REPO_ROOT

PROJECT_FILE = REPO_ROOT / "dbt_project.yml"
DOC_FILE = REPO_ROOT / "docs" / "vars.md"

_SECTION = re.compile(r"^  # -+ (?P<title>.+?) -*$")
_COMMENT = re.compile(r"^  # ?(?P<text>.*)$")
_VAR = re.compile(r"^  (?P<name>[A-Za-z_][A-Za-z0-9_]*):(?P<value>[^#]*?)\s*(?:#\s?(?P<comment>.*))?$")


@dataclass
class Var:
    name: str
    default: str
    comment: list[str] = field(default_factory=list)


@dataclass
class Section:
    title: str
    intro: list[str] = field(default_factory=list)
    vars: list[Var] = field(default_factory=list)


def read_sections(text: str) -> list[Section]:
    """The sections of the ``vars:`` block of a dbt_project.yml text, in file order."""
    lines = text.splitlines()
    start = lines.index("vars:") + 1
    sections: list[Section] = []
    pending: list[str] = []
    for line in lines[start:]:
        if line and not line.startswith(" "):
            break  # the next top-level key ends the block
        if not line.strip():
            continue
        if m := _SECTION.match(line):
            sections.append(Section(m["title"]))
            pending = []
        elif m := _COMMENT.match(line):
            if not sections:
                raise ValueError(f"dbt_project.yml vars: a comment before the first section: {line!r}")
            # before the section's first var: its introduction; after: the next var's comment
            (pending if sections[-1].vars else sections[-1].intro).append(m["text"])
        elif m := _VAR.match(line):
            if not sections:
                raise ValueError(f"dbt_project.yml vars: {m['name']} is outside a `# --- section ---`")
            comment = [*pending, *([m["comment"]] if m["comment"] else [])]
            sections[-1].vars.append(Var(m["name"], m["value"].strip(), comment))
            pending = []
        else:
            raise ValueError(f"dbt_project.yml vars: cannot read line {line!r} (one `name: value  "
                             "# comment` per line)")
    return sections


def _cell(text: str) -> str:
    """Markdown-safe table cell: escape pipes and tag-like ``<name>`` placeholders."""
    return re.sub(r"<(?=[A-Za-z])", "&lt;", " ".join(text.split()).replace("|", "\\|"))


def render(text: str) -> str:
    """docs/vars.md for a dbt_project.yml text; every var of the block appears exactly once."""
    sections = read_sections(text)
    names = [v.name for s in sections for v in s.vars]
    declared = list((yaml.safe_load(text) or {}).get("vars") or {})
    if sorted(names) != sorted(declared):
        raise ValueError(f"dbt_project.yml vars read {sorted(names)}, yaml has {sorted(declared)}")
    silent = [v.name for s in sections for v in s.vars if not v.comment]
    if silent:
        raise ValueError(f"dbt_project.yml vars without a comment (say what each one does): {silent}")
    out = [
        "# Vars",
        "",
        "<!-- Generated from dbt_project.yml by `python -m lifthouse.run.varsdoc`; do not edit by hand",
        "     (tests/python/test_varsdoc.py fails when this file is stale). -->",
        "",
        "Every run parameter and threshold is a dbt var, declared with its default in the `vars:`",
        "block of `dbt_project.yml` (the one home of the defaults). Override one for a run with",
        "`lifthouse run --var name=value` (repeatable), or with `dbt build --vars '{name: value}'`.",
        "SQL models read `var('name')`; the dbt Python models read the same name with",
        "`dbt.config.get(\"name\")` (macros/python_model_config.sql).",
        "",
    ]
    for s in sections:
        out += [f"## {s.title}", ""]
        if s.intro:
            out += [" ".join(s.intro), ""]
        out += ["| var | default | meaning |", "| --- | --- | --- |"]
        out += [f"| `{v.name}` | `{_cell(v.default)}` | {_cell(' '.join(v.comment))} |" for v in s.vars]
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lifthouse.run.varsdoc", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when docs/vars.md differs from what dbt_project.yml gives")
    args = parser.parse_args(argv)
    expected = render(PROJECT_FILE.read_text())
    if args.check:
        if not DOC_FILE.exists() or DOC_FILE.read_text() != expected:
            print(f"{DOC_FILE} is stale: run `python -m lifthouse.run.varsdoc`", file=sys.stderr)
            return 1
        return 0
    DOC_FILE.write_text(expected)
    print(f"wrote {DOC_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
