"""One name from rule to script to stage function, and the package fingerprint per stage."""

import ast
import re
import shutil

import pytest

from centriole_sr import stages

from .conftest import ROOT

RULES = {
    stage: re.findall(r"^rule (\w+):", (ROOT / f"workflow/rules/{stage}.smk").read_text(), re.M)
    for stage in stages.STAGES
}


@pytest.mark.parametrize("stage", stages.STAGES)
def test_each_rule_calls_the_stage_function_of_its_name_with_keywords(stage):
    text = (ROOT / f"workflow/rules/{stage}.smk").read_text()
    module = ast.parse((ROOT / f"src/centriole_sr/stages/{stage}.py").read_text())
    functions = {node.name: node for node in module.body if isinstance(node, ast.FunctionDef)}
    assert RULES[stage]
    for rule in RULES[stage]:
        block = text.split(f"rule {rule}:")[1].split("\nrule ")[0]
        assert f'"../scripts/{rule}.py"' in block, rule
        assert f'package=fingerprint("{stage}")' in block, rule
        assert functions[rule].args.args == [], f"{rule} takes positional arguments"
        script = ast.parse((ROOT / f"workflow/scripts/{rule}.py").read_text())
        calls = [n for n in ast.walk(script) if isinstance(n, ast.Call) and not n.args]
        assert any(getattr(call.func, "id", None) == rule for call in calls), rule
        imports = [n for n in script.body if isinstance(n, ast.ImportFrom)]
        assert any(n.module == f"centriole_sr.stages.{stage}" for n in imports), rule
    assert not (ROOT / "src/centriole_sr/pipeline.py").exists()


def test_no_script_edits_the_import_path():
    for script in (ROOT / "workflow/scripts").glob("*.py"):
        assert "sys.path" not in script.read_text(), script.name


def test_stage_modules_follow_imports_made_inside_functions_too():
    names = {stage: {p.name for p in stages.stage_modules(stage)} for stage in stages.STAGES}
    assert {"train.py", "model.py", "training.py"} <= names["training"]
    assert "figures.py" not in names["training"]  # training draws nothing
    assert {"figures.py", "scoring.py", "restore.py"} <= names["evaluation"]  # lazy imports
    assert "restore.py" not in names["picking"]


def test_a_module_edit_changes_the_fingerprint_of_the_stages_that_use_it(tmp_path, monkeypatch):
    copy = tmp_path / "centriole_sr"
    shutil.copytree(stages.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(stages, "PACKAGE", copy)
    before = {stage: stages.fingerprint(stage) for stage in stages.STAGES}
    with open(copy / "restore.py", "a") as source:
        source.write("\n# an edit\n")
    after = {stage: stages.fingerprint(stage) for stage in stages.STAGES}
    changed = {stage for stage in stages.STAGES if before[stage] != after[stage]}
    assert changed == {"restoration", "evaluation", "export"}
