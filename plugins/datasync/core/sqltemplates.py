"""SQL text lives in include/sql/<folder>/<family>.sql as Jinja macros, one file per family.

include/sql is shipped inside the package as ``datasync/sql`` (a link in the
checkout, a copy in the wheel) and read with importlib.resources, so an
installed package finds its SQL wherever it lives.

Templates receive identifiers only through the ``q`` filter (the dialect's quoting
of an already validated name) and values only through ``p('name')`` (the
driver's named placeholder), so nothing from data ever becomes SQL text.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path
from typing import Any, Callable

import jinja2

from datasync.core.template_cache import SHARED
from datasync.core.types import LedgerState


def sql_root() -> Path:
    """The package's SQL folder (or $DATASYNC_SQL_DIR, to try templates without reinstalling)."""
    env = os.environ.get("DATASYNC_SQL_DIR")
    if env:
        return Path(env)
    return Path(str(files("datasync") / "sql"))


def _environment(root: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        bytecode_cache=SHARED,  # compiled once per machine and dialect, not once per process
    )


class SqlTemplates:
    """Renders macros of one folder (a dialect or 'fetchers') with its quoting and placeholders."""

    def __init__(self, folder: str, quote: Callable[[str], str], placeholder: Callable[[str], str]):
        self.folder = folder
        self.env = _environment(sql_root())
        self.env.filters["q"] = quote
        self.env.globals["p"] = placeholder
        self.env.globals["q"] = quote
        self.env.globals.update(IN_PROGRESS=int(LedgerState.IN_PROGRESS), FAILED=int(LedgerState.FAILED))

    def macros(self, *paths: str) -> MacroChain:
        """The macros of the files among ``paths`` (under include/sql) that exist, the first file's first.

        For per-dialect overrides: ``macros("fetchers/dialect/oracle.sql", "fetchers/dialect/ansi.sql")``.
        """
        modules = []
        for path in paths:
            try:
                modules.append(self.env.get_template(path).module)
            except jinja2.TemplateNotFound:
                continue
        return MacroChain(modules)

    def render(self, family: str, statement: str, **params: Any) -> str:
        """Render macro ``statement`` of include/sql/<folder>/<family>.sql, else of common/<family>.sql.

        A dialect file holds only what differs from the ANSI statements in common/.
        """
        for folder in (self.folder, "common"):
            try:
                template = self.env.get_template(f"{folder}/{family}.sql")
            except jinja2.TemplateNotFound:
                continue
            macro = getattr(template.module, statement, None)
            if macro is not None:
                return str(macro(**params)).strip()
        raise KeyError(f"no statement {statement!r} in {self.folder}/{family}.sql or common/{family}.sql")


class MacroChain:
    """Macros looked up by name in template modules in order: a dialect's own file, then the shared one."""

    def __init__(self, modules: list[Any]):
        self._modules = modules

    def __getattr__(self, name: str) -> Any:
        for module in self._modules:
            macro = getattr(module, name, None)
            if macro is not None:
                return macro
        raise AttributeError(name)  # Jinja makes it undefined: StrictUndefined names it when used
