"""Scenario files: the built-in set, the loader and its one-line error messages."""

from __future__ import annotations

import textwrap

import pytest

import scenarios
from scenarios.policies import REGISTRY
from scenarios.scenario import Scenario, ScenarioError, list_builtin, load, loads
from sim.face.cli import main

GOOD = """
[scenario]
name = "demo"
description = "a test"
start_year = 2020
end_year = 2030
replicates = 4
seed = 9
clusters = ["wonju_medical_devices", "jeonju_machinery"]

[params]
startup_rate = 0.05

[[policy]]
policy = "hub_institution"
start = 2022
end = 2028
target = "wonju_medical_devices"
intensity = 1
kind = "university"

[[policy]]
policy = "startup_inflow"
target = "all"
intensity = 2.5
"""


def _write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


# ----------------------------------------------------------------------------- built-in files
def test_scenario_error_is_a_value_error():
    assert issubclass(ScenarioError, ValueError)


def test_builtin_set_covers_baseline_every_policy_and_combinations():
    names = list_builtin()
    assert names[0] == "baseline"
    loaded = [load(n) for n in names]
    assert not loaded[0].policies
    single = {s.policies[0]["policy"] for s in loaded if len(s.policies) == 1}
    assert set(REGISTRY) <= single, f"policies without their own scenario file: {set(REGISTRY) - single}"
    combos = [s.name for s in loaded if len({p["policy"] for p in s.policies}) >= 2]
    assert len(combos) >= 2, combos


def test_builtin_scenarios_share_settings_for_common_random_numbers():
    loaded = [load(n) for n in list_builtin()]
    keys = {(s.start_year, s.end_year, s.replicates, s.seed, tuple(s.clusters or ()), s.record_every)
            for s in loaded}
    assert keys == {(2020, 2035, 20, 2020, (), 4)}
    for s in loaded:
        assert s.description, s.name
        assert s.name == (s.path or "").rsplit("/", 1)[-1][:-5]
        s.policy_objects()


def test_builtin_files_are_package_data():
    from importlib import resources

    files = [p.name for p in resources.files("scenarios").iterdir() if p.name.endswith(".toml")]
    assert len(files) == len(list_builtin()) >= 10


# ----------------------------------------------------------------------------- loader
def test_load_good_file(tmp_path):
    s = load(_write(tmp_path, GOOD))
    assert isinstance(s, Scenario)
    assert (s.name, s.start_year, s.end_year, s.years, s.replicates, s.seed) == ("demo", 2020, 2030, 10, 4, 9)
    assert s.clusters == ["wonju_medical_devices", "jeonju_machinery"]
    assert s.params == {"startup_rate": 0.05}
    hub, st = s.policies
    assert hub == {"policy": "hub_institution", "start": 2.0, "end": 8.0, "target": "wonju_medical_devices",
                   "intensity": 1.0, "kind": ["university"]}
    assert st["start"] == 0.0 and "end" not in st and st["intensity"] == 2.5
    assert s.targeted_clusters(s.clusters) == ["wonju_medical_devices", "jeonju_machinery"]
    assert len(s.sha256) == 64 and s.to_dict()["name"] == "demo"
    objs = s.policy_objects()
    assert [o.name for o in objs] == ["hub_institution", "startup_inflow"]


def test_defaults_and_name_from_file(tmp_path):
    s = load(_write(tmp_path, "", "empty_one.toml"))
    assert s.name == "empty_one" and s.policies == [] and s.clusters is None
    assert (s.start_year, s.end_year, s.replicates, s.seed, s.record_every) == (2020, 2035, 10, 2020, 4)


def test_load_builtin_by_name_and_errors_for_unknown_names(tmp_path):
    assert load("hub_institution").name == "hub_institution"
    with pytest.raises(ScenarioError, match="did you mean hub_institution"):
        load("hub_institutoin")
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load(tmp_path / "missing.toml")


def test_family_target_and_targeted_clusters():
    s = loads('[[policy]]\npolicy = "growth_pole"\ntarget = "family:medical_devices"\n')
    ids = ["wonju_medical_devices", "jeonju_machinery", "daegu_medical_devices"]
    assert s.targeted_clusters(ids) == ["wonju_medical_devices", "daegu_medical_devices"]


BAD = [
    ("[scenario\nname = 'x'\n", ["malformed TOML", "line 1"]),
    ('[scenario]\nname = "x"\nname = "y"\n', ["malformed TOML", "line 3"]),
    ("[scenaro]\n", ["scenaro", "unknown top-level table", "did you mean 'scenario'"]),
    ('[scenario]\nreplicate = 3\n', ["scenario.replicate", "unknown key", "did you mean 'replicates'"]),
    ('[scenario]\nreplicates = "many"\n', ["scenario.replicates", "whole number", "'many'"]),
    ('[scenario]\nreplicates = 0\n', ["scenario.replicates", "out of range"]),
    ('[scenario]\nseed = 1.5\n', ["scenario.seed", "whole number"]),
    ('[scenario]\nend_year = 2010\n', ["scenario.end_year", "after start_year"]),
    ('[scenario]\nname = "a b"\n', ["scenario.name"]),
    ('[scenario]\nclusters = ["wonju_medical_device"]\n', ["scenario.clusters", "wonju_medical_device",
                                                           "did you mean 'wonju_medical_devices'"]),
    ('[params]\nstartup_rat = 0.1\n', ["params.startup_rat", "unknown parameter", "did you mean 'startup_rate'"]),
    ('[params]\nstartup_rate = 7\n', ["params.startup_rate", "out of range"]),
    ('[params]\nstartup_rate = "fast"\n', ["params.startup_rate", "number"]),
    ('[policy]\npolicy = "hub_institution"\n', ["policy", "[[policy]]"]),
    ('[[policy]]\ntarget = "all"\n', ["policy #1", "missing key 'policy'"]),
    ('[[policy]]\npolicy = "hub_instituton"\n', ["policy #1.policy", "unknown policy", "did you mean 'hub_institution'"]),
    ('[[policy]]\npolicy = "hub_institution"\nintensty = 2\n',
     ["policy #1 (hub_institution).intensty", "unknown key", "did you mean 'intensity'"]),
    ('[[policy]]\npolicy = "startup_inflow"\nintensity = "high"\n',
     ["policy #1 (startup_inflow).intensity", "number", "'high'"]),
    ('[[policy]]\npolicy = "startup_inflow"\nintensity = -2\n',
     ["policy #1 (startup_inflow).intensity", "out of range"]),
    ('[[policy]]\npolicy = "anchor_exit"\nintensity = 2\n', ["anchor_exit", "intensity", "[0, 1]"]),
    ('[[policy]]\npolicy = "hub_institution"\nkind = ["castle"]\n', ["kind", "castle"]),
    ('[[policy]]\npolicy = "technology_shock"\nmode = 3\n', ["mode", "string"]),
    ('[[policy]]\npolicy = "startup_inflow"\nstart = 2040\n', ["start", "2040", "horizon"]),
    ('[[policy]]\npolicy = "startup_inflow"\nstart = 2025\nend = 2024\n', ["end", "after start"]),
    ('[[policy]]\npolicy = "startup_inflow"\nstart = "2025"\n', ["start", "calendar year"]),
    ('[[policy]]\npolicy = "startup_inflow"\ntarget = "daegu_textile"\n',
     ["target", "daegu_textile", "did you mean 'daegu_textiles'"]),
    ('[[policy]]\npolicy = "startup_inflow"\ntarget = "family:spaceships"\n', ["target", "spaceships"]),
    ('[scenario]\nclusters = ["wonju_medical_devices"]\n[[policy]]\npolicy = "startup_inflow"\n'
     'target = "jeonju_machinery"\n', ["target", "jeonju_machinery", "not in scenario.clusters"]),
    ('[[policy]]\npolicy = "startup_inflow"\n[[policy]]\npolicy = "growth_pole"\npoles = -1\n',
     ["policy #2 (growth_pole).poles", "out of range"]),
]


@pytest.mark.parametrize("text, words", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_files_give_one_line_errors_naming_file_and_key(tmp_path, text, words):
    p = _write(tmp_path, text, "bad.toml")
    with pytest.raises(ScenarioError) as exc:
        load(p)
    msg = str(exc.value)
    assert "\n" not in msg, msg
    assert msg.startswith(str(p)), msg
    for w in words:
        assert w in msg, (w, msg)


def test_files_are_data_not_code(tmp_path):
    p = _write(tmp_path, '[scenario]\ndescription = "__import__(\'os\').system(\'touch HACKED\')"\n')
    s = load(p)
    assert "__import__" in s.description
    assert not (tmp_path / "HACKED").exists()


# ----------------------------------------------------------------------------- command line
def test_cli_lists_and_checks_scenarios(tmp_path, capsys):
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    for n in list_builtin():
        assert n in out
    good = _write(tmp_path, GOOD, "good.toml")
    bad = _write(tmp_path, '[[policy]]\npolicy = "nope"\n', "bad.toml")
    assert main(["scenarios", "--check", str(good)]) == 0
    assert "ok:" in capsys.readouterr().out
    assert main(["scenarios", "--check", str(good), str(bad)]) == 2
    cap = capsys.readouterr()
    assert "unknown policy 'nope'" in cap.out
    assert cap.err.strip().count("\n") == 0 and cap.err.startswith("clustersim: error:")


def test_cli_policies(capsys):
    assert main(["policies"]) == 0
    out = capsys.readouterr().out
    for n in REGISTRY:
        assert n in out
    assert main(["policies", "living_lab"]) == 0
    assert "hypothesis:" in capsys.readouterr().out
    assert main(["policies", "nope"]) == 2


def test_cli_project_reports_bad_scenario_in_one_line(tmp_path, capsys):
    bad = _write(tmp_path, '[[policy]]\npolicy = "startup_inflow"\nintensity = "x"\n', "bad.toml")
    assert main(["project", str(bad), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("clustersim: error:") and "\n" not in err
    assert "bad.toml" in err and "intensity" in err
    assert not (tmp_path / "o").exists()
    assert main(["project", "no_such_builtin", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "no scenario file or built-in scenario" in capsys.readouterr().err


def test_module_exports():
    for name in ("ScenarioError", "Scenario", "load", "loads", "list_builtin", "builtin_path"):
        assert hasattr(scenarios, name)
