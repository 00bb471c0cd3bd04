"""The 2010 initial states of a calibration, fitted by sequential design through the model runs.

:mod:`calibration.initial` holds the set-up's knobs and its emulator; here the model is run
(spin-up only, through :mod:`calibration.engine`) to train the emulator, check the achieved
2010 fit and refine it round by round (:func:`build_initial_states`), and to refit the
set-up at the estimated parameters (:func:`final_setup`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from calibration import engine
from calibration import initial as ini
from calibration.config import Config, log
from calibration.loss import TARGETS_2010
from calibration.measurement import MeasurementMap

__all__ = ["build_initial_states", "final_setup"]


def build_initial_states(cfg: Config, data, store: Path | None, *, n_jobs: int = 1, backend: str = "loky",
                         scheduler: str | None = None, resume: bool = False, progress: bool = False,
                         base_params: Mapping | None = None) -> tuple[ini.InitialStates, pd.DataFrame]:
    """Fit the 2010 set-up (:mod:`calibration.initial`) with ``setup_checks`` rounds of sequential design.

    Every round simulates the current set-up (``setup_replicates`` replicates, spin-up only)
    and measures the achieved 2010 fit; those runs and ``setup_local`` runs with jittered
    knobs are added to the emulator's training data, which is refitted and inverted again
    (the emulator learns the model where the solution is, including system-wide effects such
    as the national sector shares behind the location quotient). The round with the smallest
    achieved loss is kept. Returns the states and the per-round achieved losses.
    """
    names = ini.knobs()
    base = ini.base_table(data, scale=cfg.scale, min_firms=cfg.min_firms, backcast=cfg.backcast,
                          nascent_share=cfg.nascent_share, information=cfg.information)
    params = dict(base_params if base_params is not None else cfg.base_params())
    designs = ini.design_tables(base, cfg.setup_runs, names, seed=cfg.seed)
    d = pd.DataFrame({engine.RUN_KEY: [engine.encode_run(t, 0.0, spinup=cfg.spinup) for t in designs]})
    log(progress, f"initial states: {cfg.setup_runs} design runs (knobs: {', '.join(names)})")
    b = engine.run_batch(d, replicates=1, seed=cfg.seed, store=None if store is None else store / "setup-design",
                         constants=params, n_jobs=n_jobs, backend=backend, scheduler=scheduler, resume=resume,
                         progress=False)
    obs10 = data.indices_for_year(2010)
    fit10 = list(base.loc[base["has_2010"], "id"])
    all_tables = list(designs)
    rows = _rows_of(b, base["id"])
    all_raw = [b.values[:, 0, 0][:, rows]]
    states = ini.fit_initial_states(base, all_tables, np.concatenate(all_raw), b.outputs, obs10, names,
                                    seed=cfg.seed)
    rng = np.random.default_rng(cfg.seed + 31)
    history = []
    best = None
    for r in range(cfg.setup_checks + 1):
        table = states.model_table()
        dd = pd.DataFrame({engine.RUN_KEY: [engine.encode_run(table, 0.0, spinup=cfg.spinup)]})
        bc = engine.run_batch(dd, replicates=cfg.setup_replicates, seed=cfg.seed + 100 + r,
                              store=None if store is None else store / f"setup-check-{r}", constants=params,
                              n_jobs=n_jobs, backend=backend, scheduler=scheduler, resume=resume, progress=False)
        sim = bc.frame(0, 0)
        mm = MeasurementMap.fit({2010: sim}, {2010: obs10}, fit10, TARGETS_2010)
        losses = {k: mm.fits[2010][k].loss for k in TARGETS_2010}
        tot = float(np.nansum(list(losses.values())))
        history.append({"round": r, "total": tot, **losses})
        log(progress, f"  set-up round {r}: achieved 2010 loss {tot:.3f} "
                      + " ".join(f"{k[:5]}={v:.2f}" for k, v in losses.items()))
        if best is None or tot < best[0] - 1e-12:
            best = (tot, states)
        if r == cfg.setup_checks:
            break
        # sequential design: the check runs and jittered neighbours train the emulator further
        local = _jittered(table, names, cfg.setup_local, rng)
        dl = pd.DataFrame({engine.RUN_KEY: [engine.encode_run(t, 0.0, spinup=cfg.spinup) for t in local]})
        bl = engine.run_batch(dl, replicates=1, seed=cfg.seed + 200 + r,
                              store=None if store is None else store / f"setup-local-{r}", constants=params,
                              n_jobs=n_jobs, backend=backend, scheduler=scheduler, resume=resume, progress=False)
        all_tables += [table] * cfg.setup_replicates + local
        all_raw += [bc.values[0, :, 0][:, rows], bl.values[:, 0, 0][:, rows]]
        states = ini.fit_initial_states(base, all_tables, np.concatenate(all_raw), b.outputs, obs10, names,
                                        seed=cfg.seed)
    states = best[1]
    states.settings = {"scale": cfg.scale, "min_firms": cfg.min_firms, "backcast": cfg.backcast,
                       "nascent_share": cfg.nascent_share, "spinup": cfg.spinup, "setup_runs": cfg.setup_runs,
                       "setup_checks": cfg.setup_checks,
                       "selected_round": int(np.argmin([h["total"] for h in history]))}
    return states, pd.DataFrame(history)


def _rows_of(batch, ids) -> np.ndarray:
    """Positions in ``batch.clusters`` of the clusters ``ids`` (the set-up table's row order; the
    engine runs and returns clusters in the order of their ids, not of the table)."""
    pos = {c: i for i, c in enumerate(batch.clusters)}
    return np.array([pos[c] for c in ids], dtype=np.int64)


def _jittered(table: pd.DataFrame, names, n: int, rng: np.random.Generator) -> list[pd.DataFrame]:
    """``n`` copies of the set-up ``table`` with its knobs jittered (sd 0.08 in the knobs' unit scale)."""
    local = []
    for _ in range(n):
        t = table.copy()
        u = ini.scale_knobs(t, names) + rng.normal(0, 0.08, (len(t), len(names)))
        t[list(names)] = np.round(ini.unscale_knobs(u, names), 6)
        local.append(t)
    return local


def final_setup(cfg: Config, data, store: Path | None, states, history, model_params: Mapping, **kw):
    """Refit the 2010 set-up at the estimated model parameters (if ``cfg.refit_setup``)."""
    if not cfg.refit_setup:
        return states, history
    log(kw.get("progress", False), "initial states refitted at the estimate")
    return build_initial_states(cfg, data, None if store is None else store / "final-setup",
                                base_params={**cfg.base_params(), **dict(model_params)}, **kw)
