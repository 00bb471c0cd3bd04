"""The documentation states what the code does: ODD schedule, README structure, citations a user can follow."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

from test_architecture import FLOORS

from scenarios.policies import REGISTRY
from sim.data.observed import load_sources
from sim.engine import baseline
from sim.face import report
from sim.face.cli import build_parser
from sim.model.model import SCHEDULE
from sim.model.params import SCHEMA, problem

ROOT = Path(__file__).resolve().parents[1]


def test_odd_schedule_matches_code_word_for_word():
    text = (ROOT / "docs" / "odd.md").read_text()
    block = text.split("<!-- schedule:start -->")[1].split("<!-- schedule:end -->")[0]
    lines = [ln.strip() for ln in block.strip().splitlines()]
    expected = [f"{i}. **{name}**: {what}" for i, (name, what) in enumerate(SCHEDULE, 1)]
    assert lines == expected


def test_readme_structure_lists_every_module():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Structure")[1].split("\n## ")[0]
    listed = set(re.findall(r"`([\w/]+\.py)`", section))
    modules = {str(p.relative_to(ROOT)) for pkg in ("sim", "scenarios", "calibration")
               for p in (ROOT / pkg).rglob("*.py") if p.name != "__init__.py"}
    missing = sorted(modules - listed)
    assert not missing, f"README structure section misses: {missing}"


def test_readme_floors_match_the_architecture_test():
    """The allowed import order is written once in tests/test_architecture.py and shown in the README."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Structure")[1].split("\n## ")[0]
    shown = re.findall(r"^\| (\d+) \| `([\w.]+)` \|", section, flags=re.MULTILINE)
    assert [name for _, name in shown] == list(FLOORS)
    assert [int(i) for i, _ in shown] == list(range(len(FLOORS)))


# ----------------------------------------------------------------------------- citations a user can follow
#: A citation key as written in text: ``[KRIHS-2020]``, ``[Kang-Jung-2004]`` (docs/sources.md).
CITATION = re.compile(r"\[([A-Za-z][A-Za-z]*(?:-[A-Za-z]+)*-\d{4})\]")
#: Names a user cannot follow: the project's internal digest files, its design brief, issue numbers.
INTERNAL = re.compile(r"(?i:sources?-0\d\d|\bissues? #?\d+)|\bBRIEF\b")
#: User-visible files that may still name them, and why.  Each must still do so (see the test below), so
#: that the entry is removed once the file is fixed.
KNOWN_INTERNAL: dict[str, str] = {}
#: An item id of the reading notes, with its short forms: S4W-M1/M8, S4V-1/5, S0-P8/S0-P17.
ITEM = re.compile(r"\bS(?:4[WJEXPV]|0|3)-[A-Z]*\d+(?:/(?:S(?:4[WJEXPV]|0|3)-)?[A-Z]*\d+)*")


def _sources_md() -> str:
    return (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")


def _string_constants(path: Path) -> list[str]:
    """Every string literal of a Python file (docstrings, HTML templates, messages)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _user_texts() -> dict[str, str]:
    """What a user reads: the docs, the README, the HTML report's strings, the policies' sources and
    hypotheses, the scenario files (the report prints them), the data modules' docstrings."""
    texts = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md"))}
    texts["README.md"] = (ROOT / "README.md").read_text(encoding="utf-8")
    texts["sim/face/report.py (strings)"] = "\n".join(_string_constants(ROOT / "sim" / "face" / "report.py"))
    for name, cls in REGISTRY.items():
        texts[f"policy {name}: source"] = cls.source
        texts[f"policy {name}: hypothesis"] = cls.hypothesis
    for p in sorted((ROOT / "scenarios").glob("*.toml")):
        texts[str(p.relative_to(ROOT))] = p.read_text(encoding="utf-8")
    for p in sorted((ROOT / "sim" / "data").glob("*.py")):
        texts[f"{p.relative_to(ROOT)} (strings)"] = "\n".join(_string_constants(p))
    return texts


def _defined_keys() -> dict[str, str]:
    """Bibliography entries of docs/sources.md: lines ``**[KEY]** reference`` (or a list item of that form)."""
    return {m.group(1): m.group(2).strip() for m in
            re.finditer(r"^(?:\* )?\*\*\[([^\]]+)\]\*\* (.+)$", _sources_md(), flags=re.MULTILINE)}


def _expand(item: str) -> list[str]:
    """``S4W-M1/M8`` -> S4W-M1, S4W-M8; ``S4V-1/5`` -> S4V-1, S4V-5; ``S0-P8/S0-P17`` -> S0-P8, S0-P17."""
    first, *rest = item.split("/")
    base, letters, _ = re.match(r"(S\w+-)([A-Z]*)(\d+)$", first).groups()
    out = [first]
    for r in rest:
        out.append(r if "-" in r else base + r if r[0].isalpha() else base + letters + r)
    return out


def test_user_text_names_no_internal_file_or_issue_number():
    found = {}
    for name, text in _user_texts().items():
        hits = sorted({m.group(0) for m in INTERNAL.finditer(text)})
        if hits and name not in KNOWN_INTERNAL:
            found[name] = hits
    assert not found, ("cite the documents by their key in docs/sources.md (e.g. [KRIHS-2020] S4V-7), "
                       f"not by internal file names or issue numbers: {found}")


def test_known_exceptions_are_still_needed():
    texts = _user_texts()
    stale = [n for n in KNOWN_INTERNAL if n not in texts or not INTERNAL.search(texts[n])]
    assert not stale, f"remove these from KNOWN_INTERNAL, they no longer name internal files: {stale}"


def test_every_cited_key_is_in_the_bibliography():
    defined = _defined_keys()
    texts = dict(_user_texts())
    for pkg in ("sim", "scenarios", "calibration"):
        for p in (ROOT / pkg).rglob("*.py"):
            texts[str(p.relative_to(ROOT))] = p.read_text(encoding="utf-8")
    missing = {name: sorted(set(CITATION.findall(t)) - set(defined)) for name, t in texts.items()}
    missing = {k: v for k, v in missing.items() if v}
    assert not missing, f"citation keys not defined in docs/sources.md: {missing}"
    assert {"KRIHS-2020", "Kang-Jung-2004", "Ahn-Gu-2022", "KLRI-2016", "Park-2005"} <= set(defined)


def test_every_cited_item_id_is_explained_in_the_bibliography():
    explained = set(re.findall(r"^\| (S[\w-]+) \|", _sources_md(), flags=re.MULTILINE))
    texts = dict(_user_texts())
    for p in [*(ROOT / "scenarios").glob("*.py"), *(ROOT / "calibration").glob("*.py")]:
        texts[str(p.relative_to(ROOT))] = "\n".join(_string_constants(p))
    cited = {}
    for name, text in texts.items():
        if name == "docs/sources.md":
            continue
        for m in ITEM.finditer(text):
            for item in _expand(m.group(0)):
                cited.setdefault(item, name)
    assert len(cited) > 40
    missing = {i: where for i, where in cited.items() if i not in explained}
    assert not missing, f"item ids cited but not explained in docs/sources.md, section 3: {missing}"


def test_the_shipped_bibliography_is_docs_sources_md():
    """The HTML report prints the references it cites from sim/data/sources.json: the same text."""
    assert load_sources() == _defined_keys(), ("sim/data/sources.json differs from docs/sources.md: copy each "
                                               "'**[KEY]** reference' line of docs/sources.md into it")


def test_the_report_lists_the_references_it_cites():
    refs = report._sources_section(["<p>see [KRIHS-2020] table 3-11 and [Kang-Jung-2004] S3-H7</p>"])
    text = "\n".join(refs)
    assert "Sources" in text and "Korea Research Institute for Human Settlements" in text and "Kang Hyun-soo" in text
    assert report._sources_section(["<p>no citation</p>"]) == []


# ----------------------------------------------------------------------------- docs/sensitivity.md is regenerated
REGENERATE_SENSITIVITY = "python scripts/sensitivity_docs.py"


def _sensitivity_docs():
    """``scripts/sensitivity_docs.py`` as a module (it reads the documented command and the recorded hashes)."""
    spec = importlib.util.spec_from_file_location("sensitivity_docs", ROOT / "scripts" / "sensitivity_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_sensitivity_doc_numbers_come_from_the_current_model():
    """The Morris numbers of docs/sensitivity.md record the run hash of the model they came from; a change of
    the model's behaviour (a new golden run hash) makes them stale until the doc is regenerated."""
    sd = _sensitivity_docs()
    gold = baseline.golden()["run"]
    same = baseline.current_runs()  # the golden run hash and the same code hashed another way
    rec = sd.recorded_hashes((ROOT / "docs" / "sensitivity.md").read_text(encoding="utf-8"))
    assert rec["numbers"] in same, (f"docs/sensitivity.md: the Morris numbers came from run hash {rec['numbers']}, "
                                    f"the model's golden run hash is {gold}: run {REGENERATE_SENSITIVITY}")
    assert rec["reading"] in same, (f"docs/sensitivity.md: the interpretation below the Morris tables was written "
                                    f"for run hash {rec['reading']}, not {gold}: re-read it against the regenerated "
                                    f"tables and set <!-- morris:reading run={gold} -->")


def test_sensitivity_doc_command_is_the_one_behind_its_numbers():
    """The documented command parses, varies schema parameters only, and is the command the tables came from."""
    sd = _sensitivity_docs()
    text = (ROOT / "docs" / "sensitivity.md").read_text(encoding="utf-8")
    cmd = sd.documented_command(text)
    build_parser().parse_args(cmd[1:])
    factors = sd.option(cmd, "--factors").split(",")
    unknown = [f for f in factors if f not in SCHEMA]
    assert not unknown, f"docs/sensitivity.md: --factors names parameters the schema does not have: {unknown}"
    assert set(factors) <= set(problem()["names"]), "a documented factor is a set-up parameter"
    generated = text.split(sd.START)[1].split(sd.END)[0]
    assert f"`{' '.join(cmd)}`" in generated, f"the tables came from another command: run {REGENERATE_SENSITIVITY}"
    ranked = re.findall(r"^\| \d+ \| `(\w+)` \|", generated, flags=re.MULTILINE)
    outcomes = sd.option(cmd, "--outcomes").split(",")
    assert sorted(ranked) == sorted(factors * len(outcomes))


def test_documented_factors_are_schema_parameters():
    """Every ``--factors`` of a command example (code blocks of the docs and the README) names existing parameters."""
    texts = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md"))}
    texts["README.md"] = (ROOT / "README.md").read_text(encoding="utf-8")
    bad, seen = {}, 0
    for name, text in texts.items():
        for code in re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.DOTALL):
            for m in re.finditer(r"--factors[ =]([\w,]+)", code):
                seen += 1
                missing = [f for f in m.group(1).split(",") if f not in SCHEMA]
                if missing:
                    bad.setdefault(name, []).extend(missing)
    assert seen and not bad, f"--factors names no longer in the parameter schema (clustersim params): {bad}"
