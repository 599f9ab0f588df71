"""A JDE- and CMS-shaped demo source in one SQLite file, deterministic for a seed.

``write_demo_source(path, rows)`` creates the JDE physical tables F4801 (work
orders), F4111 (item ledger), F4101 (items), F4108 (lots) and the CMS table
MIS_DATA with the quirks the fetchers must handle: NCHAR space padding,
business units right-justified in 12 characters, Julian CYYDDD dates with 0,
the century boundary (99365 / 100001) and a leap day (124060), HHMMSS times
stored as INTEGER or REAL (some 0), integer-stored implied decimals, rows
without an audit date and F4111 rows without a lot number.

``touch(path, pct, seed)`` plays a day of ERP activity: ``pct`` percent of the
rows of every table get a new audit stamp (now) and changed values, and about
half as many new rows are added, stamped now, so a Daily or Hourly
incremental sync picks them up.

Columns are generated with numpy and loaded with ``executemany`` over tuples;
indexes (keys and audit dates) are created after loading.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_SEED = 20240229
CHUNK_ROWS = 100_000

BRANCHES = ("10", "M30", "D20", "M40", "1234567", "TX100")
DOC_TYPES_WO = ("WO", "WO", "WO", "WP")
WO_STATUS = ("10", "30", "45", "90", "95", "99")
LEDGER_DOC_TYPES = ("IM", "IC", "IS", "IT", "II")
UOMS = ("EA", "KG", "LB", "BX")
STOCKING = ("S", "P", "M", "K")
GL_CLASSES = ("IN30", "FG10", "RM20", "PK40")
LOCATIONS = ("A.01.01", "A.01.02", "B.12.03", "RCV", "STAGE", "")
USERS = ("JDE", "PRODSYNC", "OPERATOR1", "R31410")
MACHINES = ("MC-01", "MC-02", "MC-07", "PRESS-3", "OVEN-12")
WORDS = (
    "BRACKET", "STEEL", "HOUSING", "GASKET", "ASSY", "VALVE", "PUMP", "COVER",
    "SHAFT", "BEARING", "SEAL", "PLATE", "BOLT", "FILTER", "MODULE", "FRAME",
)  # fmt: skip

# Base data dates: 1998-01-01 .. 2024-12-31 (day numbers since 1970-01-01)
_FIRST_DAY = int(np.datetime64("1998-01-01", "D").astype(np.int64))
_AUDIT_FIRST_DAY = int(np.datetime64("2015-01-01", "D").astype(np.int64))
_LAST_DAY = int(np.datetime64("2024-12-31", "D").astype(np.int64))

# name, SQLite declared type (NCHAR(n) → TEXT affinity, NUMERIC keeps integers,
# FLOAT stores REAL, an empty type stores each value as given)
F4801 = (
    ("WADOCO", "NUMERIC"), ("WADCTO", "NCHAR(2)"), ("WASFXO", "NCHAR(3)"), ("WAKCOO", "NCHAR(5)"),
    ("WAMCU", "NCHAR(12)"), ("WAMMCU", "NCHAR(12)"), ("WAITM", "NUMERIC"), ("WALITM", "NCHAR(25)"),
    ("WADL01", "NCHAR(30)"), ("WASRST", "NCHAR(2)"), ("WATRDJ", "NUMERIC"), ("WASTRT", "NUMERIC"),
    ("WADRQJ", "NUMERIC"), ("WASTRX", "NUMERIC"), ("WAUORG", "NUMERIC"), ("WASOQS", "NUMERIC"),
    ("WASOCN", "NUMERIC"), ("WAUOM", "NCHAR(2)"), ("WALOTN", "NCHAR(30)"), ("WAPARS", "NCHAR(8)"),
    ("WAUSER", "NCHAR(10)"), ("WAUPMJ", "NUMERIC"), ("WATDAY", "FLOAT"),
)  # fmt: skip
F4111 = (
    ("ILUKID", "NUMERIC"), ("ILITM", "NUMERIC"), ("ILLITM", "NCHAR(25)"), ("ILMCU", "NCHAR(12)"),
    ("ILLOCN", "NCHAR(20)"), ("ILLOTN", "NCHAR(30)"), ("ILDOC", "NUMERIC"), ("ILDCT", "NCHAR(2)"),
    ("ILKCO", "NCHAR(5)"), ("ILDOCO", "NUMERIC"), ("ILDCTO", "NCHAR(2)"), ("ILLNID", "NUMERIC"),
    ("ILTRDJ", "NUMERIC"), ("ILTRQT", "NUMERIC"), ("ILTRUM", "NCHAR(2)"), ("ILUNCS", "FLOAT"),
    ("ILUSER", "NCHAR(10)"), ("ILCRDJ", "NUMERIC"), ("ILTDAY", ""),
)  # fmt: skip
F4101 = (
    ("IMITM", "NUMERIC"), ("IMLITM", "NCHAR(25)"), ("IMAITM", "NCHAR(25)"), ("IMDSC1", "NCHAR(30)"),
    ("IMDSC2", "NCHAR(30)"), ("IMSTKT", "NCHAR(1)"), ("IMLNTY", "NCHAR(2)"), ("IMUOM1", "NCHAR(2)"),
    ("IMGLPT", "NCHAR(4)"), ("IMLOTS", "NCHAR(1)"), ("IMSRCE", "NCHAR(1)"), ("IMMPST", "NCHAR(1)"),
    ("IMUPMJ", "NUMERIC"), ("IMTDAY", "NUMERIC"),
)  # fmt: skip
F4108 = (
    ("IOLOTN", "NCHAR(30)"), ("IOITM", "NUMERIC"), ("IOMCU", "NCHAR(12)"), ("IOLITM", "NCHAR(25)"),
    ("IOLDSC", "NCHAR(30)"), ("IOLOTS", "NCHAR(1)"), ("IOMMEJ", "NUMERIC"), ("IOOHDJ", "NUMERIC"),
    ("IODOCO", "NUMERIC"), ("IOUPMJ", "NUMERIC"), ("IOTDAY", "FLOAT"),
)  # fmt: skip
MIS_DATA = (
    ("MisDataId", "INTEGER PRIMARY KEY"), ("LotNumber", "VARCHAR(30)"), ("ItemNumber", "VARCHAR(25)"),
    ("WorkOrder", "INTEGER"), ("Step", "INTEGER"), ("Machine", "VARCHAR(30)"), ("Quantity", "REAL"),
    ("Scrap", "REAL"), ("EventTime", "DATETIME"), ("LastModified", "DATETIME"),
)  # fmt: skip
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "F4101": F4101, "F4108": F4108, "F4801": F4801, "F4111": F4111, "MIS_DATA": MIS_DATA,
}  # fmt: skip
INDEXES = (
    ("F4801_KEY", "F4801", ("WADOCO",), True),
    ("F4801_UPMJ", "F4801", ("WAUPMJ",), False),
    ("F4111_KEY", "F4111", ("ILUKID",), True),
    ("F4111_CRDJ", "F4111", ("ILCRDJ",), False),
    ("F4101_KEY", "F4101", ("IMITM",), True),
    ("F4101_UPMJ", "F4101", ("IMUPMJ",), False),
    ("F4108_KEY", "F4108", ("IOLOTN", "IOITM", "IOMCU"), True),
    ("F4108_UPMJ", "F4108", ("IOUPMJ",), False),
    ("MIS_DATA_LastModified", "MIS_DATA", ("LastModified",), False),
)


# --------------------------------------------------------------------------- helpers


def julian_of_days(days: np.ndarray) -> np.ndarray:
    """Day numbers since 1970-01-01 → JDE Julian CYYDDD (int64)."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    y = d.astype("datetime64[Y]")
    doy = (d - y.astype("datetime64[D]")).astype(np.int64) + 1
    return (y.astype(np.int64) + 1970 - 1900) * 1000 + doy


def _hhmmss(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 24, n) * 10_000 + rng.integers(0, 60, n) * 100 + rng.integers(0, 60, n)


def _pad(values: Sequence[str], width: int) -> list[str]:
    return [v.ljust(width)[:width] for v in values]


def _pick(rng: np.random.Generator, choices: Sequence[str], n: int, width: int | None = None) -> list[str]:
    """n random choices, padded to ``width`` (NCHAR) when given."""
    vocab = np.array(_pad(choices, width) if width else list(choices), dtype=object)
    return vocab[rng.integers(0, len(vocab), n)].tolist()


def _bu(values: Sequence[str]) -> list[str]:
    """Business units are right-justified in 12 characters."""
    return [v.rjust(12) for v in values]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _insert(conn: sqlite3.Connection, table: str, columns: dict[str, Any]) -> int:
    """Insert column lists (same length) in one executemany; returns the row count."""
    names = list(columns)
    values = [v.tolist() if isinstance(v, np.ndarray) else v for v in columns.values()]
    sql = (
        f"INSERT INTO {_quote(table)} ({', '.join(_quote(n) for n in names)}) "
        f"VALUES ({', '.join('?' for _ in names)})"
    )
    conn.executemany(sql, zip(*values))
    return len(values[0]) if values else 0


def _inject(arr: np.ndarray | list, values: Sequence[Any]) -> None:
    """Put edge-case values into the first rows (as far as there are rows)."""
    for i, v in enumerate(values[: len(arr)]):
        arr[i] = v


@dataclass
class _Context:
    """What generated rows refer to: items and lots (read back from the file by ``touch``)."""

    itm: np.ndarray
    litm: list[str]  # unpadded
    dsc1: list[str]
    uom: list[str]
    lot_lotn: list[str]  # unpadded
    lot_itm: np.ndarray
    lot_mcu: list[str]  # unpadded
    doco_max: int


@dataclass(frozen=True)
class _Stamp:
    """Audit stamp for new rows; None = random historical stamps."""

    julian: int
    hhmmss: int
    text: str


def _audit(
    rng: np.random.Generator, n: int, stamp: _Stamp | None, no_date_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Audit date (Julian) and time (HHMMSS) columns: ``stamp`` for all, or random with some 0."""
    if stamp is not None:
        return np.full(n, stamp.julian, np.int64), np.full(n, stamp.hhmmss, np.int64)
    dates = julian_of_days(rng.integers(_AUDIT_FIRST_DAY, _LAST_DAY + 1, n))
    dates[rng.random(n) < no_date_share] = 0
    times = _hhmmss(rng, n)
    times[rng.random(n) < 0.05] = 0
    return dates, times


# --------------------------------------------------------------------------- generators


def _items(rng: np.random.Generator, start: int, n: int, stamp: _Stamp | None) -> dict[str, Any]:
    idx = np.arange(start, start + n)
    words = np.array(WORDS, dtype=object)
    w1, w2, w3 = (words[rng.integers(0, len(WORDS), n)] for _ in range(3))
    dsc1 = [f"{a} {b}" for a, b in zip(w1, w2)]
    dsc2 = [f"{c} GRADE {g}" for c, g in zip(w3, rng.integers(1, 9, n).tolist())]
    upmj, tday = _audit(rng, n, stamp, 0.02)
    return {
        "IMITM": 60_000 + idx,
        "IMLITM": _pad([f"ITEM-{i:06d}" for i in idx.tolist()], 25),
        "IMAITM": _pad([f"A{i:07d}" for i in idx.tolist()], 25),
        "IMDSC1": _pad(dsc1, 30),
        "IMDSC2": _pad(dsc2, 30),
        "IMSTKT": _pick(rng, STOCKING, n, 1),
        "IMLNTY": _pick(rng, ("S", "S", "N", "J"), n, 2),
        "IMUOM1": _pick(rng, UOMS, n, 2),
        "IMGLPT": _pick(rng, GL_CLASSES, n, 4),
        "IMLOTS": _pick(rng, (" ", " ", "H", "Q"), n, 1),
        "IMSRCE": _pick(rng, ("1", "3", " "), n, 1),
        "IMMPST": _pick(rng, ("P", "M", " "), n, 1),
        "IMUPMJ": upmj,
        "IMTDAY": tday,
    }


def _lots(rng: np.random.Generator, start: int, n: int, ctx: _Context, stamp: _Stamp | None) -> dict[str, Any]:
    """F4108: one row per lot, item and branch; every 10th lot also exists in a second branch."""
    number = np.arange(start, start + n)
    item = rng.integers(0, len(ctx.itm), n)
    branch = rng.integers(0, len(BRANCHES), n)
    if stamp is None:  # second-branch copies of the previous lot (same LOTN and ITM, other MCU)
        dup = np.flatnonzero(number % 10 == 1)
        dup = dup[dup > 0]
        number[dup] = number[dup - 1]
        item[dup] = item[dup - 1]
        branch[dup] = (branch[dup - 1] + 1) % len(BRANCHES)
    lotn = [f"LT{x:08d}" for x in number.tolist()]
    made = rng.integers(_FIRST_DAY, _LAST_DAY + 1, n)
    mmej = julian_of_days(made + rng.integers(180, 1200, n))
    mmej[rng.random(n) < 0.2] = 0  # no expiry
    upmj, tday = _audit(rng, n, stamp, 0.01)
    litm = [ctx.litm[i] for i in item.tolist()]
    return {
        "IOLOTN": _pad(lotn, 30),
        "IOITM": ctx.itm[item],
        "IOMCU": _bu([BRANCHES[b] for b in branch.tolist()]),
        "IOLITM": _pad(litm, 25),
        "IOLDSC": _pad([f"LOT {x} {ctx.dsc1[i]}" for x, i in zip(lotn, item.tolist())], 30),
        "IOLOTS": _pick(rng, (" ", " ", " ", "H", "Q"), n, 1),
        "IOMMEJ": mmej,
        "IOOHDJ": julian_of_days(made),
        "IODOCO": rng.integers(1_000_000, max(ctx.doco_max, 1_000_001) + 1, n),
        "IOUPMJ": upmj,
        "IOTDAY": tday.astype(np.float64),  # FLOAT column, as JDE stores it on SQL Server
    }


def _work_orders(rng: np.random.Generator, start: int, n: int, ctx: _Context, stamp: _Stamp | None) -> dict[str, Any]:
    item = rng.integers(0, len(ctx.itm), n)
    branch = _bu([BRANCHES[b] for b in rng.integers(0, len(BRANCHES), n).tolist()])
    trdj_day = rng.integers(_FIRST_DAY, _LAST_DAY + 1, n)
    strt_day = trdj_day + rng.integers(0, 15, n)
    drqj_day = strt_day + rng.integers(1, 30, n)
    status = rng.integers(0, len(WO_STATUS), n)
    trdj, strt, drqj = julian_of_days(trdj_day), julian_of_days(strt_day), julian_of_days(drqj_day)
    strx = np.where(status >= 3, julian_of_days(drqj_day + rng.integers(-5, 10, n)), 0)
    if start == 0 and stamp is None:
        _inject(trdj, [99365, 100001, 124060, 0])
        _inject(strt, [100001, 124060, 99365, 0])
    uorg = rng.integers(1, 5000, n)
    soqs = (uorg * rng.random(n)).astype(np.int64)
    lot = rng.random(n) < 0.7
    upmj, tday = _audit(rng, n, stamp, 0.01)
    if start == 0 and stamp is None:
        _inject(tday, [0, 93015, 235959])
        _inject(upmj, [124060, 124060, 124060, 99365, 0])
    doco = 1_000_000 + np.arange(start, start + n)
    return {
        "WADOCO": doco,
        "WADCTO": _pick(rng, DOC_TYPES_WO, n, 2),
        "WASFXO": ["000"] * n,
        "WAKCOO": ["00001"] * n,
        "WAMCU": branch,
        "WAMMCU": branch,
        "WAITM": ctx.itm[item],
        "WALITM": _pad([ctx.litm[i] for i in item.tolist()], 25),
        "WADL01": _pad([ctx.dsc1[i] for i in item.tolist()], 30),
        "WASRST": [WO_STATUS[s] for s in status.tolist()],
        "WATRDJ": trdj,
        "WASTRT": strt,
        "WADRQJ": drqj,
        "WASTRX": strx,
        "WAUORG": uorg,
        "WASOQS": soqs,
        "WASOCN": rng.integers(0, 50, n),
        "WAUOM": _pad([ctx.uom[i] for i in item.tolist()], 2),
        "WALOTN": _pad([f"W{d}" if has else "" for d, has in zip(doco.tolist(), lot.tolist())], 30),
        "WAPARS": _pad(["" if r > 0.1 else f"{d - 1}" for d, r in zip(doco.tolist(), rng.random(n).tolist())], 8),
        "WAUSER": _pick(rng, USERS, n, 10),
        "WAUPMJ": upmj,
        "WATDAY": tday.astype(np.float64),  # FLOAT column
    }


def _ledger(rng: np.random.Generator, start: int, n: int, ctx: _Context, stamp: _Stamp | None) -> dict[str, Any]:
    """F4111 rows; a quarter carry no lot number (blank ILLOTN)."""
    ukid = 1 + np.arange(start, start + n)
    lot = rng.integers(0, len(ctx.lot_lotn), n)
    blank = rng.random(n) < 0.25
    free_item = rng.integers(0, len(ctx.itm), n)
    itm = np.where(blank, ctx.itm[free_item], ctx.lot_itm[lot])
    itm_pos = {int(v): i for i, v in enumerate(ctx.itm.tolist())}
    litm = [ctx.litm[itm_pos[v]] for v in itm.tolist()]
    branches = [BRANCHES[b] for b in rng.integers(0, len(BRANCHES), n).tolist()]
    mcu = [b if bl else ctx.lot_mcu[x] for b, bl, x in zip(branches, blank.tolist(), lot.tolist())]
    lotn = ["" if bl else ctx.lot_lotn[x] for bl, x in zip(blank.tolist(), lot.tolist())]
    trdj = julian_of_days(rng.integers(_FIRST_DAY, _LAST_DAY + 1, n))
    if stamp is None:
        if start == 0:
            _inject(trdj, [99365, 100001, 124060, 0])
        crdj, tday = trdj.copy(), _hhmmss(rng, n)
        crdj[rng.random(n) < 0.005] = 0
        tday[rng.random(n) < 0.05] = 0
        if start == 0:
            _inject(tday, [0, 93015, 235959])
    else:
        crdj, tday = _audit(rng, n, stamp, 0.0)
    # ILTDAY has no declared type: every 10th time is stored as REAL, the rest as INTEGER
    tday_values: list[Any] = tday.tolist()
    for i in range(0, n, 10):
        tday_values[i] = float(tday_values[i])
    doco = np.where(rng.random(n) < 0.6, rng.integers(1_000_000, max(ctx.doco_max, 1_000_001) + 1, n), 0)
    return {
        "ILUKID": ukid,
        "ILITM": itm,
        "ILLITM": _pad(litm, 25),
        "ILMCU": _bu(mcu),
        "ILLOCN": _pick(rng, LOCATIONS, n, 20),
        "ILLOTN": _pad(lotn, 30),
        "ILDOC": 5_000_000 + ukid // 3,
        "ILDCT": _pick(rng, LEDGER_DOC_TYPES, n, 2),
        "ILKCO": ["00001"] * n,
        "ILDOCO": doco,
        "ILDCTO": ["WO" if d else "  " for d in doco.tolist()],
        "ILLNID": rng.integers(1, 40, n) * 1000,  # 3 implied decimals: line 1.000, 2.000 ...
        "ILTRDJ": trdj,
        "ILTRQT": rng.integers(-500, 1000, n),
        "ILTRUM": _pick(rng, UOMS, n, 2),
        "ILUNCS": (rng.integers(1, 5_000_000, n)).astype(np.float64),  # 4 implied decimals, FLOAT column
        "ILUSER": _pick(rng, USERS, n, 10),
        "ILCRDJ": crdj,
        "ILTDAY": tday_values,
    }


def _datetime_text(seconds: np.ndarray) -> list[str]:
    return [s.replace("T", " ") for s in np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s").tolist()]


def _mis_data(rng: np.random.Generator, start: int, n: int, ctx: _Context, stamp: _Stamp | None) -> dict[str, Any]:
    lot = rng.integers(0, len(ctx.lot_lotn), n)
    event = rng.integers(_AUDIT_FIRST_DAY * 86_400, (_LAST_DAY + 1) * 86_400, n)
    itm_pos = {int(v): i for i, v in enumerate(ctx.itm.tolist())}
    if stamp is None:
        modified: list[str | None] = _datetime_text(event + rng.integers(0, 3600, n))
        for i in np.flatnonzero(rng.random(n) < 0.01).tolist():
            modified[i] = None  # rows without LastModified are still loaded (1900-01-01)
    else:
        modified = [stamp.text] * n
    return {
        "MisDataId": 1 + np.arange(start, start + n),
        "LotNumber": [ctx.lot_lotn[x] for x in lot.tolist()],
        "ItemNumber": [ctx.litm[itm_pos[int(ctx.lot_itm[x])]] for x in lot.tolist()],
        "WorkOrder": rng.integers(1_000_000, max(ctx.doco_max, 1_000_001) + 1, n),
        "Step": rng.integers(1, 7, n) * 10,
        "Machine": _pick(rng, MACHINES, n),
        "Quantity": np.round(rng.random(n) * 1000, 2),
        "Scrap": np.round(rng.random(n) * 5, 2),
        "EventTime": _datetime_text(event),
        "LastModified": modified,
    }


# --------------------------------------------------------------------------- public API


def _chunks(total: int, size: int = CHUNK_ROWS) -> list[tuple[int, int]]:
    """(start, count) slices: rows are generated and loaded a chunk at a time (flat memory)."""
    return [(start, min(size, total - start)) for start in range(0, total, size)]


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    return conn


def _stamp(now: datetime) -> _Stamp:
    julian = (now.year - 1900) * 1000 + now.timetuple().tm_yday
    return _Stamp(julian, now.hour * 10_000 + now.minute * 100 + now.second, now.strftime("%Y-%m-%d %H:%M:%S"))


def write_demo_source(
    path: str | Path,
    rows: int,
    seed: int = DEFAULT_SEED,
    touch_pct: float | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Create (replace) the demo source at ``path``: ``rows`` work orders and ledger rows; returns rows per table.

    F4101 gets rows/50 items, F4108 rows/10 lots, MIS_DATA ``rows`` events
    (each at least 20). The same seed gives the same file. ``touch_pct``
    (percent) then plays one ``touch`` stamped ``now``.
    """
    if rows < 1:
        raise ValueError("rows must be positive")
    path = Path(path)
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    rng = np.random.default_rng(seed)
    conn = _connect(path)
    try:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("BEGIN")
        for table, columns in TABLES.items():
            ddl = ", ".join(f"{_quote(n)} {t}".rstrip() for n, t in columns)
            conn.execute(f"CREATE TABLE {_quote(table)} ({ddl})")
        n_items, n_lots = max(20, rows // 50), max(20, rows // 10)
        items = _items(rng, 0, n_items, None)
        _insert(conn, "F4101", items)
        ctx = _Context(
            itm=items["IMITM"],
            litm=[s.rstrip() for s in items["IMLITM"]],
            dsc1=[s.rstrip() for s in items["IMDSC1"]],
            uom=[s.rstrip() for s in items["IMUOM1"]],
            lot_lotn=[],
            lot_itm=np.zeros(0, np.int64),
            lot_mcu=[],
            doco_max=1_000_000 + rows - 1,
        )
        lot_itm = []
        for start, count in _chunks(n_lots):
            lots = _lots(rng, start, count, ctx, None)
            _insert(conn, "F4108", lots)
            ctx.lot_lotn += [s.rstrip() for s in lots["IOLOTN"]]
            ctx.lot_mcu += [s.strip() for s in lots["IOMCU"]]
            lot_itm.append(lots["IOITM"])
        ctx.lot_itm = np.concatenate(lot_itm)
        for table, generate in (("F4801", _work_orders), ("F4111", _ledger), ("MIS_DATA", _mis_data)):
            for start, count in _chunks(rows):
                _insert(conn, table, generate(rng, start, count, ctx, None))
        for name, table, cols, unique in INDEXES:
            conn.execute(
                f"CREATE {'UNIQUE ' if unique else ''}INDEX {_quote(name)} ON {_quote(table)} "
                f"({', '.join(_quote(c) for c in cols)})"
            )
        conn.execute("COMMIT")
    finally:
        conn.close()
    if touch_pct:
        touch(path, touch_pct, seed=seed + 1, now=now)
    return table_counts(path)


def table_counts(path: str | Path) -> dict[str, int]:
    """Rows per table of the demo source."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {_quote(t)}").fetchone()[0] for t in TABLES}
    finally:
        conn.close()


def _read_context(conn: sqlite3.Connection) -> _Context:
    items = conn.execute('SELECT "IMITM", "IMLITM", "IMDSC1", "IMUOM1" FROM "F4101" ORDER BY rowid').fetchall()
    lots = conn.execute('SELECT "IOLOTN", "IOITM", "IOMCU" FROM "F4108" ORDER BY rowid').fetchall()
    doco_max = conn.execute('SELECT MAX("WADOCO") FROM "F4801"').fetchone()[0] or 1_000_000
    return _Context(
        itm=np.array([int(r[0]) for r in items], np.int64),
        litm=[r[1].rstrip() for r in items],
        dsc1=[r[2].rstrip() for r in items],
        uom=[r[3].rstrip() for r in items],
        lot_lotn=[r[0].rstrip() for r in lots],
        lot_itm=np.array([int(r[1]) for r in lots], np.int64),
        lot_mcu=[r[2].strip() for r in lots],
        doco_max=int(doco_max),
    )


# table → (SET of the audit stamp, SET of the value changes) for the rows touch updates
_TOUCH = {
    "F4101": ('"IMUPMJ" = ?, "IMTDAY" = ?', '"IMDSC2" = substr(\'REV \' || "IMDSC2", 1, 30)'),
    "F4108": ('"IOUPMJ" = ?, "IOTDAY" = ?', '"IOLOTS" = CASE "IOLOTS" WHEN \' \' THEN \'H\' ELSE \' \' END'),
    "F4801": ('"WAUPMJ" = ?, "WATDAY" = ?', '"WASOQS" = "WASOQS" + 100, "WASRST" = \'90\''),
    "F4111": ('"ILCRDJ" = ?, "ILTDAY" = ?', '"ILTRQT" = "ILTRQT" + 1'),
    "MIS_DATA": ('"LastModified" = ?', '"Scrap" = "Scrap" + 1'),
}
_GENERATORS = {
    "F4101": lambda rng, start, n, ctx, stamp: _items(rng, start, n, stamp),
    "F4108": _lots,
    "F4801": _work_orders,
    "F4111": _ledger,
    "MIS_DATA": _mis_data,
}


def touch(
    path: str | Path, pct: float, seed: int = DEFAULT_SEED, now: datetime | None = None
) -> dict[str, tuple[int, int]]:
    """Play a day of ERP activity on the demo source at ``path``.

    In every table ``pct`` percent of the rows (rounded) get the audit stamp
    ``now`` (default: the current local time, whole seconds) and changed
    values, and ``pct / 2`` percent new rows are added with the same stamp.
    Returns ``{table: (updated, added)}``.
    """
    if not 0 <= pct <= 100:
        raise ValueError("pct is a percentage between 0 and 100")
    now = (now or datetime.now()).replace(microsecond=0)
    stamp = _stamp(now)
    result: dict[str, tuple[int, int]] = {}
    conn = _connect(Path(path))
    try:
        conn.execute("BEGIN IMMEDIATE")
        ctx = _read_context(conn)
        for position, (table, (audit_set, change_set)) in enumerate(_TOUCH.items()):
            rng = np.random.default_rng([seed, position])
            count = conn.execute(f"SELECT MAX(rowid) FROM {_quote(table)}").fetchone()[0] or 0
            updated = round(count * pct / 100)
            added = round(count * pct / 200)
            ids = np.sort(rng.choice(count, size=updated, replace=False) + 1).tolist() if updated else []
            audit = (stamp.text,) if table == "MIS_DATA" else (stamp.julian, stamp.hhmmss)
            conn.executemany(
                f"UPDATE {_quote(table)} SET {audit_set}, {change_set} WHERE rowid = ?",
                ((*audit, i) for i in ids),
            )
            if added:
                new = _GENERATORS[table](rng, count, added, ctx, stamp)
                _insert(conn, table, new)
                if table == "F4801":
                    ctx.doco_max = int(np.max(new["WADOCO"]))
            result[table] = (updated, added)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    return result


__all__ = ["DEFAULT_SEED", "TABLES", "julian_of_days", "table_counts", "touch", "write_demo_source"]
