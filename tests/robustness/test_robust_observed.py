"""Hypothesis-driven corruption of the observed-data files (sim.data.observed).

``tests/test_observed.py`` checks one hand-made corruption of each kind; here hypothesis
chooses the file, the row, the column and the bad text, and checks that every corruption
is refused with a one-line ``DataError`` that starts with the file name and names the line
and the column (or the key and both lines for a duplicate).  Random byte damage
(truncation, flipped bytes, inserted delimiters and quotes) must give either a valid table
or a ``DataError`` -- never another exception.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from robustness_helpers import examples

import sim.data.observed as obs

DataError = obs.DataError

SCHEMAS = obs._SCHEMAS  # the loaders' own column declarations
KEYS = obs._KEYS
LOADERS = {
    obs.FILE_CLUSTERS: obs.load_clusters,
    obs.FILE_INDICES: obs.load_indices,
    obs.FILE_INDICES_WIDE: obs.load_indices_wide,
    obs.FILE_ECONOMICS: obs.load_economics,
    obs.FILE_INTERCLUSTER: obs.load_intercluster,
    obs.FILE_TOP_LINKS: obs.load_top_links,
    obs.FILE_NAME_VARIANTS: obs.load_name_variants,
}
FILES = sorted(LOADERS)
NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
SHIPPED = Path(str(obs.data_dir()))
ORIGINAL = {name: (SHIPPED / name).read_text(encoding="utf-8-sig") for name in FILES}

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                      HealthCheck.filter_too_much, HealthCheck.too_slow])


@pytest.fixture()
def folder(tmp_path: Path):
    """A fresh copy of the data folder for every hypothesis example (call it)."""
    d = tmp_path / "data"
    d.mkdir(exist_ok=True)

    def fresh() -> Path:
        for name in obs.DATA_FILES:
            shutil.copyfile(SHIPPED / name, d / name)
        return d
    return fresh


def rows_of(name: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(ORIGINAL[name], newline="")))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def check_message(exc: DataError, name: str) -> str:
    msg = str(exc)
    assert msg.startswith(f"{name}: "), msg
    assert "\n" not in msg and "Traceback" not in msg, msg
    return msg


# ----------------------------------------------------------------------------- missing column
@settings(max_examples=examples(40), **SETTINGS)
@given(data=st.data())
def test_missing_column_is_named(folder, data):
    folder = folder()
    name = data.draw(st.sampled_from(FILES), label="file")
    col = data.draw(st.sampled_from([c.name for c in SCHEMAS[name]]), label="column")
    rows = rows_of(name)
    k = rows[0].index(col)
    write_rows(folder / name, [r[:k] + r[k + 1:] for r in rows])
    with pytest.raises(DataError) as ei:
        LOADERS[name](folder / name)
    msg = check_message(ei.value, name)
    assert "missing required column" in msg and repr(col) in msg, msg


@settings(max_examples=examples(25), **SETTINGS)
@given(data=st.data())
def test_renamed_column_is_named(folder, data):
    folder = folder()
    name = data.draw(st.sampled_from(FILES), label="file")
    col = data.draw(st.sampled_from([c.name for c in SCHEMAS[name]]), label="column")
    new = data.draw(st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)
                    .filter(lambda t: t.strip() and t.strip() not in {c.name for c in SCHEMAS[name]}
                            and t.strip() not in rows_of(name)[0]), label="new name")
    rows = rows_of(name)
    rows[0][rows[0].index(col)] = new
    write_rows(folder / name, rows)
    with pytest.raises(DataError) as ei:
        LOADERS[name](folder / name)
    msg = check_message(ei.value, name)
    assert repr(col) in msg, msg


# ----------------------------------------------------------------------------- duplicated key
KEYED = [n for n in FILES if KEYS[n]]


@settings(max_examples=examples(40), **SETTINGS)
@given(data=st.data())
def test_duplicated_key_names_both_lines(folder, data):
    folder = folder()
    name = data.draw(st.sampled_from(KEYED), label="file")
    rows = rows_of(name)
    n = len(rows) - 1
    src = data.draw(st.integers(1, n), label="row to copy")
    at = data.draw(st.integers(1, n + 1), label="insert before row")
    rows.insert(at, list(rows[src]))
    write_rows(folder / name, rows)
    with pytest.raises(DataError) as ei:
        LOADERS[name](folder / name)
    msg = check_message(ei.value, name)
    assert "duplicate" in msg, msg
    # 1-based lines of the two copies in the corrupted file (header = line 1)
    first, second = (src + 1, at + 1) if at > src else (at + 1, src + 2)
    assert f"lines {first}, {second}" in msg, (msg, first, second)


@settings(max_examples=examples(25), **SETTINGS)
@given(data=st.data())
def test_overwritten_cluster_id_is_a_duplicate(folder, data):
    folder = folder()
    name = obs.FILE_CLUSTERS
    rows = rows_of(name)
    n = len(rows) - 1
    a, b = data.draw(st.lists(st.integers(1, n), min_size=2, max_size=2, unique=True), label="rows")
    rows[b][0] = rows[a][0]
    write_rows(folder / name, rows)
    with pytest.raises(DataError) as ei:
        LOADERS[name](folder / name)
    msg = check_message(ei.value, name)
    assert f"duplicate cluster id {rows[a][0]!r}" in msg
    assert f"lines {min(a, b) + 1}, {max(a, b) + 1}" in msg


# ----------------------------------------------------------------------------- non-numeric cell
NUMERIC = [(n, c.name) for n in FILES for c in SCHEMAS[n] if c.kind in ("float", "int")]

NON_NUMBER = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n"), min_size=1, max_size=12),
    st.sampled_from(["-", "\u2013", "nan", "NaN", "inf", "-inf", "1,000", "1_000", "5%", "\u22120.5", "0x1F", "1e",
                     "e5", ".", "+", "1.2.3", "12 345", "\uff11\uff12", "\u0661", "TRUE", "null", "#N/A", "=1+1"]),
)


@settings(max_examples=examples(120), **SETTINGS)
@given(target=st.sampled_from(NUMERIC), data=st.data())
def test_non_numeric_cell_names_line_and_column(folder, target, data):
    folder = folder()
    name, col = target
    bad = data.draw(NON_NUMBER, label="bad cell")
    assume(bad.strip() and not NUMBER.match(bad.strip()))
    rows = rows_of(name)
    row = data.draw(st.integers(1, len(rows) - 1), label="row")
    rows[row][rows[0].index(col)] = bad
    write_rows(folder / name, rows)
    with pytest.raises(DataError) as ei:
        LOADERS[name](folder / name)
    msg = check_message(ei.value, name)
    assert f"line {row + 1}, column '{col}'" in msg, msg


def test_overflowing_number_is_refused(folder):
    folder = folder()
    name = obs.FILE_ECONOMICS
    rows = rows_of(name)
    rows[3][rows[0].index("emp_growth_1y")] = "1e999"
    write_rows(folder / name, rows)
    with pytest.raises(DataError, match=r"line 4, column 'emp_growth_1y'"):
        obs.load_economics(folder / name)


def test_integer_beyond_int64_is_refused(folder):
    folder = folder()
    name = obs.FILE_INTERCLUSTER
    rows = rows_of(name)
    rows[5][rows[0].index("weighted_degree")] = "1e30"
    write_rows(folder / name, rows)
    with pytest.raises(DataError, match=r"line 6, column 'weighted_degree'"):
        obs.load_intercluster(folder / name)


# ----------------------------------------------------------------------------- random damage
@settings(max_examples=examples(150), **SETTINGS)
@given(name=st.sampled_from(FILES), data=st.data())
def test_random_damage_is_refused_or_harmless(folder, name, data):
    folder = folder()
    raw = bytearray(ORIGINAL[name].encode("utf-8"))
    kind = data.draw(st.sampled_from(["truncate", "flip", "insert", "delete_line", "swap_lines"]), label="kind")
    if kind == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw)), label="at")]
    elif kind == "flip":
        for _ in range(data.draw(st.integers(1, 5), label="n")):
            i = data.draw(st.integers(0, len(raw) - 1), label="pos")
            raw[i] = data.draw(st.integers(0, 255), label="byte")
    elif kind == "insert":
        i = data.draw(st.integers(0, len(raw)), label="pos")
        junk = data.draw(st.sampled_from([b",", b'"', b"\n", b"\r", b"\x00", b"\xff", b";", b",,", b'""', b"\t"]),
                         label="junk")
        raw[i:i] = junk
    else:
        lines = bytes(raw).split(b"\n")
        i = data.draw(st.integers(0, len(lines) - 1), label="line")
        if kind == "delete_line":
            del lines[i]
        else:
            j = data.draw(st.integers(0, len(lines) - 1), label="other")
            lines[i], lines[j] = lines[j], lines[i]
        raw = bytearray(b"\n".join(lines))
    (folder / name).write_bytes(bytes(raw))
    try:
        frame = LOADERS[name](folder / name)
    except DataError as exc:
        check_message(exc, name)
        return
    # accepted: it must still satisfy the schema (types, no duplicate keys)
    for c in SCHEMAS[name]:
        assert c.name in frame.columns
        if not c.nullable:
            assert not frame[c.name].isna().any(), c.name
    if KEYS[name]:
        assert not frame.duplicated(list(KEYS[name])).any()


@settings(max_examples=examples(40), **SETTINGS)
@given(text=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_arbitrary_text_is_refused_or_parsed(folder, text):
    folder = folder()
    name = data_name = obs.FILE_ECONOMICS
    (folder / data_name).write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        LOADERS[name](folder / name)
    except DataError as exc:
        check_message(exc, name)
