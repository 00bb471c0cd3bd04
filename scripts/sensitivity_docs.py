"""Regenerate the Morris screening of ``docs/sensitivity.md`` from the current model.

Run it from anywhere, on purpose, after a change of the model's behaviour (a new run hash in
``sim/engine/baseline.json``; ``tests/test_docs.py`` fails until you do)::

    python scripts/sensitivity_docs.py            # runs the documented command, rewrites the doc
    python scripts/sensitivity_docs.py --check    # only compares the doc's run hash with the golden one
    python scripts/sensitivity_docs.py --figures  # redraws the doc's figures from the command's finished output

It takes the ``clustersim sensitivity --method morris ...`` command written in the section
"The command" of ``docs/sensitivity.md``, runs it with this checkout's code (into the command's
``--out``, relative to the repository root, starting again from nothing unless ``--resume``),
and rewrites everything between ``<!-- morris:start -->`` and ``<!-- morris:end -->``: the size
and run time of the design, one ranking table of mu* (with its 95 % confidence half-width) and
sigma per outcome, the noise shares, a reading derived from these numbers only, and a line
stating the command, the date and the model's golden run hash
(``sim.engine.baseline.golden()["run"]``) the numbers came from. The figures the doc shows
(``docs/img/morris_<outcome>.png``) are replaced by the new ones.

The model must behave as its golden record says (``python scripts/regenerate_baseline.py
--check``); otherwise the numbers would not come from the recorded hash, and the script stops.
The interpretation written by hand below the markers records the run hash it was written for
(``<!-- morris:reading run=... -->``); after a regeneration that changes the hash, re-read it
against the new tables and update its hash (the test fails until you do).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the model of this checkout, not of an installed copy
    sys.path.insert(0, str(ROOT))

import pandas as pd

DOC = ROOT / "docs" / "sensitivity.md"
IMG = ROOT / "docs" / "img"
START, END = "<!-- morris:start -->", "<!-- morris:end -->"
#: The hand-written interpretation's record of the run hash it was written for.
READING = re.compile(r"<!-- morris:reading run=([0-9a-f]{64}) -->")
#: The run hash the generated block records.
RECORDED = re.compile(r"golden run hash `([0-9a-f]{64})`")
PROGRAM = "clustersim sensitivity"
LABELS = {"centripetal": "centripetal score", "centrifugal": "centrifugal score",
          "p_path_locked": "P(path-locked)", "p_resilient": "P(resilient)",
          "p_centrifugal_dominant": "P(centrifugal-dominant)", "p_other": "P(other)",
          "firms": "firm count (mean per cluster)"}
#: Noise share above which a ranking is called noisy, and below which it is called sharp.
NOISY, SHARP = 0.25, 0.05


# ----------------------------------------------------------------------------- reading the doc
def documented_command(text: str) -> list[str]:
    """The Morris command of the doc's section "The command", as argv (``clustersim`` first)."""
    section = text.split("## The command", 1)[1].split("\n## ", 1)[0]
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL):
        line = block.replace("\\\n", " ").strip()
        if line.startswith(PROGRAM + " ") and "--method morris" in line:
            return shlex.split(line)
    raise SystemExit(f"{DOC}: no '{PROGRAM} --method morris ...' block in the section 'The command'")


def option(argv: list[str], name: str) -> str | None:
    """The value of ``--name VALUE`` in argv (or None)."""
    return argv[argv.index(name) + 1] if name in argv else None


def recorded_hashes(text: str) -> dict[str, str | None]:
    """The run hashes the doc records: of the generated numbers and of the hand-written reading."""
    block = text.split(START, 1)[1].split(END, 1)[0] if START in text and END in text else ""
    m, r = RECORDED.search(block), READING.search(text)
    return {"numbers": m.group(1) if m else None, "reading": r.group(1) if r else None}


# ----------------------------------------------------------------------------- writing the block
def fmt(x: float) -> str:
    """Three significant digits, without exponents."""
    if pd.isna(x):
        return "n/a"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.1e}"


def label(outcome: str) -> str:
    return LABELS.get(outcome, f"`{outcome}`")


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def reading(idx: pd.DataFrame, noise: pd.DataFrame, outcomes: list[str]) -> list[str]:
    """Sentences that follow from the numbers alone (regenerated with them), as list items."""
    out = []
    for o in outcomes:
        g = idx[idx.outcome == o].sort_values("mu_star", ascending=False).reset_index(drop=True)
        top, nxt = g.iloc[0], g.iloc[1]
        # factors whose mu* interval overlaps the leader's
        tied = [f"`{r.parameter}`" for r in g.iloc[1:].itertuples()
                if r.mu_star + r.mu_star_conf >= top.mu_star - top.mu_star_conf]
        s = f"* {label(o)[0].upper() + label(o)[1:]}: `{top.parameter}` ranks first (μ\\* {fmt(top.mu_star)} ± " \
            f"{fmt(top.mu_star_conf)})"
        if not tied:
            s += (f", its interval clear of the second, `{nxt.parameter}` ({fmt(nxt.mu_star)} ± "
                  f"{fmt(nxt.mu_star_conf)})")
        elif len(tied) <= 3:
            s += (f", but its interval overlaps {'that' if len(tied) == 1 else 'those'} of {_join(tied)}: "
                  f"their order is not resolved")
        else:
            s += (f", but its interval overlaps those of {len(tied)} other factors (down to rank {len(tied) + 1}): "
                  f"the order among them is not resolved at this design size")
        nil = g[g.mu_star <= g.mu_star_conf]["parameter"].tolist()
        if nil:
            s += (f"; the interval{'s' if len(nil) > 1 else ''} of {_join([f'`{p}`' for p in nil])} "
                  f"reach{'' if len(nil) > 1 else 'es'} zero (no effect distinguishable from none)")
        head = g.head(5)
        nonlin = head[(head.sigma > head.mu_star) & (head.mu_star > head.mu_star_conf)]["parameter"].tolist()
        if nonlin:
            s += (f"; among the first five, σ exceeds μ\\* for {_join([f'`{p}`' for p in nonlin])} (an effect that "
                  f"depends on the other factors or changes sign)")
        out.append(s + ".")
    shares = noise.set_index("outcome")["noise_share"]
    noisy = [label(o) for o in outcomes if shares.get(o, 0) > NOISY]
    sharp = [label(o) for o in outcomes if shares.get(o, 1) < SHARP]
    if sharp:
        out.append(f"* Seed noise is below {SHARP} of the variance for {_join(sharp)}: at this scale the replicate "
                   f"means rank the factors sharply.")
    if noisy:
        out.append(f"* Seed noise is above {NOISY} of the variance for {_join(noisy)}: "
                   f"{'its ranking needs' if len(noisy) == 1 else 'their rankings need'} more replicates or a "
                   f"larger scale before {'it is' if len(noisy) == 1 else 'they are'} trusted.")
    return out


def block(argv: list[str], out: Path, run_hash: str) -> str:
    """The generated Markdown between the markers."""
    idx = pd.read_csv(out / "morris_indices.csv")
    noise = pd.read_csv(out / "morris_noise.csv")
    man = json.loads((out / "manifest.json").read_text())
    outcomes, factors = man["outcomes"], list(man["factors"])
    clusters = man["clusters"] or ([man["cluster"]] if man["cluster"] else None)
    if clusters is None:
        from sim.data.clusters import cluster_table
        where = f"all {len(cluster_table())} clusters"
    else:
        where = f"{len(clusters)} cluster{'s' if len(clusters) > 1 else ''}"
    base = "the schema defaults" if man["base_model"] is None else f"`{man['base_model'].get('path')}`"
    cpus = (man.get("machine") or {}).get("cpus")
    lines = [
        START,
        "<!-- generated by scripts/sensitivity_docs.py from the command above; do not edit by hand -->",
        "",
        (f"Generated on {man['created'][:10]} by `python scripts/sensitivity_docs.py` from the model of "
         f"golden run hash `{run_hash}` (`sim/engine/baseline.json`) with"),
        f"`{shlex.join(argv)}`.",
        "",
        (f"The command ({len(factors)} factors, {man['n']} trajectories, {man['replicates']} replicates: "
         f"{man['runs']} runs of {where} at scale {man['params']['scale']:g} for {man['years']:g} years, "
         f"base model {base}) took {man['wall_time']:.0f} s on {cpus} cores. "
         f"Factors ranked by μ\\* (mean absolute elementary effect, with its 95 % bootstrap confidence "
         f"half-width) per outcome; σ is the standard deviation of the elementary effects:"),
        "",
    ]
    for o in outcomes:
        g = idx[idx.outcome == o].sort_values("mu_star", ascending=False)
        lines += [f"**{label(o)}** (`{o}`)", "", "| rank | factor | μ\\* | ± conf | σ |", "|---:|---|---:|---:|---:|"]
        lines += [f"| {i} | `{r.parameter}` | {fmt(r.mu_star)} | {fmt(r.mu_star_conf)} | {fmt(r.sigma)} |"
                  for i, r in enumerate(g.itertuples(), 1)]
        lines.append("")
    shares = noise.set_index("outcome")["noise_share"]
    lines += ["Stochastic noise (share of variance between replicates of the same sample point): "
              + ", ".join(f"{label(o)} {fmt(shares[o])}" for o in outcomes) + ".", ""]
    lines += reading(idx, noise, outcomes)
    lines += ["", END]
    return "\n".join(lines)


def replace_block(text: str, new: str) -> str:
    if text.count(START) != 1 or text.count(END) != 1:
        raise SystemExit(f"{DOC}: expected one {START} and one {END}")
    head, rest = text.split(START)
    return head + new + rest.split(END, 1)[1]


# ----------------------------------------------------------------------------- main
def output_dir(cmd: list[str]) -> Path:
    """The documented command's ``--out``, relative to the repository root."""
    out_arg = option(cmd, "--out")
    if out_arg is None:
        raise SystemExit("the documented command has no --out")
    return (ROOT / out_arg).resolve()


def shown_figures(text: str) -> list[str]:
    """File names of the Morris figures the doc shows (``morris_<outcome>.png``)."""
    return sorted(set(re.findall(r"\(img/(morris_\w+\.png)\)", text)))


def redraw(text: str, gold: str) -> int:
    """Redraw the figures the doc shows from the documented command's output, if that output is the one the doc's
    numbers came from (same creation date, run hash golden); the doc's text is not touched."""
    from sim.core.io import atomic_savefig
    from sim.engine.sensitivity import FIGURE_DPI, plot_morris

    out = output_dir(documented_command(text))
    try:
        man = json.loads((out / "manifest.json").read_text())
        idx = pd.read_csv(out / "morris_indices.csv")
    except (OSError, ValueError) as e:
        print(f"no finished output of the documented command in {out} ({e}); run python scripts/sensitivity_docs.py",
              file=sys.stderr)
        return 2
    rec = recorded_hashes(text)["numbers"]
    if f"Generated on {man['created'][:10]} " not in text or rec != gold:
        print(f"{out} is not the output the doc's numbers came from (created {man['created'][:10]}, doc's run hash "
              f"{rec}, golden {gold}); run python scripts/sensitivity_docs.py", file=sys.stderr)
        return 2
    names = shown_figures(text)
    for name in names:
        outcome = name[len("morris_"):-len(".png")]
        atomic_savefig(IMG / name, plot_morris(idx, outcome), dpi=FIGURE_DPI, bbox_inches="tight")
    print(f"redrew docs/img/{', '.join(names)} from {out.relative_to(ROOT)}; the doc is unchanged")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="compare the doc's recorded run hashes with the golden one, run nothing")
    ap.add_argument("--resume", action="store_true",
                    help="reuse finished runs of an interrupted regeneration (same model only!)")
    ap.add_argument("--figures", action="store_true",
                    help="redraw the doc's figures with this checkout's plotting code from the documented command's "
                         "finished output (its morris_indices.csv); runs no model, changes no number")
    a = ap.parse_args(argv)

    from sim.engine import baseline

    text = DOC.read_text(encoding="utf-8")
    gold = baseline.golden().get("run")
    if a.check:
        rec = recorded_hashes(text)
        bad = {k: v for k, v in rec.items() if v not in baseline.current_runs()}
        for k, v in bad.items():
            print(f"docs/sensitivity.md: {k} recorded for run hash {v}, golden is {gold}")
        print("sensitivity doc: " + ("stale" if bad else "current"))
        return 1 if bad else 0

    if a.figures:
        return redraw(text, gold)

    now = baseline.run_hash()
    if now != gold:
        print(f"the model's run hash {now} differs from the golden {gold}: regenerate the baseline first "
              f"(python scripts/regenerate_baseline.py), then this doc", file=sys.stderr)
        return 1
    cmd = documented_command(text)
    out_arg = option(cmd, "--out")
    out = output_dir(cmd)
    run = [c if c != out_arg else str(out) for c in cmd[1:]] + ["--resume" if a.resume else "--overwrite"]

    from sim.face.cli import main as cli_main

    t0 = time.perf_counter()
    rc = cli_main(run)
    if rc != 0:
        print(f"the documented command failed (exit {rc}); the doc is unchanged", file=sys.stderr)
        return rc
    new = replace_block(text, block(cmd, out, gold))
    DOC.write_text(new, encoding="utf-8")
    shown = shown_figures(new)
    for name in shown:
        if (out / name).exists():
            shutil.copyfile(out / name, IMG / name)
    print(f"rewrote {DOC.relative_to(ROOT)} ({time.perf_counter() - t0:.0f} s) and docs/img/{', '.join(sorted(shown))}; "
          f"run hash {gold}")
    reading_hash = recorded_hashes(new)["reading"]
    if reading_hash != gold:
        print(f"note: the interpretation below the markers was written for run hash {reading_hash}; re-read it "
              f"against the new tables and set <!-- morris:reading run={gold} -->")
    return 0


if __name__ == "__main__":
    sys.exit(main())
