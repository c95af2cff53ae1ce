"""Compiled Jinja kept from one dbt run to the next (revwh.dbt_templates), with dbt's own
environments."""

from __future__ import annotations

import pickle
from pathlib import Path

import jinja2
from dbt_common.clients.jinja import get_template, render_template

from revwh.dbt_templates import kept_templates

SOURCE = "{% set who = name | upper %}{% for n in range(2) %}hello {{ who }}{{ n }};{% endfor %}"


def render(native: bool = False, source: str = SOURCE) -> str:
    ctx = {"name": "ada"}
    return render_template(get_template(source, ctx, native=native), ctx)


def test_a_template_compiled_before_is_not_compiled_again(tmp_path: Path):
    path = str(tmp_path / "code.pickle")
    expected, jinja_compile = render(), jinja2.Environment.compile
    with kept_templates(path) as first:
        assert render() == expected
    assert first.added == 1
    with kept_templates(path) as second:
        assert render() == expected
        assert render(source=SOURCE + "!") == expected + "!"  # another source: compiled
    assert second.added == 1
    with kept_templates(path) as third:
        assert render() == expected and render(source=SOURCE + "!") == expected + "!"
    assert third.added == 0
    assert jinja2.Environment.compile is jinja_compile  # Jinja's own again outside


def test_environments_that_generate_other_code_keep_their_own(tmp_path: Path):
    """dbt's native environment generates other code for the same source (its code generator
    makes values, not text)."""
    path = str(tmp_path / "code.pickle")
    source = "{{ [1, 2] }}"
    expected = render(source=source), render(native=True, source=source)
    with kept_templates(path) as templates:
        assert (render(source=source), render(native=True, source=source)) == expected
    assert templates.added == 2
    with kept_templates(path) as templates:
        assert render(native=True, source=source) == expected[1]
        assert render(source=source) == expected[0]
    assert templates.added == 0


def test_a_file_from_another_version_or_damaged_is_started_afresh(tmp_path: Path):
    path = tmp_path / "code.pickle"
    path.write_bytes(pickle.dumps((("another python", "jinja", "dbt"), {b"k": b"v"})))
    with kept_templates(str(path)) as templates:
        assert render() == "hello ADA0;hello ADA1;"
    assert templates.added == 1
    _, codes = pickle.loads(path.read_bytes())
    assert b"k" not in codes
    path.write_bytes(b"not a pickle")
    with kept_templates(str(path)) as templates:
        assert render() == "hello ADA0;hello ADA1;"
    assert templates.added == 1
