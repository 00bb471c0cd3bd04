"""Fit the shipped 2020 typology classifier and print its accuracy table.

Evaluates every candidate and sensitivity configuration of the classifier
(:mod:`sim.indices.typology`) on the 30 published 2020 clusters with
:func:`calibration.typology.candidate_table`, selects the rule
(:func:`calibration.typology.select_rule`), fits it on all 30 clusters and writes
``calibration/typology_fit.json``. Run it from the repository root when the data or the
classifier change on purpose::

    python scripts/fit_typology.py [--out FILE.json] [--no-write]

Measured accuracy: see docs/calibration.md §Typology.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import pandas as pd

from calibration import typology
from calibration.typology import (
    FIT_FILE,
    TypologyClassifier,
    candidate_table,
    published_2020,
    select_rule,
)

#: The shipped fit file, beside the code of the imported calibration package.
DEFAULT_OUT = Path(typology.__file__).with_name(FIT_FILE)


def _format_table(table: pd.DataFrame) -> str:
    head = f"{'rule':<18} {'method':<6} {'orientation':<11} {'role':<11} {'in-sample':>9} {'LOO':>5}"
    lines = [head, "-" * len(head)]
    for r in table.itertuples(index=False):
        lines.append(
            f"{r.rule:<18} {r.method:<6} {r.orientation:<11} {r.role:<11} "
            f"{r.in_sample:>6}/{r.n:<2} {r.loo:>2}/{r.n:<2}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the accuracy table, fit the chosen rule on all 30 clusters, write the JSON."""
    ap = argparse.ArgumentParser(prog="python scripts/fit_typology.py", description=main.__doc__)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT,
                    help=f"output JSON (default: calibration/{FIT_FILE})")
    ap.add_argument("--no-write", action="store_true", help="only print the table")
    args = ap.parse_args(argv)

    X, y = published_2020()
    table = candidate_table(X, y)
    choice = select_rule(table)
    clf = TypologyClassifier(**choice).fit(X, y)
    pred = clf.predict(X)
    ev = table[(table["rule"] == choice["rule"]) & (table["method"] == choice["method"])
               & (table["orientation"] == choice["orientation"])].iloc[0]
    print(f"Typology classifier: {len(X)} published 2020 clusters (withheld clusters excluded)")
    print(_format_table(table))
    print(f"\nchosen: {choice} (highest LOO among candidates; ties -> fewer parameters)")
    print(f"in-sample {int(ev.in_sample)}/{int(ev.n)}, LOO {int(ev.loo)}/{int(ev.n)}, "
          f"thresholds (t_c, t_f) = ({clf.thresholds_[0]:.4f}, {clf.thresholds_[1]:.4f})")
    fm = clf.factor_model_
    assert fm is not None
    for fam in (fm.centripetal, fm.centrifugal):
        print(f"{fam.name}: loadings {dict(zip(fam.columns, (round(float(x), 3) for x in fam.loadings)))}, "
              f"eigenvalue {fam.eigenvalue:.3f}, explained {fam.explained_share():.1%}")
    print("\nconfusion (rows = published, columns = predicted):")
    print(pd.crosstab(y, pred.reindex(y.index), rownames=["published"], colnames=["predicted"]).to_string())
    if not args.no_write:
        payload = {
            "description": (
                "TypologyClassifier fitted on the 30 published 2020 clusters of "
                "004_8c7fee62a0de25c9.txt table 3-11 (withheld clusters excluded); "
                "written by python scripts/fit_typology.py"
            ),
            "classifier": clf.to_dict(),
            "accuracy": {"n": int(ev.n), "in_sample": int(ev.in_sample), "loo": int(ev.loo)},
            "candidates": table.to_dict(orient="records"),
        }
        args.out.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
