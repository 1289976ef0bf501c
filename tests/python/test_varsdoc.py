"""docs/vars.md is generated from dbt_project.yml and must not go stale."""

from __future__ import annotations

import pytest

from lifthouse.run import varsdoc
from lifthouse.run.config import project_vars


def test_docs_vars_md_is_up_to_date():
    assert varsdoc.main(["--check"]) == 0, "docs/vars.md is stale: run `python -m lifthouse.run.varsdoc`"


def test_every_var_is_documented_with_its_default():
    doc = varsdoc.DOC_FILE.read_text()
    for name in project_vars():
        assert f"| `{name}` |" in doc, name


def test_reading_rules():
    text = (
        "name: x\n"
        "vars:\n"
        "  # --- run ---\n"
        "  # the section's introduction\n"
        "  a: 1             # inline comment\n"
        "  # belongs to b\n"
        "  b: [x, y]        # b's | inline\n"
        "models: {}\n"
    )
    (run,) = varsdoc.read_sections(text)
    assert run.title == "run" and run.intro == ["the section's introduction"]
    assert [(v.name, v.default, v.comment) for v in run.vars] == [
        ("a", "1", ["inline comment"]), ("b", "[x, y]", ["belongs to b", "b's | inline"])]
    assert "| `b` | `[x, y]` | belongs to b b's \\| inline |" in varsdoc.render(text)


def test_a_var_without_comment_or_outside_a_section_is_an_error():
    with pytest.raises(ValueError, match="without a comment"):
        varsdoc.render("vars:\n  # --- run ---\n  a: 1\n")
    with pytest.raises(ValueError, match="outside"):
        varsdoc.render("vars:\n  a: 1  # x\n")
