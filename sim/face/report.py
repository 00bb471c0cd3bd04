"""A self-contained HTML report of a scenario projection (``clustersim report DIR``).

:func:`build_report` reads a folder written by :func:`scenarios.projection.project`
(``manifest.json``, ``indicators.parquet``, the scenario copies), recomputes the
effect and transition tables, draws every figure again and writes one HTML file
with the figures embedded as base64 PNG, so the file can be mailed to a
colleague as it is.  Sections: summary, scenarios and their policies
(mechanism, source, hypothesis), effects against the baseline with confidence
intervals, typology transitions, fan charts and the centripetal-centrifugal
plane, method notes, provenance (command, seeds, versions, git commit, file
digests), the scenario files themselves and the full references of the sources
cited (``docs/sources.md``).
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from scenarios.figures import figure_clusters, plot_effects, plot_fan, plot_planes
from scenarios.policies import REGISTRY
from scenarios.projection import load_projection
from sim.core.io import atomic_write_text
from sim.data.observed import load_sources
from sim.engine.experiments import StepProgress
from sim.face.options import check_output_file
from sim.indices.scores import TYPOLOGIES

__all__ = ["build_report", "render_report"]

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
h3{margin-bottom:.3em}
.table-wrap{overflow-x:auto;max-width:100%;margin:.6em 0 1.2em 0}
table{border-collapse:collapse;margin:0;font-size:.86em}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:right;vertical-align:top}
th{background:#f3f3f3}td.l,th.l{text-align:left}
.sig{font-weight:bold}.pos{color:#0a5}.neg{color:#b22}.muted{color:#777}
.box{background:#f7f9fc;border:1px solid #dde3ee;padding:.6em 1em;border-radius:4px}
.caveat{background:#fff4e5;border-left:4px solid #e08a00;padding:.4em .8em}
img{max-width:100%;border:1px solid #eee;margin:.4em 0}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:.82em}
code{font-size:.9em;overflow-wrap:anywhere}
h1,h2,h3,p,li,summary{overflow-wrap:break-word}
"""


def _e(x) -> str:
    return html.escape(str(x))


def _png(fig) -> str:

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _num(x, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return f"{int(x):,}"
    x = float(x)
    if not np.isfinite(x):
        return "–"
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _table(df: pd.DataFrame, left: tuple = (), fmt: dict | None = None, cls: dict | None = None) -> str:
    fmt = fmt or {}
    # a wide table scrolls inside its own box instead of widening the page
    out = ["<div class='table-wrap'><table><tr>"
           + "".join(f"<th class='{'l' if c in left else ''}'>{_e(c)}</th>" for c in df.columns) + "</tr>"]
    for i, row in df.iterrows():
        cells = []
        for c in df.columns:
            v = row[c]
            txt = fmt[c](v) if c in fmt else (_num(v) if isinstance(v, (float, int, np.floating, np.integer))
                                             and not isinstance(v, bool) else _e(v))
            klass = ("l " if c in left else "") + (cls[c](row) if cls and c in cls else "")
            cells.append(f"<td class='{klass.strip()}'>{txt}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table></div>")
    return "\n".join(out)


def _policy_rows(proj) -> str:

    parts = []
    y0 = proj.settings["start_year"]
    for s in proj.scenarios:
        parts.append(f"<h3>{_e(s.name)}{' (baseline)' if s.name == proj.baseline else ''}</h3>")
        if s.description:
            parts.append(f"<p>{_e(s.description)}</p>")
        if s.params:
            parts.append("<p>Parameter overrides: " + ", ".join(f"<code>{_e(k)} = {_e(v)}</code>"
                                                              for k, v in s.params.items()) + "</p>")
        if not s.policies:
            parts.append("<p class='muted'>No policy.</p>")
            continue
        rows = []
        for p in s.policies:
            cls = REGISTRY.get(p["policy"])
            start = y0 + p.get("start", 0.0)
            end = y0 + p["end"] if p.get("end") is not None else proj.settings["end_year"]
            extra = {k: v for k, v in p.items() if k not in ("policy", "start", "end", "target")}
            tgt = p.get("target", "all")
            rows.append({"policy": p["policy"], "years": f"{start:g}–{end:g}",
                         "target": ", ".join(tgt) if isinstance(tgt, list) else tgt,
                         "settings": ", ".join(f"{k} = {v}" for k, v in extra.items()) or "defaults",
                         "mechanism": cls.mechanism if cls else "", "hypothesis (source)":
                         f"{cls.hypothesis} ({cls.source})" if cls else ""})
        parts.append(_table(pd.DataFrame(rows), left=tuple(rows[0])))
    return "\n".join(parts)


def _effects_html(eff: pd.DataFrame, proj) -> str:
    if eff.empty:
        return "<p class='muted'>Only the baseline was projected: no effects.</p>"
    parts = []
    for s in [n for n in proj.names if n != proj.baseline]:
        e = eff[eff["scenario"] == s].copy()
        if e.empty:
            continue
        e["effect (95 % CI)"] = [
            f"{_num(d)} ({_num(lo)}, {_num(hi)})" for d, lo, hi in zip(e["diff"], e["ci_low"], e["ci_high"])]
        e["sig"] = (e["ci_low"] > 0) | (e["ci_high"] < 0)
        e["relative"] = [f"{r:+.1f} %" if np.isfinite(r) else "–" for r in e["rel_pct"]]
        show = e[["cluster", "indicator", "baseline_mean", "scenario_mean", "effect (95 % CI)", "relative",
                  "p_value", "crn_variance_ratio", "sig", "diff"]]
        parts.append(f"<h3>{_e(s)} − {_e(proj.baseline)}</h3>")
        body = show.drop(columns=["sig", "diff"]).rename(columns={
            "baseline_mean": "baseline", "scenario_mean": "scenario", "p_value": "p",
            "crn_variance_ratio": "CRN var. ratio"})
        body["_sig"], body["_diff"] = show["sig"].to_numpy(), show["diff"].to_numpy()
        html_t = _table(body.drop(columns=["_sig", "_diff"]), left=("cluster", "indicator"),
                        fmt={"p": lambda v: "–" if not np.isfinite(v) else ("<0.001" if v < 1e-3 else f"{v:.3f}")},
                        cls={"effect (95 % CI)": lambda r, b=body: _sigcls(b, r)})
        parts.append(html_t)
    return "\n".join(parts)


def _sigcls(body: pd.DataFrame, row) -> str:
    r = body.loc[row.name]
    if not r["_sig"]:
        return ""
    return "sig " + ("pos" if r["_diff"] > 0 else "neg")


def _summary(eff: pd.DataFrame, proj) -> str:
    if eff.empty:
        return ""
    lines = []
    for s in [n for n in proj.names if n != proj.baseline]:
        e = eff[(eff["scenario"] == s) & eff["cluster"].isin(["(targeted)", "(all)"])].set_index("indicator")
        bits = []
        for ind in ("centripetal", "centrifugal", "firms"):
            if ind in e.index:
                r = e.loc[ind]
                sig = (r["ci_low"] > 0) or (r["ci_high"] < 0)
                word = ("raises" if r["diff"] > 0 else "lowers") if sig else "does not clearly change"
                bits.append(f"{word} the {ind} {'score' if ind != 'firms' else 'count'} "
                            f"({_num(r['diff'])}, 95 % CI {_num(r['ci_low'])} to {_num(r['ci_high'])})")
        if bits:
            lines.append(f"<li><b>{_e(s)}</b> {'; '.join(bits)} of its targeted clusters by "
                         f"{proj.settings['end_year']}.</li>")
    return "<ul>" + "\n".join(lines) + "</ul>"


def render_report(proj, progress: bool = False) -> str:
    """The HTML text of the report of a loaded projection (:func:`scenarios.projection.load_projection`).

    With ``progress``, one line on stderr per section and per figure as it starts
    (:class:`sim.engine.experiments.StepProgress`).
    """

    matplotlib.use("Agg")

    fcl = figure_clusters(proj)
    note = StepProgress("report", 5 + len(fcl) + (1 if fcl else 0), progress)
    note("effect and transition tables")
    eff = proj.effects()
    trans = proj.transitions()
    co = proj.cluster_outcomes()
    h = _head(proj, eff)
    note("1. scenarios and policies")
    h.append("<h2>1. Scenarios and policies</h2>")
    h.append(_policy_rows(proj))
    note("2. effects against the baseline")
    h += _effects_section(proj, eff)
    note("3. typology transitions")
    h += _transitions_section(proj, trans, co, fcl)
    h += _paths_section(proj, fcl, note)
    note("5-8. method, provenance, scenario files and sources")
    h += _method_section()
    h += _provenance_section(proj)
    h += _files_section(proj)
    h += _sources_section(h)
    h.append("</body></html>")
    return "\n".join(h)


def _head(proj, eff: pd.DataFrame) -> list[str]:
    st, mf = proj.settings, proj.manifest
    n_cl = len(proj.simulated_clusters)
    title = f"Scenario projection {st['start_year']}–{st['end_year']}: " + ", ".join(proj.names)
    h = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
         f"<style>{_CSS}</style></head><body>",
         f"<h1>{_e(title)}</h1>",
         f"<p class='muted'>clustersim projection, created {_e(mf.get('created', '?'))}; "
         f"report generated from <code>{_e(proj.out)}</code>.</p>",
         "<div class='box'>",
         f"<p><b>Settings.</b> {len(proj.names)} scenarios, baseline <b>{_e(proj.baseline)}</b>"
         f"{' (added automatically)' if mf.get('baseline_added') else ''}; horizon {st['start_year']}–"
         f"{st['end_year']} ({st['years']} years) from the 2020 state; {st['replicates']} replicates per "
         f"scenario with common random numbers (root seed {st['seed']}); {n_cl} clusters simulated at scale "
         f"{_e(_scale(proj))}; states recorded every {st['record_every']} quarter(s)"
         f"{'; quick mode' if st.get('quick') else ''}.  Parameters: "
         + (f"from <code>{_e(mf['params_file']['path'])}</code>" if mf.get("params_file") else
            "model defaults (no calibrated parameter file given)") + ".</p>",
         *_caveat(proj),
         "<p><b>Main results</b> (mean paired difference to the baseline at the end of the horizon, over "
         "the targeted clusters):</p>", _summary(eff, proj), "</div>"]
    return h


#: Below these, a projection is a smoke test of the set-up, not a measurement of effects.
SMOKE_REPLICATES = 10
SMOKE_SCALE = 0.05


def _caveat(proj) -> list[str]:
    """A warning paragraph when the projection is too small for its intervals to mean much."""
    st = proj.settings
    scale = _scale_value(proj)
    small = st.get("quick") or st["replicates"] < SMOKE_REPLICATES or (scale is not None and scale < SMOKE_SCALE)
    if not small:
        return []
    why = "a quick-mode run" if st.get("quick") else "a small run"
    return [f"<p class='caveat'><b>Smoke test, not a measurement.</b> This projection is {why}: "
            f"{st['replicates']} replicates per scenario at scale {_e(_scale(proj))} (clusters of a few firms "
            f"each at the smallest scales).  Its intervals and verdicts only show that the set-up runs; measure "
            f"effects with at least {SMOKE_REPLICATES} replicates at scale {SMOKE_SCALE} or more.</p>"]


def _effects_section(proj, eff: pd.DataFrame) -> list[str]:
    st = proj.settings
    h = []
    h.append("<h2>2. Effects against the baseline</h2>")
    h.append("<p>Each row is the mean over replicates of (scenario − baseline) in the same replicate at "
             f"{st['end_year']}, with a 95 % t interval; bold = the interval excludes 0.  "
             "<i>(targeted)</i> averages the clusters the scenario's policies act on, <i>(others)</i> the "
             "rest (spill-overs).  The CRN variance ratio is var(paired difference) / (var(scenario) + "
             "var(baseline)): below 1, common random numbers made the comparison sharper than independent "
             "runs would.</p>")
    if not eff.empty:
        h.append(f"<img alt='effects' src='{_png(plot_effects(proj))}'>")
    h.append(_effects_html(eff, proj))
    return h


def _transitions_section(proj, trans: pd.DataFrame, co: pd.DataFrame, fcl: list[str]) -> list[str]:
    st = proj.settings
    h = []
    h.append("<h2>3. Typology transitions</h2>")
    h.append("<p>Probability of ending in each typology of [KRIHS-2020] (table 3-11) by "
             f"{st['end_year']}, from the typology at {st['start_year']}, over all simulated clusters and "
             "replicates.  The start typology is the same in every scenario (common random numbers).</p>")
    t = trans.copy()
    h.append(_table(t, left=("scenario", "start_typology"),
                    fmt={c: (lambda v: f"{v:.2f}") for c in t.columns if c.startswith("p_")}))
    if fcl:
        h.append("<h3>Clusters named by the policies</h3>")
        c2 = co[co["cluster"].isin(fcl)].copy()
        cols = ["scenario", "cluster", "start_typology"] + [f"p_{x}" for x in TYPOLOGIES] + \
            [f"d_{x}" for x in TYPOLOGIES if f"d_{x}" in c2.columns]
        c2 = c2[cols].sort_values(["cluster", "scenario"], kind="stable")
        h.append(_table(c2, left=("scenario", "cluster", "start_typology"),
                        fmt={c: (lambda v: f"{v:+.2f}" if np.isfinite(v) else "–") if c.startswith("d_")
                             else (lambda v: f"{v:.2f}") for c in cols if c[:2] in ("p_", "d_")}))
    return h


def _paths_section(proj, fcl: list[str], note=lambda step: None) -> list[str]:
    h = []
    h.append("<h2>4. Paths: fan charts and the centripetal–centrifugal plane</h2>")
    h.append("<p>Fan charts: grey = baseline (median, 25–75 % and 5–95 % of replicates), colours = "
             "scenarios acting on the cluster (median and 25–75 %); dashed lines mark policy starts.  "
             "Plane: ensemble-mean trajectories, 3-point moving average (dot = start, arrow = end); quadrants are "
             "the typology.</p>")
    for c in fcl:
        note(f"4. fan chart {c}")
        h.append(f"<img alt='fan chart {_e(c)}' src='{_png(plot_fan(proj, c))}'>")
    if fcl:
        note("4. centripetal-centrifugal plane")
        h.append(f"<img alt='plane' src='{_png(plot_planes(proj, fcl))}'>")
    return h


def _method_section() -> list[str]:
    h = []
    h.append("<h2>5. Method</h2>")
    h.append(
        "<p>Each scenario is run as an ensemble through clustersim's experiment engine with one design row "
        "per scenario and the same replicate seeds for every row (<code>SeedSequence(seed).spawn(replicates)"
        "</code>).  Replicate <i>r</i> of every scenario therefore starts from the same 2020 population and "
        "network and shares its random stream until a policy acts; each policy draws its own random numbers "
        "from a separate stream.  Effects are paired differences per replicate (common random numbers); "
        "intervals are t intervals over replicates.  The centripetal and centrifugal scores and the typology "
        "come from one labeller (sim.indices.scores.Labeller): each index is put on the published scale by "
        "the base model's measurement map, then the classifier fitted on the 30 published 2020 clusters gives "
        "the two factor scores (in units of the published clusters' spread) and the typology (its quadrants, "
        "a documented proxy of table 3-11 of [KRIHS-2020] with 14 of 30 correct out of sample; "
        "<code>docs/calibration.md</code>, Typology).  A model scale below 1 simulates that fraction of "
        "each cluster's firms: institutions placed by policies are whole organisations, so their relative "
        "weight is larger in a scaled-down system.  Policies' mechanisms and the hypotheses they test are "
        "documented in <code>docs/policies.md</code>.</p>")
    return h


def _provenance_section(proj) -> list[str]:
    st, mf = proj.settings, proj.manifest
    h = []
    h.append("<h2>6. Provenance</h2>")
    prov = {
        "command": mf.get("command"), "created": mf.get("created"), "wall time (s)": mf.get("wall_time_s"),
        "git commit": mf.get("git_commit"), "root seed": st.get("seed"),
        "replicate seeds": ", ".join(map(str, st.get("seeds", []))),
        "clusters": "all 38" if st.get("clusters") is None else ", ".join(st["clusters"]),
        "parameter file": (f"{mf['params_file']['path']} (sha256 {mf['params_file']['sha256'][:16]}…)"
                           if mf.get("params_file") else "none (defaults)"),
        "base parameters": ", ".join(f"{k}={v}" for k, v in (mf.get("base_params") or {}).items()) or "none",
        "engine": f"{(mf.get('engine') or {}).get('function')}, design {str((mf.get('engine') or {}).get('design_hash'))[:16]}…",
        "machine": f"{(mf.get('machine') or {}).get('platform')}, {(mf.get('machine') or {}).get('cpus')} CPUs",
        "versions": ", ".join(f"{k} {v}" for k, v in (mf.get("versions") or {}).items() if v),
    }
    h.append(_table(pd.DataFrame({"item": list(prov), "value": [str(v) for v in prov.values()]}),
                    left=("item", "value")))
    rows = [{"scenario": d["name"], "file": d.get("path") or "", "sha256": d.get("sha256", "")[:16] + "…",
             "targeted clusters": ", ".join(d.get("targeted", [])) or "none"} for d in mf.get("scenarios", [])]
    if rows:
        h.append(_table(pd.DataFrame(rows), left=tuple(rows[0])))
    full = {d["name"]: d.get("full_params", {}) for d in mf.get("scenarios", [])}
    if full:
        names = list(full)
        keys = list(next(iter(full.values())).keys())
        pt = pd.DataFrame({"parameter": keys, **{n: [str(full[n].get(k, "")) for k in keys] for n in names}})
        same = pt[names].nunique(axis=1) == 1
        h.append("<details><summary>Full parameter values (" +
                 ("identical in every scenario" if same.all() else f"{int((~same).sum())} differ between scenarios")
                 + ")</summary>" + _table(pt, left=("parameter",)) + "</details>")
    return h


def _files_section(proj) -> list[str]:
    h = []
    h.append("<h2>7. Scenario files</h2>")
    for s in proj.scenarios:
        text = s.text or ""
        if text:
            h.append(f"<details><summary>{_e(s.name)}</summary><pre>{_e(text)}</pre></details>")
    return h


#: A citation key as written in the text, e.g. ``[KRIHS-2020]`` (``docs/sources.md``).
CITATION = re.compile(r"\[([A-Za-z][A-Za-z]*(?:-[A-Za-z]+)*-\d{4})\]")


def _sources_section(parts: list[str]) -> list[str]:
    """The full references of the citation keys used in the report so far (the report travels alone)."""
    refs = load_sources()
    keys = list(dict.fromkeys(k for part in parts for k in CITATION.findall(html.unescape(part))))
    if not keys:
        return []
    items = "".join(f"<li><b>[{_e(k)}]</b> {_e(refs.get(k, 'reference missing from docs/sources.md'))}</li>"
                    for k in keys)
    return ["<h2>8. Sources</h2>",
            "<p>Sources are cited by key; item ids such as S4V-7 number the statements the project uses and "
            "are explained, with their place in the original, in <code>docs/sources.md</code> of "
            "clustersim.</p>",
            f"<ul>{items}</ul>"]


def _scale(proj) -> str:
    sc = proj.settings.get("scale")
    if sc is not None:
        return f"{sc:g}"
    vals = {d.get("full_params", {}).get("scale") for d in proj.manifest.get("scenarios", [])}
    return ", ".join(f"{v:g}" for v in vals if v is not None) or "?"


def _scale_value(proj) -> float | None:
    """The smallest simulated scale of the projection (None if unknown)."""
    sc = proj.settings.get("scale")
    if sc is not None:
        return float(sc)
    vals = [d.get("full_params", {}).get("scale") for d in proj.manifest.get("scenarios", [])]
    vals = [float(v) for v in vals if isinstance(v, (int, float))]
    return min(vals) if vals else None


def build_report(directory: str | os.PathLike, out: str | os.PathLike | None = None,
                 progress: bool = False) -> Path:
    """Write the HTML report of a projection folder; returns its path (default ``DIR/report.html``).

    With ``progress``, one line per section and figure on stderr (:func:`render_report`).
    """

    proj = load_projection(directory)
    path = check_output_file(out, Path(directory) / "report.html")  # not a folder, not empty, writable
    text = render_report(proj, progress=progress)
    atomic_write_text(path, text)
    return path
