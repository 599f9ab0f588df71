"""Compiled SQL templates are reused across processes, per dialect, and never stale.

Each check renders real statements of include/sql through real targets' template
environments; a second process must render them without compiling anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest

from conftest import REPO
from datasync.core.sqltemplates import SqlTemplates, sql_root
from datasync.core.template_cache import TemplateCodeCache

ANSI = ('"{}"'.format, lambda n: f":{n}")
BRACKETS = ("[{}]".format, lambda n: f"%({n})s")

# renders one statement per dialect in a fresh interpreter; COMPILE=forbid makes any compile fail
RENDER = """
import os, sys, jinja2
if os.environ.get("COMPILE") == "forbid":
    def refuse(self, *a, **k):
        raise AssertionError("compiled a template although the cache holds it")
    jinja2.Environment.compile = refuse
from datasync.core.sqltemplates import SqlTemplates
for quote in ('"{}"'.format, "[{}]".format):
    t = SqlTemplates(sys.argv[1], quote, lambda n: f":{n}")
    print(t.render("ddl", "count_rows", name="DataUpdate"))
"""


def _render(folder: str, cache: Path, compile_: str = "allow") -> list[str]:
    env = dict(os.environ, DATASYNC_CACHE_DIR=str(cache), COMPILE=compile_, PYTHONPATH=str(REPO / "plugins"))
    done = subprocess.run([sys.executable, "-c", RENDER, folder], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


def test_a_second_process_renders_from_the_cache_without_compiling(tmp_path: Path) -> None:
    first = _render("postgres", tmp_path)
    assert first == ['SELECT COUNT(*) AS "n" FROM "DataUpdate"', "SELECT COUNT(*) AS [n] FROM [DataUpdate]"]
    assert list((tmp_path / "sql").glob("*.jinja")), "nothing was kept on disk"
    assert _render("postgres", tmp_path, compile_="forbid") == first


def test_each_dialect_gets_its_own_compiled_code(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Jinja folds ``"n" | q`` while compiling: one dialect's code must never serve another."""
    monkeypatch.setenv("DATASYNC_CACHE_DIR", str(tmp_path))
    cache = TemplateCodeCache(tmp_path / "sql")
    rendered = []
    for quote, placeholder in (ANSI, BRACKETS, ANSI):
        t = SqlTemplates("postgres", quote, placeholder)
        t.env.bytecode_cache = cache
        rendered.append(t.render("ledger", "legacy_count", marked=False))
    assert '"legacy_rows"' in rendered[0] and "[legacy_rows]" not in rendered[0]
    assert "[legacy_rows]" in rendered[1] and '"legacy_rows"' not in rendered[1]
    assert rendered[2] == rendered[0]


def test_an_edited_template_is_compiled_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    sql = tmp_path / "sql_dir"
    shutil.copytree(sql_root(), sql)
    monkeypatch.setenv("DATASYNC_SQL_DIR", str(sql))
    cache = TemplateCodeCache(tmp_path / "cache")

    def render() -> str:
        t = SqlTemplates("postgres", *ANSI)
        t.env.bytecode_cache = cache
        return t.render("ddl", "count_rows", name="T")

    assert render() == 'SELECT COUNT(*) AS "n" FROM "T"'
    path = sql / "common" / "ddl.sql"
    path.write_text(path.read_text().replace('SELECT COUNT(*) AS {{ "n" | q }}', 'SELECT COUNT(*) AS {{ "rows" | q }}'))
    assert render() == 'SELECT COUNT(*) AS "rows" FROM "T"'
    fresh = TemplateCodeCache(tmp_path / "cache")  # the next process: the disk entry is the edited one's
    t = SqlTemplates("postgres", *ANSI)
    t.env.bytecode_cache = fresh
    assert t.render("ddl", "count_rows", name="T") == 'SELECT COUNT(*) AS "rows" FROM "T"'


def test_an_unwritable_cache_folder_still_renders(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    cache = TemplateCodeCache(blocked / "sql")  # cannot be created: memory only
    t = SqlTemplates("sqlite", *ANSI)
    t.env.bytecode_cache = cache
    assert t.render("ddl", "count_rows", name="T") == 'SELECT COUNT(*) AS "n" FROM "T"'
    assert t.render("ddl", "count_rows", name="U") == 'SELECT COUNT(*) AS "n" FROM "U"'


def test_a_damaged_entry_is_compiled_again(tmp_path: Path) -> None:
    def render(cache: TemplateCodeCache) -> str:
        t = SqlTemplates("postgres", *ANSI)
        t.env.bytecode_cache = cache
        return t.render("ddl", "count_rows", name="T")

    assert render(TemplateCodeCache(tmp_path)) == 'SELECT COUNT(*) AS "n" FROM "T"'
    for entry in tmp_path.glob("*.jinja"):
        entry.write_bytes(entry.read_bytes()[:40])  # cut short, as by a full disk
    assert render(TemplateCodeCache(tmp_path)) == 'SELECT COUNT(*) AS "n" FROM "T"'


def test_jinja_itself_would_fold_the_quoting_at_compile_time() -> None:
    """The reason for the per-dialect key: without it the first dialect's quoting sticks."""
    env = jinja2.Environment()
    env.filters["q"] = '"{}"'.format
    code = env.compile('{{ "n" | q }}', raw=True)
    assert '\'"n"\'' in code or '"\\"n\\""' in code
