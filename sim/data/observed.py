"""Observed data on 38 Korean regional industrial clusters (2010 / 2020), with validated loading.

The data are the cluster tables of chapter 3 of a Korean research report on regional
industrial clusters ([KRIHS-2020], tables 3-2 to 3-11; the project's file of the report is
``004_8c7fee62a0de25c9.txt``, and ``docs/sources.md`` gives the full reference). A copy
of the files ships with the package in ``sim/data/korea_clusters/`` together with
their ``README.md`` (the description of every column and of the data's quirks) and a
``CITATION.md``. Read the README before using the numbers.

Files and loaders
-----------------
=================================== ============================ ====
file                                loader                       rows
=================================== ============================ ====
``clusters.csv``                    :func:`load_clusters`        38
``indices.csv``                     :func:`load_indices`         76
``indices_wide.csv``                :func:`load_indices_wide`    38
``economics_2020.csv``              :func:`load_economics`       38
``intercluster_2020.csv``           :func:`load_intercluster`    38
``intercluster_top_links_2020.csv`` :func:`load_top_links`       25
``name_variants.csv``               :func:`load_name_variants`   366
=================================== ============================ ====

:func:`load_all` loads everything into an :class:`ObservedData` and also checks that
``indices_wide.csv`` holds the same values as ``indices.csv``.

Every loader takes an optional path so that a user can point to their own copy; with no
path, the shipped copy is found with :mod:`importlib.resources`.

Validation
----------
Every problem raises :class:`DataError` (a :class:`ValueError`) with a one-line message that
starts with the file name, e.g.::

    indices.csv: line 7, column 'hierarchy': 'abc' is not a number

Line numbers are 1-based as in a text editor, the header being line 1. Checked are:

* the file exists and is readable UTF-8 text (a UTF-8 byte-order mark is accepted), not
  binary;
* every required column is present (extra columns are kept as text); a header that parses as
  a single column usually means another delimiter, and the message says so;
* every row has as many fields as the header;
* numeric columns hold plain decimal numbers (``-0.0419``, ``1.5e-3``); integer columns hold
  integers;
* blank cells only where the README allows missing values (the indices of ``indices.csv``
  and ``indices_wide.csv`` and the 2010/2020-only columns there, ``aliases`` and
  ``typology_2020`` of ``clusters.csv``); a blank cell becomes ``NaN`` (``<NA>`` in integer
  columns, which use pandas' nullable ``Int64``);
* categorical columns hold a known value (:data:`TYPOLOGIES`, :data:`SECTOR_FAMILIES`,
  years 2010 / 2020);
* no duplicated key (cluster ``id``; ``(id, year)`` in ``indices.csv``; ``rank`` in the
  top-links file);
* every cluster id used in another file is listed in ``clusters.csv``.

Withheld values
---------------
For eight clusters the 2020 values (indices, rank, typology) are blank on purpose: they are
the project's out-of-sample test set (:func:`withheld_ids`). They must never be recovered or
imputed from other sources.

References
----------
[KRIHS-2020] Cho Sung-cheol, Jang Yo-han, Jang Eun-kyo and Kim Seok-yoon (2020). 지역산업
클러스터의 경쟁력 진단과 발전방안 연구 (A study diagnosing the competitiveness of regional
industrial clusters and directions for their development). Korea Research Institute for Human
Settlements; chapter 3, tables 3-2 to 3-11.  :func:`load_sources` returns every reference of
``docs/sources.md`` by its key.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, fields
from importlib import resources
from importlib.resources.abc import Traversable
from os import PathLike
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from sim.core.io import MB, InputFileError, read_small_bytes, read_small_json

__all__ = [
    "INDEX_COLUMNS",
    "CENTRIPETAL",
    "CENTRIFUGAL",
    "TYPOLOGIES",
    "SECTOR_FAMILIES",
    "YEARS",
    "DATA_FILES",
    "DataError",
    "ObservedData",
    "data_dir",
    "load_clusters",
    "load_indices",
    "load_indices_wide",
    "load_economics",
    "load_intercluster",
    "load_top_links",
    "load_name_variants",
    "load_all",
    "cluster_ids",
    "withheld_ids",
    "indices_for_year",
    "normalize_name",
    "load_sources",
]

# --------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------

#: The six structural indices of tables 3-6 to 3-8 (standardised scores on an unknown scale).
INDEX_COLUMNS: tuple[str, ...] = (
    "specialization",
    "related_variety",
    "hierarchy",
    "heterophily",
    "internal_cohesion",
    "external_linkage",
)
#: Centripetal (구심력) family: specialisation, hierarchy, internal cohesion.
CENTRIPETAL: tuple[str, ...] = ("specialization", "hierarchy", "internal_cohesion")
#: Centrifugal (원심력) family: related variety, heterophily, external linkage.
CENTRIFUGAL: tuple[str, ...] = ("related_variety", "heterophily", "external_linkage")
#: The 2020 typology of table 3-11.
TYPOLOGIES: tuple[str, ...] = ("path_locked", "resilient", "centrifugal_dominant", "other")
#: Allowed values of ``clusters.csv:sector_family``: the model's home sectors.
#: The sector families of the clusters (coarse sectors of the model's technology space, in this order).
SECTOR_FAMILIES: tuple[str, ...] = (
    "machinery",
    "shipbuilding_auto",
    "electronics",
    "chemicals",
    "textiles",
    "medical_devices",
    "services_it",
    "culture",
    "food",
    "urban_manufacturing",
)
#: Observation years.
YEARS: tuple[int, ...] = (2010, 2020)

_PACKAGE = "sim.data.korea_clusters"
#: The largest data file read from a user's folder (the shipped ones are under 100 KB).
DATA_LIMIT = 64 * MB

FILE_CLUSTERS = "clusters.csv"
FILE_INDICES = "indices.csv"
FILE_INDICES_WIDE = "indices_wide.csv"
FILE_ECONOMICS = "economics_2020.csv"
FILE_INTERCLUSTER = "intercluster_2020.csv"
FILE_TOP_LINKS = "intercluster_top_links_2020.csv"
FILE_NAME_VARIANTS = "name_variants.csv"

#: Every data file :func:`load_all` reads.
DATA_FILES: tuple[str, ...] = (
    FILE_CLUSTERS,
    FILE_INDICES,
    FILE_INDICES_WIDE,
    FILE_ECONOMICS,
    FILE_INTERCLUSTER,
    FILE_TOP_LINKS,
    FILE_NAME_VARIANTS,
)

_TABLES = tuple(f"3-{k}" for k in range(2, 12))


class DataError(ValueError):
    """An observed-data file is missing, unreadable or fails validation.

    The message is one line and starts with the file name.
    """


# --------------------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Col:
    """One column of a schema.

    kind is ``"str"``, ``"float"`` or ``"int"``; ``choices`` restricts the (non-blank)
    values; ``nullable`` allows blank cells.
    """

    name: str
    kind: str = "float"
    nullable: bool = False
    choices: tuple | None = None


def _floats(names: Iterable[str], nullable: bool = False) -> list[_Col]:
    return [_Col(n, "float", nullable) for n in names]


def _ints(names: Iterable[str], nullable: bool = False) -> list[_Col]:
    return [_Col(n, "int", nullable) for n in names]


_SCHEMAS: dict[str, list[_Col]] = {
    FILE_CLUSTERS: [
        _Col("id", "str"),
        _Col("name_ko", "str"),
        _Col("name_en", "str"),
        _Col("sector_family", "str", choices=SECTOR_FAMILIES),
        _Col("aliases", "str", nullable=True),
        _Col("typology_2020", "str", nullable=True, choices=TYPOLOGIES),
    ],
    FILE_INDICES: [
        _Col("id", "str"),
        _Col("year", "int", choices=YEARS),
        *_ints(["inclusiveness_rank"], nullable=True),
        *_floats(["inclusiveness"], nullable=True),
        *_ints(["links"], nullable=True),
        *_floats(INDEX_COLUMNS, nullable=True),
    ],
    FILE_INDICES_WIDE: [
        _Col("id", "str"),
        *_ints(["rank_2010", "rank_2020", "rank_change_printed", "links_2020"], nullable=True),
        *_floats(["inclusiveness_2020"], nullable=True),
        *_floats([f"{c}_{y}" for c in INDEX_COLUMNS for y in YEARS], nullable=True),
    ],
    FILE_ECONOMICS: [
        _Col("id", "str"),
        *_ints(["firms", "employees"]),
        *_floats(
            [
                "employees_per_firm",
                "emp_growth_1y",
                "emp_growth_2y",
                "sales_per_firm_kkrw",
                "net_income_per_firm_kkrw",
                "operating_income_per_firm_kkrw",
                "value_added_per_firm_kkrw",
                "patents_per_firm",
                "iso_per_firm",
                "rnd_to_sales",
                "tangible_asset_share",
                "labour_productivity_kkrw",
            ]
        ),
    ],
    FILE_INTERCLUSTER: [
        _Col("id", "str"),
        *_ints(["connected_clusters", "weighted_degree", "weighted_in_degree", "weighted_out_degree"]),
        *_floats(["betweenness", "pagerank"]),
    ],
    FILE_TOP_LINKS: [
        _Col("rank", "int"),
        _Col("a_id", "str"),
        _Col("b_id", "str"),
        *_ints(["supply_a_to_b", "purchase_a_from_b", "total"]),
        _Col("a_name_printed", "str"),
        _Col("b_name_printed", "str"),
    ],
    FILE_NAME_VARIANTS: [
        _Col("id", "str"),
        _Col("table", "str", choices=_TABLES),
        _Col("printed_name", "str"),
        _Col("normalized_name", "str"),
        _Col("is_canonical", "int", choices=(0, 1)),
    ],
}

# unique key columns and cluster-id (foreign key) columns per file
_KEYS: dict[str, tuple[str, ...]] = {
    FILE_CLUSTERS: ("id",),
    FILE_INDICES: ("id", "year"),
    FILE_INDICES_WIDE: ("id",),
    FILE_ECONOMICS: ("id",),
    FILE_INTERCLUSTER: ("id",),
    FILE_TOP_LINKS: ("rank",),
    FILE_NAME_VARIANTS: (),
}
_ID_COLUMNS: dict[str, tuple[str, ...]] = {
    FILE_CLUSTERS: (),
    FILE_INDICES: ("id",),
    FILE_INDICES_WIDE: ("id",),
    FILE_ECONOMICS: ("id",),
    FILE_INTERCLUSTER: ("id",),
    FILE_TOP_LINKS: ("a_id", "b_id"),
    FILE_NAME_VARIANTS: ("id",),
}

# a plain decimal number: no thousands separators, no '%', no 'nan'/'inf', no '_'
_NUMBER_RE = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


# --------------------------------------------------------------------------------------
# Locating and reading files
# --------------------------------------------------------------------------------------

_PathArg = str | PathLike | Traversable | None


def data_dir() -> Traversable:
    """Folder of the shipped data files (an :mod:`importlib.resources` Traversable).

    Returns
    -------
    importlib.resources.abc.Traversable
        ``sim/data/korea_clusters``; a :class:`pathlib.Path` for a normal install.
    """
    return resources.files(_PACKAGE)


def _resolve(path: _PathArg, filename: str) -> Traversable | Path:
    if path is None:
        return data_dir().joinpath(filename)
    if isinstance(path, (str, PathLike)):
        return Path(path)
    return path


def _display_name(src: Traversable | Path, filename: str) -> str:
    name = getattr(src, "name", None)
    return name or filename


def _read_text(src: Traversable | Path, fname: str, shipped: bool) -> str:
    where = f"shipped copy: {src}" if shipped else str(src)
    if shipped:
        fix_missing = (
            "reinstall clustersim (its package data is incomplete) or pass data_dir/path "
            f"pointing at a folder that holds {fname} and the other data files"
        )
        fix_corrupt = "reinstall clustersim or pass data_dir/path pointing at a good copy"
    else:
        fix_missing = f"check the path, or omit it to use the copy of {fname} shipped with clustersim"
        fix_corrupt = f"replace it with a good copy (one ships in {data_dir()})"
    try:
        if not src.is_file():
            raise DataError(f"{fname}: file not found ({where}); {fix_missing}")
        raw = src.read_bytes() if shipped else read_small_bytes(src, limit=DATA_LIMIT, what=f"{fname} data file")
    except InputFileError as exc:
        raise DataError(f"{fname}: {exc}; {fix_missing}") from None
    except DataError:
        raise
    except (FileNotFoundError, NotADirectoryError):
        raise DataError(f"{fname}: file not found ({where}); {fix_missing}") from None
    except OSError as exc:
        raise DataError(f"{fname}: cannot read the file ({where}): {exc.strerror or exc}") from None
    if not raw.strip():
        raise DataError(f"{fname}: the file is empty, so it is corrupt or truncated; {fix_corrupt}")
    if b"\x00" in raw:
        raise DataError(
            f"{fname}: the file contains NUL bytes, so it is binary or corrupt, not CSV text; {fix_corrupt}"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 1].hex()
        raise DataError(
            f"{fname}: not valid UTF-8 text (byte 0x{bad} at offset {exc.start}), so the file is "
            f"binary, corrupt or saved in another encoding (save it as UTF-8 CSV); {fix_corrupt}"
        ) from None


def _guess_delimiter(header_line: str) -> str | None:
    counts = {d: header_line.count(d) for d in (";", "\t", "|", ":")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else None


def _short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def _number_hint(value: str) -> str:
    if value in {"-", "–", "—"}:
        return " (leave the cell blank for a missing value)"
    if "%" in value:
        return " (write percentages as decimals, e.g. -4.19% -> -0.0419)"
    if "\u2212" in value:
        return " (it uses the Unicode minus sign U+2212; use '-')"
    if value.lower() in {"nan", "na", "n/a", "null", "none", "inf", "-inf"}:
        return " (leave the cell blank for a missing value)"
    return ""


def _parse_cell(fname: str, line: int, col: _Col, raw: str):
    """Convert one stripped cell; raise DataError naming file, line, column and value."""
    if raw == "":
        if not col.nullable:
            raise DataError(
                f"{fname}: line {line}, column '{col.name}': blank cell, but this column may not be blank"
            )
        return None
    if col.kind == "str":
        value = raw
    elif col.kind == "float":
        if not _NUMBER_RE.match(raw):
            raise DataError(
                f"{fname}: line {line}, column '{col.name}': {raw!r} is not a number{_number_hint(raw)}"
            )
        value = float(raw)
        if not math.isfinite(value):
            raise DataError(f"{fname}: line {line}, column '{col.name}': {raw!r} is too large to be a number")
    else:  # int
        if not _NUMBER_RE.match(raw):
            raise DataError(
                f"{fname}: line {line}, column '{col.name}': {raw!r} is not a number{_number_hint(raw)}"
            )
        f = float(raw)
        if not math.isfinite(f) or not -(2 ** 63) <= f < 2 ** 63:
            raise DataError(f"{fname}: line {line}, column '{col.name}': {raw!r} is out of the integer range")
        if not f.is_integer():
            raise DataError(f"{fname}: line {line}, column '{col.name}': {raw!r} is not an integer")
        value = int(f)
    if col.choices is not None and value not in col.choices:
        allowed = ", ".join(str(c) for c in col.choices) + (", or blank" if col.nullable else "")
        raise DataError(
            f"{fname}: line {line}, column '{col.name}': unknown value {raw!r} (allowed: {allowed})"
        )
    return value


def _parse_csv(text: str, fname: str, schema: Sequence[_Col]) -> tuple[pd.DataFrame, list[int]]:
    """Parse and type-check CSV text; return the frame and the 1-based line of every row."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=",", quotechar='"', strict=True)
    try:
        header = next(reader)
        while not header or all(not h.strip() for h in header):
            header = next(reader)
    except StopIteration:
        raise DataError(f"{fname}: the file has no header line; it is corrupt or truncated") from None
    except csv.Error as exc:
        raise DataError(f"{fname}: cannot parse the header as CSV ({exc}); the file is corrupt") from None
    header = [h.strip() for h in header]

    seen: dict[str, int] = {}
    for k, h in enumerate(header):
        if h in seen:
            raise DataError(f"{fname}: the header has column {h!r} twice (fields {seen[h] + 1} and {k + 1})")
        seen[h] = k

    expected = [c.name for c in schema]
    missing = [c for c in expected if c not in seen]
    if missing:
        if len(header) <= 2 and len(missing) >= len(expected) - 1:
            delim = _guess_delimiter(",".join(header))
            raise DataError(
                f"{fname}: missing required column(s): the header parsed as {len(header)} "
                "column(s), so the file is corrupt or not comma-separated"
                + (f" (it seems to use {delim!r} as delimiter)" if delim else "")
                + f"; expected columns: {', '.join(expected)}; found: {_short(repr(','.join(header)), 60)}"
            )
        raise DataError(
            f"{fname}: missing required column(s) {', '.join(repr(m) for m in missing)}; "
            f"expected columns: {', '.join(expected)}; found: {_short(', '.join(header), 200)}"
        )

    columns: dict[str, list] = {h: [] for h in header}
    lines: list[int] = []
    by_name = {c.name: c for c in schema}
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row) and len(row) <= 1:
                continue  # blank line
            if len(row) != len(header):
                raise DataError(
                    f"{fname}: line {line} has {len(row)} fields but the header has {len(header)}; "
                    "the file is corrupt or a value contains an unquoted ','"
                )
            for h, cell in zip(header, row):
                cell = cell.strip()
                col = by_name.get(h)
                columns[h].append(_parse_cell(fname, line, col, cell) if col else (cell or None))
            lines.append(line)
    except csv.Error as exc:
        raise DataError(f"{fname}: line {reader.line_num}: cannot parse as CSV ({exc}); the file is corrupt") from None

    data = {}
    for h in header:
        col = by_name.get(h)
        vals = columns[h]
        if col is None or col.kind == "str":
            data[h] = pd.Series([np.nan if v is None else v for v in vals], dtype=object)
        elif col.kind == "float":
            data[h] = pd.Series([np.nan if v is None else v for v in vals], dtype="float64")
        else:
            if col.nullable:
                data[h] = pd.Series(pd.array(vals, dtype="Int64"))
            else:
                data[h] = pd.Series(vals, dtype="int64")
    # required columns first, in schema order, extra columns after
    order = expected + [h for h in header if h not in by_name]
    frame = pd.DataFrame(data, columns=order)
    return frame, lines


def _check_unique(frame: pd.DataFrame, lines: list[int], fname: str, key: Sequence[str]) -> None:
    if not key:
        return
    first: dict = {}
    for k, tup in enumerate(frame[list(key)].itertuples(index=False, name=None)):
        if tup in first:
            what = (
                f"cluster id {tup[0]!r}"
                if key == ("id",)
                else f"{key[0]} {tup[0]!r}"
                if len(key) == 1
                else f"({', '.join(key)}) = ({', '.join(repr(x) for x in tup)})"
            )
            dup_lines = [lines[j] for j, t in enumerate(frame[list(key)].itertuples(index=False, name=None)) if t == tup]
            raise DataError(
                f"{fname}: duplicate {what} on lines {', '.join(str(x) for x in dup_lines)}"
            )
        first[tup] = k


def _check_ids(
    frame: pd.DataFrame, lines: list[int], fname: str, id_cols: Sequence[str], known: set[str] | None
) -> None:
    if known is None:
        return
    for col in id_cols:
        for k, value in enumerate(frame[col]):
            if value not in known:
                raise DataError(
                    f"{fname}: line {lines[k]}, column '{col}': cluster id {value!r} is not in clusters.csv"
                )


def _known_ids_for(path: _PathArg, fname: str, known_ids: Iterable[str] | None) -> set[str]:
    """Ids that ``fname`` may use: ``known_ids``, else a sibling clusters.csv, else the shipped one."""
    if known_ids is not None:
        return set(known_ids)
    if path is not None:
        src = _resolve(path, fname)
        parent = getattr(src, "parent", None)
        if parent is not None and Path(parent, FILE_CLUSTERS).is_file():
            return set(load_clusters(Path(parent, FILE_CLUSTERS))["id"])
    return set(load_clusters()["id"])


def _load(
    path: _PathArg,
    filename: str,
    known_ids: Iterable[str] | None | bool = None,
) -> pd.DataFrame:
    src = _resolve(path, filename)
    fname = _display_name(src, filename)
    text = _read_text(src, fname, shipped=path is None)
    frame, lines = _parse_csv(text, fname, _SCHEMAS[filename])
    _check_unique(frame, lines, fname, _KEYS[filename])
    if _ID_COLUMNS[filename] and known_ids is not False:
        known = _known_ids_for(path, filename, known_ids)  # type: ignore[arg-type]
        _check_ids(frame, lines, fname, _ID_COLUMNS[filename], known)
    frame.attrs["source"] = str(src)
    frame.attrs["lines"] = lines
    return frame


# --------------------------------------------------------------------------------------
# Public loaders
# --------------------------------------------------------------------------------------

_LOADER_DOC = """
    Parameters
    ----------
    path : str, os.PathLike or Traversable, optional
        The CSV file to read. ``None`` (default) reads the copy shipped in
        ``sim/data/korea_clusters/``.
    known_ids : iterable of str, optional
        Cluster ids the file may use. By default the ids of ``clusters.csv`` in the same
        folder as ``path`` (or of the shipped ``clusters.csv`` if that folder has none).

    Returns
    -------
    pandas.DataFrame
        One row per line of the file, in file order, with an ``id`` column (not the index).
        Blank cells are ``NaN`` (``<NA>`` in nullable integer columns).
        ``frame.attrs["lines"]`` holds the 1-based line number of every row.

    Raises
    ------
    DataError
        If the file is missing, unreadable or fails validation (see the module docstring).
"""


def load_clusters(path: _PathArg = None) -> pd.DataFrame:
    """Load ``clusters.csv``: the canonical list of the 38 clusters.

    Columns ``id``, ``name_ko``, ``name_en``, ``sector_family`` (one of
    :data:`SECTOR_FAMILIES`), ``aliases`` (``|``-separated, NaN if none) and
    ``typology_2020`` (one of :data:`TYPOLOGIES`, [KRIHS-2020] table 3-11;
    NaN for the eight withheld clusters, see :func:`withheld_ids`).

    Parameters
    ----------
    path : str, os.PathLike or Traversable, optional
        The CSV file; ``None`` reads the shipped copy.

    Returns
    -------
    pandas.DataFrame
        38 rows for the shipped data; ``frame.attrs["lines"]`` holds each row's line number.

    Raises
    ------
    DataError
        Missing/corrupt file, missing column, blank or duplicated id, unknown
        ``sector_family`` or ``typology_2020``.
    """
    return _load(path, FILE_CLUSTERS, known_ids=False)


def load_indices(path: _PathArg = None, *, known_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Load ``indices.csv``: the structural indices in long form (one row per id and year).

    Columns ``id``, ``year`` (2010 or 2020), ``inclusiveness_rank`` (Int64),
    ``inclusiveness`` (2020 only), ``links`` (Int64, 2020 only) and the six
    :data:`INDEX_COLUMNS` (tables 3-2, 3-6, 3-7, 3-8). The indices are standardised scores on
    an unknown affine scale (see the data README). Blank = missing: three clusters have no
    2010 values, one has no 2020 heterophily, and the eight withheld clusters have no 2020
    values.
    """
    return _load(path, FILE_INDICES, known_ids)


def load_indices_wide(path: _PathArg = None, *, known_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Load ``indices_wide.csv``: the values of ``indices.csv`` with one row per cluster.

    Columns ``rank_2010``, ``rank_2020``, ``rank_change_printed`` (unreliable, as printed),
    ``links_2020``, ``inclusiveness_2020`` and ``<index>_2010`` / ``<index>_2020`` for each
    of the :data:`INDEX_COLUMNS`.
    """
    return _load(path, FILE_INDICES_WIDE, known_ids)


def load_economics(path: _PathArg = None, *, known_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Load ``economics_2020.csv``: size, employment, finance and innovation, 2020 (tables 3-3 to 3-5).

    Percentages are decimals (``emp_growth_1y = -0.0419`` means -4.19 %); money columns are
    thousand KRW per establishment. No blank cells are allowed.
    """
    return _load(path, FILE_ECONOMICS, known_ids)


def load_intercluster(path: _PathArg = None, *, known_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Load ``intercluster_2020.csv``: centralities in the 2020 inter-cluster network (table 3-9)."""
    return _load(path, FILE_INTERCLUSTER, known_ids)


def load_top_links(path: _PathArg = None, *, known_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Load ``intercluster_top_links_2020.csv``: the top-25 inter-cluster links of 2020 (table 3-10).

    Both ``a_id`` and ``b_id`` must be ids of ``clusters.csv``; ``rank`` must be unique.
    Note that two unordered pairs appear twice with A and B swapped (see the data README).
    """
    return _load(path, FILE_TOP_LINKS, known_ids)


def load_name_variants(path: _PathArg = None, *, known_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Load ``name_variants.csv``: every printed cluster name per table, mapped to its id."""
    return _load(path, FILE_NAME_VARIANTS, known_ids)


for _f in (load_indices, load_indices_wide, load_economics, load_intercluster, load_top_links, load_name_variants):
    _f.__doc__ = (_f.__doc__ or "") + _LOADER_DOC
del _f


@dataclass
class ObservedData:
    """All observed tables, as loaded by :func:`load_all`.

    Attributes
    ----------
    clusters, indices, indices_wide, economics, intercluster, top_links, name_variants :
        pandas.DataFrame
        The frames returned by the corresponding ``load_*`` functions.
    source : str
        Folder the files were read from.
    """

    clusters: pd.DataFrame
    indices: pd.DataFrame
    indices_wide: pd.DataFrame
    economics: pd.DataFrame
    intercluster: pd.DataFrame
    top_links: pd.DataFrame
    name_variants: pd.DataFrame
    source: str = ""

    def cluster_ids(self) -> list[str]:
        """Cluster ids in file order (see :func:`cluster_ids`)."""
        return cluster_ids(self.clusters)

    def withheld_ids(self) -> list[str]:
        """Ids of the clusters whose 2020 values are withheld (see :func:`withheld_ids`)."""
        return withheld_ids(self.clusters)

    def indices_for_year(self, year: int) -> pd.DataFrame:
        """The six indices of one year, indexed by id (see :func:`indices_for_year`)."""
        return indices_for_year(self.indices, year)

    def frames(self) -> dict[str, pd.DataFrame]:
        """The frames by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "source"}


def _check_wide_matches_long(long: pd.DataFrame, wide: pd.DataFrame) -> None:
    """Raise DataError if indices_wide.csv disagrees with indices.csv."""
    lines_w = wide.attrs.get("lines", list(range(2, len(wide) + 2)))
    lines_l = long.attrs.get("lines", list(range(2, len(long) + 2)))
    pos_l = {(i, int(y)): k for k, (i, y) in enumerate(zip(long["id"], long["year"]))}
    pairs = [("rank", "inclusiveness_rank", YEARS), ("links", "links", (2020,)),
             ("inclusiveness", "inclusiveness", (2020,))]
    pairs += [(c, c, YEARS) for c in INDEX_COLUMNS]
    for kw, cid in enumerate(wide["id"]):
        for wprefix, lcol, years in pairs:
            for year in years:
                wcol = f"{wprefix}_{year}"
                a = wide[wcol].iloc[kw]
                kl = pos_l.get((cid, year))
                b = long[lcol].iloc[kl] if kl is not None else np.nan
                na, nb = pd.isna(a), pd.isna(b)
                if na and nb:
                    continue
                if na != nb or not np.isclose(float(a), float(b), rtol=0, atol=1e-9):
                    where = f"line {lines_l[kl]}" if kl is not None else "no row"
                    raise DataError(
                        f"indices_wide.csv: line {lines_w[kw]}, column '{wcol}': value "
                        f"{'blank' if na else a} disagrees with indices.csv ({where}, column "
                        f"'{lcol}', year {year}: {'blank' if nb else b})"
                    )


def load_all(data_dir: str | PathLike | Traversable | None = None) -> ObservedData:
    """Load and cross-check every observed data file.

    Parameters
    ----------
    data_dir : str, os.PathLike or Traversable, optional
        Folder holding the files of :data:`DATA_FILES`. ``None`` (default) uses the copy
        shipped with the package.

    Returns
    -------
    ObservedData

    Raises
    ------
    DataError
        If any file is missing or invalid, if a file uses a cluster id that is not in
        ``clusters.csv`` of the same folder, or if ``indices_wide.csv`` disagrees with
        ``indices.csv``.
    """
    base = _base_dir(data_dir)
    shipped = data_dir is None

    def p(name: str):
        return None if shipped else base.joinpath(name)

    clusters = load_clusters(p(FILE_CLUSTERS))
    ids = set(clusters["id"])
    out = ObservedData(
        clusters=clusters,
        indices=load_indices(p(FILE_INDICES), known_ids=ids),
        indices_wide=load_indices_wide(p(FILE_INDICES_WIDE), known_ids=ids),
        economics=load_economics(p(FILE_ECONOMICS), known_ids=ids),
        intercluster=load_intercluster(p(FILE_INTERCLUSTER), known_ids=ids),
        top_links=load_top_links(p(FILE_TOP_LINKS), known_ids=ids),
        name_variants=load_name_variants(p(FILE_NAME_VARIANTS), known_ids=ids),
        source=str(base),
    )
    _check_wide_matches_long(out.indices, out.indices_wide)
    return out


def _base_dir(folder: str | PathLike | Traversable | None) -> Traversable | Path:
    if folder is None:
        return data_dir()
    if isinstance(folder, (str, PathLike)):
        folder = Path(folder)
        if not folder.is_dir():
            raise DataError(
                f"{FILE_CLUSTERS}: data folder {str(folder)!r} does not exist; pass data_dir= a "
                f"folder holding {', '.join(DATA_FILES)}, or omit it to use the shipped copy"
            )
    return folder


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def cluster_ids(clusters: pd.DataFrame | None = None) -> list[str]:
    """Ids of all clusters, in the order of ``clusters.csv``.

    Parameters
    ----------
    clusters : pandas.DataFrame, optional
        A frame from :func:`load_clusters`; ``None`` loads the shipped file.
    """
    if clusters is None:
        clusters = load_clusters()
    return list(clusters["id"])


def withheld_ids(clusters: pd.DataFrame | None = None) -> list[str]:
    """Ids of the clusters whose 2020 values are withheld (blank ``typology_2020``).

    These eight clusters are the project's out-of-sample test set: their 2010 values,
    2020 economics and inter-cluster figures are given, their 2020 indices and typology are
    not. Never fit anything on them and never try to recover their 2020 values.

    Parameters
    ----------
    clusters : pandas.DataFrame, optional
        A frame from :func:`load_clusters`; ``None`` loads the shipped file.

    Returns
    -------
    list of str
        In the order of ``clusters.csv``.
    """
    if clusters is None:
        clusters = load_clusters()
    return list(clusters.loc[clusters["typology_2020"].isna(), "id"])


def indices_for_year(indices: pd.DataFrame | None, year: int) -> pd.DataFrame:
    """The six :data:`INDEX_COLUMNS` of one year, indexed by cluster id.

    Parameters
    ----------
    indices : pandas.DataFrame or None
        Long frame from :func:`load_indices` (``None`` loads the shipped file).
    year : int
        2010 or 2020.

    Returns
    -------
    pandas.DataFrame
        Index ``id`` (file order), columns :data:`INDEX_COLUMNS`, NaN where missing.
    """
    if indices is None:
        indices = load_indices()
    if year not in set(indices["year"]):
        raise ValueError(f"year {year} not in the data (years: {sorted(set(indices['year']))})")
    sub = indices.loc[indices["year"] == year, ["id", *INDEX_COLUMNS]]
    return sub.set_index("id")


def normalize_name(name: str) -> str:
    """Normalise a printed cluster name as the data README prescribes.

    Replaces the middle dot U+30FB (``・``, table 3-11) by U+00B7 (``·``), collapses runs of
    whitespace to one space and strips.
    """
    return re.sub(r"\s+", " ", name.replace("\u30fb", "\u00b7")).strip()


#: The bibliography shipped with the package (``sim/data/sources.json``, a copy of the references of
#: ``docs/sources.md``).
SOURCES_FILE = "sources.json"


def load_sources() -> dict[str, str]:
    """The project's bibliography: citation key (``"KRIHS-2020"``) -> full reference.

    The keys are those of ``docs/sources.md`` (cited as ``[KEY]`` in the documentation, the
    policies' ``source`` and the HTML report, which prints the references it cites).
    """
    data = read_small_json(Path(__file__).with_name(SOURCES_FILE), limit=MB, what="bibliography")
    return {str(k): str(v) for k, v in data["references"].items()}
