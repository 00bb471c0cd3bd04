"""Tests of sim.data.observed: the shipped data and the validation of corrupt copies."""

from __future__ import annotations

import csv
import hashlib
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.data import observed as obs
from sim.data.observed import DataError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "korea_clusters"  # ../shared beside the repo


# ----------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------


@pytest.fixture()
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped data folder."""
    src = Path(str(obs.data_dir()))
    dst = tmp_path / "korea_clusters"
    dst.mkdir()
    for name in obs.DATA_FILES:
        shutil.copyfile(src / name, dst / name)
    return dst


def read_lines(path: Path) -> list[str]:
    """Lines without their terminator; lines[k] is line k + 1 of the file."""
    return path.read_text(encoding="utf-8").splitlines()


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def set_cell(path: Path, line: int, column: str, value: str) -> None:
    """Set one cell (line is 1-based, header = line 1)."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    k = rows[0].index(column)
    rows[line - 1][k] = value
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def line_of(path: Path, startswith: str) -> int:
    for k, line in enumerate(read_lines(path), start=1):
        if line.startswith(startswith):
            return k
    raise AssertionError(startswith)


# ----------------------------------------------------------------------------------------
# the shipped data
# ----------------------------------------------------------------------------------------


def test_shipped_files_are_byte_identical_to_shared_copy():
    if not SHARED.is_dir():
        pytest.skip("shared data folder not available")
    shipped = Path(str(obs.data_dir()))
    for src in SHARED.iterdir():
        dst = shipped / src.name
        assert dst.is_file(), src.name
        assert hashlib.sha256(dst.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()
    assert (shipped / "CITATION.md").is_file()
    assert "004_8c7fee62a0de25c9.txt" in (shipped / "CITATION.md").read_text(encoding="utf-8")


def test_shipped_data_loads():
    data = obs.load_all()
    assert len(data.clusters) == 38
    assert len(data.indices) == 76
    assert len(data.indices_wide) == 38
    assert len(data.economics) == 38
    assert len(data.intercluster) == 38
    assert len(data.top_links) == 25
    assert len(data.name_variants) == 366
    assert Counter(data.indices["year"]) == {2010: 38, 2020: 38}
    assert set(data.indices["id"]) == set(data.clusters["id"])
    assert data.cluster_ids() == obs.cluster_ids() == list(data.clusters["id"])
    assert len(set(obs.cluster_ids())) == 38


def test_withheld_and_typology_counts():
    clusters = obs.load_clusters()
    withheld = obs.withheld_ids()
    assert len(withheld) == 8
    assert withheld == obs.withheld_ids(clusters)
    labelled = clusters.dropna(subset=["typology_2020"])
    assert len(labelled) == 30
    counts = Counter(labelled["typology_2020"])
    # counts as they are in clusters.csv (the 30 published, non-withheld clusters)
    with (Path(str(obs.data_dir())) / "clusters.csv").open(encoding="utf-8") as fh:
        raw = Counter(r["typology_2020"] for r in csv.DictReader(fh) if r["typology_2020"])
    assert counts == raw
    assert counts == {"path_locked": 10, "resilient": 8, "centrifugal_dominant": 5, "other": 7}
    assert set(counts) <= set(obs.TYPOLOGIES)


def test_withheld_clusters_have_no_2020_indices_but_2010_values():
    data = obs.load_all()
    y2020 = data.indices_for_year(2020)
    y2010 = data.indices_for_year(2010)
    for cid in data.withheld_ids():
        assert y2020.loc[cid].isna().all()
        assert y2010.loc[cid].notna().all()


def test_documented_missing_values():
    data = obs.load_all()
    y2010 = data.indices_for_year(2010)
    no2010 = sorted(y2010.index[y2010.isna().all(axis=1)])
    assert no2010 == sorted(["wonju_medical_devices", "daegu_medical_devices", "daegu_it_services"])
    y2020 = data.indices_for_year(2020).drop(index=data.withheld_ids())
    assert y2020.isna().sum().sum() == 1
    assert np.isnan(y2020.loc["jeonbuk_food", "heterophily"])
    assert data.indices.loc[data.indices["year"] == 2010, "inclusiveness"].isna().all()


def test_types_and_values():
    data = obs.load_all()
    idx = data.indices
    assert idx["year"].dtype == np.int64
    assert str(idx["inclusiveness_rank"].dtype) == "Int64"
    assert idx[list(obs.INDEX_COLUMNS)].dtypes.eq(np.float64).all()
    row = idx[(idx["id"] == "jeonju_machinery") & (idx["year"] == 2020)].iloc[0]
    assert row["inclusiveness"] == pytest.approx(0.808)
    assert row["links"] == 694
    assert row["external_linkage"] == pytest.approx(-3.156)
    econ = data.economics.set_index("id")
    assert econ.loc["jeonju_machinery", "emp_growth_1y"] == pytest.approx(-0.0662)
    assert econ["firms"].dtype == np.int64
    assert set(data.clusters["sector_family"]) <= set(obs.SECTOR_FAMILIES)
    assert data.intercluster["weighted_in_degree"].sum() == 54624


def test_constants():
    assert set(obs.CENTRIPETAL) | set(obs.CENTRIFUGAL) == set(obs.INDEX_COLUMNS)
    assert not set(obs.CENTRIPETAL) & set(obs.CENTRIFUGAL)
    assert obs.TYPOLOGIES == ("path_locked", "resilient", "centrifugal_dominant", "other")


def test_load_all_from_user_folder(data_copy):
    data = obs.load_all(data_copy)
    assert len(data.clusters) == 38
    assert data.source == str(data_copy)
    single = obs.load_indices(data_copy / "indices.csv")
    pd.testing.assert_frame_equal(single, data.indices)


def test_normalize_name():
    assert obs.normalize_name("  목포\u30fb영암   조선업 ") == "목포\u00b7영암 조선업"


def test_crlf_and_bom_are_accepted(data_copy):
    p = data_copy / "clusters.csv"
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes().replace(b"\n", b"\r\n"))
    assert len(obs.load_clusters(p)) == 38


# ----------------------------------------------------------------------------------------
# corruptions
# ----------------------------------------------------------------------------------------


def test_missing_file(data_copy):
    (data_copy / "economics_2020.csv").unlink()
    with pytest.raises(DataError) as ei:
        obs.load_all(data_copy)
    msg = str(ei.value)
    assert msg.startswith("economics_2020.csv: file not found")
    assert "data_dir" in msg or "path" in msg
    assert "\n" not in msg


def test_missing_file_direct_path(tmp_path):
    with pytest.raises(DataError, match=r"^clusters\.csv: file not found"):
        obs.load_clusters(tmp_path / "clusters.csv")


def test_missing_data_dir(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        obs.load_all(tmp_path / "nope")


def test_missing_column(data_copy):
    p = data_copy / "indices.csv"
    lines = read_lines(p)
    with p.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    k = rows[0].index("hierarchy")
    rows = [r[:k] + r[k + 1 :] for r in rows]
    with p.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    assert len(read_lines(p)) == len(lines)
    with pytest.raises(DataError) as ei:
        obs.load_indices(p)
    msg = str(ei.value)
    assert msg.startswith("indices.csv: missing required column(s) 'hierarchy'")
    assert "expected columns: id, year," in msg
    assert "\n" not in msg


def test_duplicate_cluster_id(data_copy):
    p = data_copy / "clusters.csv"
    lines = read_lines(p)
    lines.insert(10, lines[3])  # duplicate the cluster on line 4 as new line 11
    write_lines(p, lines)
    dup_id = lines[3].split(",")[0]
    with pytest.raises(DataError) as ei:
        obs.load_clusters(p)
    msg = str(ei.value)
    assert msg.startswith("clusters.csv: duplicate cluster id")
    assert repr(dup_id) in msg
    assert "lines 4, 11" in msg


def test_duplicate_id_year_in_long_file(data_copy):
    p = data_copy / "indices.csv"
    lines = read_lines(p)
    lines.append(lines[2])
    write_lines(p, lines)
    with pytest.raises(DataError, match=r"^indices\.csv: duplicate \(id, year\) = \('jeonju_machinery', 2020\) on lines 3, 78"):
        obs.load_indices(p)


def test_non_numeric_cell(data_copy):
    p = data_copy / "indices.csv"
    line = line_of(p, "daejeon_machinery,2020")
    set_cell(p, line, "hierarchy", "abc")
    with pytest.raises(DataError) as ei:
        obs.load_all(data_copy)
    msg = str(ei.value)
    assert msg == f"indices.csv: line {line}, column 'hierarchy': 'abc' is not a number"


@pytest.mark.parametrize(
    "value, hint",
    [("-", "blank"), ("-4.19%", "decimals"), ("\u22120.5", "U+2212"), ("1_000", ""), ("nan", "blank")],
)
def test_non_numeric_variants(data_copy, value, hint):
    p = data_copy / "economics_2020.csv"
    set_cell(p, 5, "emp_growth_1y", value)
    with pytest.raises(DataError) as ei:
        obs.load_economics(p)
    msg = str(ei.value)
    assert msg.startswith(f"economics_2020.csv: line 5, column 'emp_growth_1y': {value!r} is not a number")
    assert hint in msg


def test_non_integer_in_integer_column(data_copy):
    p = data_copy / "intercluster_2020.csv"
    set_cell(p, 7, "weighted_degree", "12.5")
    with pytest.raises(DataError, match=r"^intercluster_2020\.csv: line 7, column 'weighted_degree': '12\.5' is not an integer"):
        obs.load_intercluster(p)


def test_blank_in_required_column(data_copy):
    p = data_copy / "economics_2020.csv"
    set_cell(p, 9, "firms", "")
    with pytest.raises(DataError, match=r"^economics_2020\.csv: line 9, column 'firms': blank cell"):
        obs.load_economics(p)


def test_blank_index_cells_are_nan(data_copy):
    p = data_copy / "indices.csv"
    set_cell(p, 2, "hierarchy", "")
    df = obs.load_indices(p)
    assert np.isnan(df.loc[0, "hierarchy"])


def test_unknown_id(data_copy):
    p = data_copy / "economics_2020.csv"
    set_cell(p, 12, "id", "atlantis_shipbuilding")
    with pytest.raises(DataError) as ei:
        obs.load_all(data_copy)
    assert str(ei.value) == (
        "economics_2020.csv: line 12, column 'id': cluster id 'atlantis_shipbuilding' is not in clusters.csv"
    )


def test_unknown_id_in_top_links_b_column(data_copy):
    p = data_copy / "intercluster_top_links_2020.csv"
    set_cell(p, 4, "b_id", "nowhere")
    with pytest.raises(DataError, match=r"^intercluster_top_links_2020\.csv: line 4, column 'b_id': cluster id 'nowhere'"):
        obs.load_top_links(p)


def test_unknown_id_checked_against_sibling_clusters_file(data_copy):
    # a direct load validates ids against clusters.csv in the same folder
    p = data_copy / "clusters.csv"
    lines = read_lines(p)
    victim = lines[1].split(",")[0]
    write_lines(p, [lines[0]] + lines[2:])
    with pytest.raises(DataError, match=f"cluster id '{victim}' is not in clusters.csv"):
        obs.load_intercluster(data_copy / "intercluster_2020.csv")
    # ... unless known_ids are given
    df = obs.load_intercluster(data_copy / "intercluster_2020.csv", known_ids=obs.cluster_ids())
    assert len(df) == 38


def test_unknown_typology(data_copy):
    p = data_copy / "clusters.csv"
    set_cell(p, 3, "typology_2020", "locked_in")
    with pytest.raises(DataError) as ei:
        obs.load_clusters(p)
    msg = str(ei.value)
    assert msg.startswith("clusters.csv: line 3, column 'typology_2020': unknown value 'locked_in'")
    assert "path_locked" in msg


def test_unknown_sector_family(data_copy):
    p = data_copy / "clusters.csv"
    set_cell(p, 6, "sector_family", "biotech")
    with pytest.raises(DataError, match=r"^clusters\.csv: line 6, column 'sector_family': unknown value 'biotech'"):
        obs.load_all(data_copy)


def test_unknown_year(data_copy):
    p = data_copy / "indices.csv"
    set_cell(p, 4, "year", "2015")
    with pytest.raises(DataError, match=r"^indices\.csv: line 4, column 'year': unknown value '2015'"):
        obs.load_indices(p)


def test_binary_garbage(data_copy):
    p = data_copy / "indices.csv"
    rng = np.random.default_rng(0)
    p.write_bytes(bytes(rng.integers(0, 256, 4096, dtype=np.uint8)))
    with pytest.raises(DataError) as ei:
        obs.load_indices(p)
    msg = str(ei.value)
    assert msg.startswith("indices.csv: ")
    assert "binary" in msg or "UTF-8" in msg
    assert "\n" not in msg


def test_non_utf8_text(data_copy):
    p = data_copy / "clusters.csv"
    p.write_bytes(p.read_text(encoding="utf-8").encode("cp949"))
    with pytest.raises(DataError, match=r"^clusters\.csv: not valid UTF-8 text"):
        obs.load_clusters(p)


def test_empty_file(data_copy):
    p = data_copy / "intercluster_2020.csv"
    p.write_bytes(b"")
    with pytest.raises(DataError, match=r"^intercluster_2020\.csv: the file is empty"):
        obs.load_intercluster(p)


def test_wrong_delimiter(data_copy):
    p = data_copy / "economics_2020.csv"
    p.write_text(p.read_text(encoding="utf-8").replace(",", ";"), encoding="utf-8")
    with pytest.raises(DataError) as ei:
        obs.load_economics(p)
    msg = str(ei.value)
    assert msg.startswith("economics_2020.csv: missing required column(s)")
    assert "not comma-separated" in msg
    assert "';'" in msg


def test_ragged_row(data_copy):
    p = data_copy / "intercluster_2020.csv"
    lines = read_lines(p)
    lines[5] = lines[5] + ",999"
    write_lines(p, lines)
    with pytest.raises(DataError, match=r"^intercluster_2020\.csv: line 6 has 8 fields but the header has 7"):
        obs.load_intercluster(p)


def test_wide_disagrees_with_long(data_copy):
    p = data_copy / "indices_wide.csv"
    line = line_of(p, "daegu_textiles,")
    set_cell(p, line, "hierarchy_2020", "9.999")
    with pytest.raises(DataError, match=rf"^indices_wide\.csv: line {line}, column 'hierarchy_2020': value 9\.999 disagrees"):
        obs.load_all(data_copy)


def test_messages_are_one_line(data_copy):
    p = data_copy / "clusters.csv"
    p.write_text("garbage\n\x01\x02", encoding="utf-8")
    with pytest.raises(DataError) as ei:
        obs.load_all(data_copy)
    assert "\n" not in str(ei.value)
    assert str(ei.value).startswith("clusters.csv: ")
    assert isinstance(ei.value, ValueError)
