"""Compiled SQL templates, kept between processes: a command should not compile Jinja each time.

Compiling the SQL families a sync renders (the ledger's above all) takes about
0.1 s per process, as long as a short incremental sync's merge. Jinja's own
bytecode cache keeps the compiled code; this one holds it in memory for every
template environment of the process (the source's and the target's render the
shared common/ files) and on disk in the user's cache folder
($DATASYNC_CACHE_DIR, else $XDG_CACHE_HOME/datasync, else ~/.cache/datasync),
one file per template and dialect. Jinja checks each entry against a checksum
of the template's source, so an edited template is compiled again. Where the
folder cannot be written the cache stays in memory: nothing fails for want of it.

Compiled code is not dialect-neutral: Jinja evaluates a filter on a constant
while compiling (``{{ "n" | q }}`` becomes ``"n"`` or ``[n]`` in the code), so
each entry's key includes what the environment's own filters make of a probe
name.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import jinja2
from jinja2.bccache import Bucket
from jinja2.defaults import DEFAULT_FILTERS

log = logging.getLogger(__name__)


def cache_folder() -> Path:
    """Where compiled templates go: $DATASYNC_CACHE_DIR, else the XDG cache folder's datasync/."""
    explicit = os.environ.get("DATASYNC_CACHE_DIR")
    if explicit:
        return Path(explicit) / "sql"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "datasync" / "sql"


def filters_fingerprint(environment: jinja2.Environment) -> str:
    """What the environment's own filters (not Jinja's) make of a probe name: the dialect, as compiled code sees it."""
    parts = []
    for name in sorted(environment.filters):
        func = environment.filters[name]
        if DEFAULT_FILTERS.get(name) is func:
            continue
        try:
            parts.append(f"{name}={func('probe')}")
        except Exception as exc:  # noqa: BLE001 - a filter that refuses the probe still names itself
            parts.append(f"{name}!{type(exc).__name__}")
    return ";".join(parts)


class TemplateCodeCache(jinja2.BytecodeCache):
    """Jinja bytecode in memory for the process, and in a private folder for the next one."""

    def __init__(self, folder: Path | None = None):
        self._memory: dict[str, bytes] = {}
        self._folder = folder
        self._disk: jinja2.FileSystemBytecodeCache | None = None
        self._disk_checked = False

    def _on_disk(self) -> jinja2.FileSystemBytecodeCache | None:
        if not self._disk_checked:
            self._disk_checked = True
            folder = self._folder or cache_folder()
            try:
                folder.mkdir(parents=True, exist_ok=True, mode=stat.S_IRWXU)
                owned = folder.stat().st_uid == os.getuid() if hasattr(os, "getuid") else True
                if owned and os.access(folder, os.W_OK):
                    self._disk = jinja2.FileSystemBytecodeCache(str(folder), "%s.jinja")
            except OSError as exc:
                log.debug("compiled SQL templates stay in memory: %s", exc)
        return self._disk

    def get_bucket(self, environment: jinja2.Environment, name: str, filename: str | None, source: str) -> Bucket:
        key = self.get_cache_key(f"{filters_fingerprint(environment)}|{name}", filename)
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._memory.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)
            return
        disk = self._on_disk()
        if disk is None:
            return
        try:
            disk.load_bytecode(bucket)
        except Exception:  # noqa: BLE001 - a damaged entry (cut short, another format): compile again
            bucket.reset()
        if bucket.code is not None:
            self._memory[bucket.key] = bucket.bytecode_to_string()

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._memory[bucket.key] = bucket.bytecode_to_string()
        disk = self._on_disk()
        if disk is None:
            return
        try:
            disk.dump_bytecode(bucket)
        except OSError as exc:  # full or read-only disk: this process keeps it in memory
            log.debug("could not keep a compiled SQL template on disk: %s", exc)


SHARED = TemplateCodeCache()
