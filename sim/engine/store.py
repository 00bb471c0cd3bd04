"""The resumable on-disk result store of an experiment.

Layout of ``out_dir``::

    out_dir/
        manifest.json      seeds, design hash, function, versions, git commit,
                           status and counts of every session
        design.parquet     the design table (``experiment`` + parameters)
        runs/exp-000000_rep-0000.parquet
                           one file per finished run, written atomically; the
                           Parquet footer's key-value metadata (key
                           ``clustersim.run``, see :func:`read_run_record`)
                           holds experiment, replicate, seed, parameters,
                           constants, function, wall time and the sha256 of
                           the file's own bytes (computed with the digest
                           field set to 64 zeros)

:class:`Store` writes and verifies these files; :func:`check_resume` refuses to
continue a store made by a different experiment (:class:`ResumeMismatchError`).
``pandas.read_parquet(out_dir / "runs")`` reads all runs at once (without the
identifying columns); :func:`sim.engine.experiments.load_results` reads and verifies them.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.core.io import (
    MB,
    InputFileError,
    atomic_write_bytes,
    read_small_bytes,
    read_small_json,
    remove_stale_tmp,
)
from sim.core.provenance import git_commit, now, package_versions
from sim.engine.design import canonical_json, design_hash

__all__ = [
    "MANIFEST_FORMAT",
    "RUN_FORMAT",
    "RUN_METADATA_KEY",
    "ResumeMismatchError",
    "Store",
    "check_resume",
    "new_manifest",
    "read_run_record",
    "run_meta",
]

MANIFEST_FORMAT = "clustersim.experiments/1"
RUN_FORMAT = "clustersim.run/1"
RUN_METADATA_KEY = b"clustersim.run"
_RUN_NAME = re.compile(r"^exp-(\d+)_rep-(\d+)\.parquet$")
_PARQUET_WRITE_OPTIONS = {"compression": "zstd", "write_page_checksum": True}
_DIGEST_PLACEHOLDER = "0" * 64
#: The largest store manifest read (every session adds a few hundred bytes).
MANIFEST_LIMIT = 64 * MB
#: The largest run file read (one replicate of all 38 clusters at scale 1 for 50 years is far smaller).
RUN_FILE_LIMIT = 4096 * MB


class ResumeMismatchError(ValueError):
    """``resume=True`` against an ``out_dir`` made by a different experiment."""


def _parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, **_PARQUET_WRITE_OPTIONS)
    return buf.getvalue()


# --------------------------------------------------------------------------
# The result store
# --------------------------------------------------------------------------
class Store:
    """Directory of per-run Parquet files plus manifest and design."""

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.root = Path(out_dir)
        self.runs = self.root / "runs"
        self.manifest_path = self.root / "manifest.json"
        self.design_path = self.root / "design.parquet"
        self.manifest: dict = {}

    # ---- files -----------------------------------------------------------
    def run_path(self, experiment: int, replicate: int) -> Path:
        return self.runs / f"exp-{experiment:06d}_rep-{replicate:04d}.parquet"

    def run_files(self) -> dict[tuple[int, int], Path]:
        out = {}
        if self.runs.is_dir():
            for p in self.runs.iterdir():
                m = _RUN_NAME.match(p.name)
                if m:
                    out[(int(m.group(1)), int(m.group(2)))] = p
        return out

    def read_manifest(self) -> dict | None:
        """The stored manifest, or None (with a warning) if it is missing, unreadable, too large
        or has members of the wrong type; the run files are then checked one by one."""
        if not os.path.lexists(self.manifest_path):
            return None
        try:
            d = read_small_json(self.manifest_path, limit=MANIFEST_LIMIT, what="store manifest")
            problem = _manifest_problem(d)
        except InputFileError as exc:
            problem = str(exc).removeprefix(f"{self.manifest_path}: ")
        if problem:
            warnings.warn(f"cannot use {self.manifest_path} ({problem}); checking run files individually",
                          stacklevel=3)
            return None
        return d

    def write_manifest(self) -> None:
        atomic_write_bytes(self.manifest_path, (json.dumps(self.manifest, indent=2, default=str) + "\n").encode())

    def write_design(self, design: pd.DataFrame) -> None:
        atomic_write_bytes(self.design_path, _parquet_bytes(pa.Table.from_pandas(design, preserve_index=False)))

    def clean_temp_files(self) -> None:
        for d in (self.root, self.runs):
            remove_stale_tmp(d)

    def prepare(self, resume: bool) -> None:
        """Create the folders and drop left-over temporary files; refuse finished runs unless resuming."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.runs.mkdir(exist_ok=True)
        self.clean_temp_files()
        existing = self.run_files()
        if existing and not resume:
            raise FileExistsError(
                f"{self.root} already holds {len(existing)} finished run(s): pass --resume (resume=True) to "
                f"continue them, --overwrite to delete them and start again, or choose a new folder"
            )

    # ---- sessions --------------------------------------------------------
    def begin(self, manifest: dict, design: pd.DataFrame, session: dict) -> None:
        """Record a new session (started now, status running); write the design and the manifest."""
        self.manifest = manifest
        self.manifest["sessions"].append({"started": now(), **session, "status": "running"})
        self.write_design(design)
        self.write_manifest()

    def finish(self, status: str, counts: dict, error: str | None = None) -> None:
        """Close the current session with ``status`` and ``counts``; write the manifest."""
        self.manifest.update(status=status, counts=counts)
        session = self.manifest["sessions"][-1]
        session.update(finished=now(), status=status, counts=counts)
        if error:
            session["error"] = error
        self.write_manifest()

    # ---- one run ---------------------------------------------------------
    def write_run(self, experiment: int, replicate: int, frame: pd.DataFrame, meta: dict) -> pd.DataFrame:
        """Write one run atomically; return the frame as it reads back from disk."""
        table = pa.Table.from_pandas(frame, preserve_index=False)
        record = {**meta, "rows": table.num_rows, "sha256": _DIGEST_PLACEHOLDER}
        data = _run_file_bytes(table, canonical_json(record).encode())
        pos = data.rindex(b'"sha256":"' + _DIGEST_PLACEHOLDER.encode()) + len(b'"sha256":"')
        digest = hashlib.sha256(data).hexdigest().encode()
        data = data[:pos] + digest + data[pos + len(digest):]
        atomic_write_bytes(self.run_path(experiment, replicate), data)
        return pq.read_table(pa.BufferReader(data)).to_pandas()

    def read_run(self, path: Path, expected: dict) -> tuple[pd.DataFrame | None, str | None]:
        """Read and verify one run file; return (frame, None) or (None, reason)."""
        try:
            data = read_small_bytes(path, limit=RUN_FILE_LIMIT, what="run file")  # a regular file, not a FIFO
            raw = (pq.read_metadata(pa.BufferReader(data)).metadata or {}).get(RUN_METADATA_KEY)
        except Exception as exc:  # noqa: BLE001 - any read failure means a bad file
            return None, f"unreadable ({type(exc).__name__}: {exc})"
        if raw is None:
            return None, "missing its clustersim.run record"
        try:
            meta = json.loads(raw)
            stored = meta["sha256"]
            pos = data.rindex(raw) + raw.index(b'"sha256":"') + len(b'"sha256":"')
        except (ValueError, KeyError, TypeError):
            return None, "carrying an unreadable clustersim.run record"
        blank = data[:pos] + _DIGEST_PLACEHOLDER.encode() + data[pos + len(_DIGEST_PLACEHOLDER):]
        if hashlib.sha256(blank).hexdigest() != stored:
            return None, "failing its sha256 checksum (bytes changed or partially written)"
        for key in ("experiment", "replicate", "seed", "function"):
            if meta.get(key) != expected[key]:
                return None, f"from a different run ({key} {meta.get(key)!r}, expected {expected[key]!r})"
        for key in ("params", "constants"):
            if canonical_json(meta.get(key)) != canonical_json(expected[key]):
                return None, f"made with different {key} ({meta.get(key)!r}, expected {expected[key]!r})"
        try:
            return pq.read_table(pa.BufferReader(data), page_checksum_verification=True).to_pandas(), None
        except Exception as exc:  # noqa: BLE001
            return None, f"undecodable ({type(exc).__name__}: {exc})"


def _manifest_problem(d) -> str | None:
    """What is wrong with the types of a stored manifest's members (None if nothing)."""
    if not isinstance(d, dict):
        return "not a JSON object"
    seed = d.get("seed", {})
    if not isinstance(seed, dict):
        return "'seed' is not an object"
    ent = seed.get("entropy")
    if ent is not None and (isinstance(ent, bool) or not isinstance(ent, int)):
        return "'seed.entropy' is not an integer"
    seeds = seed.get("seeds", [])
    if not isinstance(seeds, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in seeds):
        return "'seed.seeds' is not a list of integers"
    for key, kind in (("constants", dict), ("sessions", list), ("counts", dict), ("parameters", list)):
        if not isinstance(d.get(key, kind()), kind):
            return f"'{key}' is not a JSON {'object' if kind is dict else 'list'}"
    for key in ("function", "design_hash", "created"):
        if d.get(key) is not None and not isinstance(d[key], str):
            return f"'{key}' is not a string"
    rep = d.get("replicates", 0)
    if isinstance(rep, bool) or not isinstance(rep, int) or not 0 <= rep <= 10 ** 9:
        return "'replicates' is not a whole number"
    return None


def _first_difference(a, b) -> str:
    """The first key (sorted) whose value differs between two dicts, shortened for a message."""
    a = a if isinstance(a, dict) else {}
    b = b if isinstance(b, dict) else {}
    for k in sorted(set(a) | set(b), key=str):
        va, vb = a.get(k, "(absent)"), b.get(k, "(absent)")
        if canonical_json(va) != canonical_json(vb):
            inner = _as_dict(va), _as_dict(vb)  # e.g. the run configuration, recorded as a JSON string
            if inner[0] is not None and inner[1] is not None:
                return f"{str(k)[:40]}.{_first_difference(*inner)}"
            return f"{str(k)[:40]} = {_short(va)}, now {_short(vb)}"
    return "(order or types)"


def _as_dict(v) -> dict | None:
    if isinstance(v, dict):
        return v
    if isinstance(v, str) and v.startswith("{"):
        try:
            d = json.loads(v)
        except (ValueError, RecursionError):
            return None
        return d if isinstance(d, dict) else None
    return None


def _short(v, n: int = 50) -> str:
    t = str(v)
    return t if len(t) <= n else t[: n - 3] + "..."


def _run_file_bytes(table: pa.Table, record: bytes) -> bytes:
    """Parquet bytes with the run record in the footer's key-value metadata only."""
    buf = io.BytesIO()
    with pq.ParquetWriter(buf, table.schema, **_PARQUET_WRITE_OPTIONS) as writer:
        writer.write_table(table)
        writer.add_key_value_metadata({RUN_METADATA_KEY: record})
    return buf.getvalue()


def read_run_record(path: str | os.PathLike) -> dict:
    """The provenance record of one run file (experiment, replicate, seed, params, sha256, ...).

    The ``sha256`` field is the digest of the file's bytes with the 64 hex
    digits of that field replaced by ``"0" * 64``.
    """
    raw = (pq.read_metadata(path).metadata or {}).get(RUN_METADATA_KEY)
    if raw is None:
        raise ValueError(f"{path} has no clustersim.run record")
    return json.loads(raw)


def new_manifest(stored: dict | None, *, function: str, entropy: int, seeds: list[int], n_experiments: int,
                 parameters: list[str], constants: dict, dhash: str) -> dict:
    """The manifest of a session starting now (earlier sessions and ``created`` kept from ``stored``)."""
    replicates = len(seeds)
    created = (stored or {}).get("created", now())
    return {
        "format": MANIFEST_FORMAT,
        "function": function,
        "seed": {"entropy": entropy, "seeds": seeds,
                 "spawn_keys": [[r] for r in range(replicates)],
                 "method": "SeedSequence(entropy).spawn(replicates); seed = generate_state(1, uint64)[0] >> 1"},
        "replicates": replicates,
        "n_experiments": n_experiments,
        "parameters": parameters,
        "constants": constants,
        "design_hash": dhash,
        "versions": package_versions(),
        "git_commit": git_commit(),
        "created": created,
        "status": "running",
        "counts": {},
        "sessions": list((stored or {}).get("sessions", [])),
    }


def run_meta(experiment: int, replicate: int, seed: int, params: dict, constants: dict, fname: str) -> dict:
    """The identity of one run, recorded in its file and compared on resume."""
    return {
        "format": RUN_FORMAT,
        "experiment": experiment,
        "replicate": replicate,
        "seed": seed,
        "params": params,
        "constants": constants,
        "function": fname,
    }


# --------------------------------------------------------------------------
# Resume checks
# --------------------------------------------------------------------------
def check_resume(store: Store, manifest: dict | None, design: pd.DataFrame, dhash: str,
                 seed: int | None, replicates: int, fname: str, constants: dict) -> None:
    """Refuse to resume a store made by a different experiment."""
    where = f"{store.root}"
    hint = " Use a new out_dir, or the original settings to resume."
    if manifest is None:
        if store.design_path.exists():
            try:
                stored = pd.read_parquet(store.design_path)
            except Exception as exc:  # noqa: BLE001
                warnings.warn(f"cannot read {store.design_path} ({exc}); checking run files individually",
                              stacklevel=3)
                return
            if design_hash(stored) != dhash:
                raise ResumeMismatchError(f"{where} holds a different design (design.parquet differs)." + hint)
        return
    if manifest.get("design_hash") != dhash:
        raise ResumeMismatchError(
            f"{where} holds a different design (hash {str(manifest.get('design_hash'))[:12]}..., "
            f"this design {dhash[:12]}...)." + hint)
    stored_entropy = manifest.get("seed", {}).get("entropy")
    if seed is None or stored_entropy != int(np.random.SeedSequence(seed).entropy):
        raise ResumeMismatchError(f"{where} was run with seed {stored_entropy}, not {seed}." + hint)
    if manifest.get("function") != fname:
        raise ResumeMismatchError(
            f"{where} was run with function {manifest.get('function')!r}, not {fname!r}." + hint)
    if canonical_json(manifest.get("constants", {})) != canonical_json(constants):
        raise ResumeMismatchError(
            f"{where} was run with other settings ({_first_difference(manifest.get('constants'), constants)})."
            + hint)
    if replicates < int(manifest.get("replicates", 0)):
        raise ResumeMismatchError(
            f"{where} holds {manifest.get('replicates')} replicates; resume may keep or increase that "
            f"number, not reduce it to {replicates}." + hint)
