"""Progress after the runs: one stderr line per figure and per report section, none with --quiet."""

from __future__ import annotations

import io
import re

from sim.engine.experiments import StepProgress
from sim.face.cli import main

CLUSTERS = "jeonbuk_food,gyeonggi_north_chemicals,osong_ochang_medical_devices"  # hub_institution's targets
LINE = re.compile(r"^\[clustersim\] (\w+) (\d+)/(\d+): (.+) \| elapsed \d+:\d\d:\d\d$")


def _steps(err: str, what: str) -> list[tuple[int, int, str]]:
    out = []
    for ln in err.splitlines():
        m = LINE.match(ln)
        if m and m.group(1) == what:
            out.append((int(m.group(2)), int(m.group(3)), m.group(4)))
    return out


def test_step_progress_prints_one_line_per_step_and_nothing_when_disabled():
    buf = io.StringIO()
    note = StepProgress("figures", 2, True, stream=buf)
    note("fan chart a")
    note("plane")
    assert _steps(buf.getvalue(), "figures") == [(1, 2, "fan chart a"), (2, 2, "plane")]
    quiet = io.StringIO()
    StepProgress("figures", 2, False, stream=quiet)("fan chart a")
    assert quiet.getvalue() == ""


def test_project_and_report_say_which_figure_and_section_they_are_at(tmp_path, capsys):
    out = tmp_path / "proj"
    assert main(["project", "baseline", "hub_institution", "--quick", "--clusters", CLUSTERS,
                 "--replicates", "1", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    figs = _steps(err, "figures")
    pngs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert len(figs) == len(pngs) == 5  # three fan charts, the plane, the effects
    assert [i for i, _, _ in figs] == list(range(1, 6)) and {n for _, n, _ in figs} == {5}
    assert [s for _, _, s in figs[:3]] == [f"fan chart {c}" for c in CLUSTERS.split(",")]
    assert err.index("[clustersim] runs") < err.index("[clustersim] figures 1/5")

    assert main(["report", str(out)]) == 0
    err = capsys.readouterr().err
    sec = _steps(err, "report")
    assert [i for i, _, _ in sec] == list(range(1, len(sec) + 1)) and {n for _, n, _ in sec} == {len(sec)}
    names = [s for _, _, s in sec]
    assert names[0] == "effect and transition tables"
    assert [s for s in names if s.startswith("4. fan chart")] == [f"4. fan chart {c}" for c in CLUSTERS.split(",")]
    assert {"2. effects against the baseline", "3. typology transitions", "4. centripetal-centrifugal plane"} <= set(names)


def test_quiet_project_report_and_sensitivity_print_nothing(tmp_path, capsys):
    out = tmp_path / "proj"
    assert main(["project", "baseline", "hub_institution", "--quick", "--clusters", CLUSTERS,
                 "--replicates", "1", "--out", str(out), "--quiet"]) == 0
    assert main(["report", str(out), "--quiet"]) == 0
    assert main(["sensitivity", "--method", "morris", "--outcomes", "centripetal,centrifugal", "--n", "2",
                 "--factors", "spinoff_rate,search_rate", "--clusters", "jeonju_machinery", "--years", "1",
                 "--scale", "0.02", "--replicates", "1", "--jobs", "1", "--backend", "sequential",
                 "--out", str(tmp_path / "sens"), "--quiet"]) == 0
    cap = capsys.readouterr()
    assert cap.err == "" and cap.out == ""
    assert (out / "report.html").is_file() and (tmp_path / "sens" / "morris_centrifugal.png").is_file()


def test_sensitivity_says_which_figure_it_draws(tmp_path, capsys):
    assert main(["sensitivity", "--method", "morris", "--outcomes", "centripetal,centrifugal", "--n", "2",
                 "--factors", "spinoff_rate,search_rate", "--clusters", "jeonju_machinery", "--years", "1",
                 "--scale", "0.02", "--replicates", "1", "--jobs", "1", "--backend", "sequential",
                 "--out", str(tmp_path / "sens")]) == 0
    figs = _steps(capsys.readouterr().err, "figures")
    assert figs == [(1, 2, "morris centripetal"), (2, 2, "morris centrifugal")]
