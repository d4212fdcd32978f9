"""The GitHub workflows parse, have what they need, and run exactly the README's Quickstart commands."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from helpers import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def readme_commands() -> list[str]:
    """The commands of the README's Quickstart: the non-comment lines of its first bash block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "README.md: no ```bash block under ## Quickstart"
    return [line.strip() for line in block.group(1).splitlines() if line.strip() and not line.strip().startswith("#")]


def load(name: str) -> dict[str, Any]:
    """A workflow file, parsed."""
    path = WORKFLOWS / name
    assert path.is_file(), f"{path} is missing"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{name} is not a YAML mapping"
    if True in data:  # YAML 1.1 reads the key `on` as the boolean true
        data["on"] = data.pop(True)
    return data


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    """Every step of every job."""
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def run_lines(workflow: dict[str, Any]) -> list[str]:
    """Every command line of every run step, without blanks and comments."""
    lines = []
    for step in steps(workflow):
        for line in str(step.get("run", "")).splitlines():
            if line.strip() and not line.strip().startswith("#"):
                lines.append(line.strip())
    return lines


def uses(workflow: dict[str, Any], action: str) -> list[dict[str, Any]]:
    """The steps that use an action (any version)."""
    return [s for s in steps(workflow) if str(s.get("uses", "")).split("@")[0] == action]


BUILD, TEST = (next(c for c in readme_commands() if key in c) for key in ("build_book.py", "pytest"))
STRICT = " -W -n --keep-going"  # the published book is built as strictly as the tests build it


def test_readme_quickstart_has_a_build_and_a_test_command():
    assert readme_commands() == [BUILD, TEST]


@pytest.mark.parametrize("name", ["book.yml", "tests.yml"])
def test_workflow_is_well_formed(name):
    wf = load(name)
    for key in ("name", "on", "jobs"):
        assert key in wf, f"{name}: no `{key}`"
    for job_name, job in wf["jobs"].items():
        assert "runs-on" in job, f"{name}: job {job_name} has no runs-on"
        assert job.get("steps"), f"{name}: job {job_name} has no steps"
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), f"{name}: a step needs exactly one of uses/run: {step}"
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), f"{name}: pin actions to a major version: {step['uses']}"
    assert uses(wf, "actions/checkout") and uses(wf, "actions/setup-python")


@pytest.mark.parametrize("name,command", [("book.yml", BUILD + STRICT), ("tests.yml", TEST)])
def test_workflow_runs_the_readme_commands(name, command):
    lines = run_lines(load(name))
    assert command in lines, f"{name} does not run the README's `{command}`; it runs {lines}"
    for line in lines:
        if "jupyter-book" in line or "build_book" in line or "pytest" in line or "pip install" in line:
            assert line in (BUILD + STRICT, TEST), f"{name} runs `{line}`, which is not a README Quickstart command"


def test_ci_script_runs_the_readme_test_command():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert TEST.split("&& ", 1)[1] in lines, ".ci/run does not run the README's test command"


def test_book_workflow_builds_in_full_mode_with_the_cache_and_publishes_to_pages():
    wf = load("book.yml")
    on = wf["on"]
    assert "main" in on["push"]["branches"] and "workflow_dispatch" in on
    assert wf["permissions"]["pages"] == "write" and wf["permissions"]["id-token"] == "write"
    assert "GENAI_FAST" not in (WORKFLOWS / "book.yml").read_text(), "the published book is built in full mode"
    caches = [s["with"] for s in uses(wf, "actions/cache")]
    cached = [c for c in caches if "_build/.jupyter_cache" in c["path"].split() and "restore-keys" in c]
    assert cached, "no actions/cache on _build/.jupyter_cache"
    assert "artifacts" in cached[0]["path"].split(), "lab 3's cached page would outlive the lab models it read"
    (upload,) = uses(wf, "actions/upload-pages-artifact")
    assert upload["with"]["path"] == "_build/html"
    deploy = next(job for job in wf["jobs"].values() if uses({"jobs": {"j": job}}, "actions/deploy-pages"))
    assert deploy["environment"]["name"] == "github-pages"
    build_job = next(name for name, job in wf["jobs"].items() if job is not deploy)
    assert deploy["needs"] == build_job


def test_tests_workflow_runs_on_pull_requests():
    wf = load("tests.yml")
    assert "pull_request" in wf["on"]
    assert "GENAI_FAST" not in (WORKFLOWS / "tests.yml").read_text(), "the tests choose fast mode themselves"


def test_workflow_paths_exist():
    for name in ("book.yml", "tests.yml"):
        text = (WORKFLOWS / name).read_text()
        for path in re.findall(r"hashFiles\(([^)]*)\)", text):
            for pattern in re.findall(r"'([^']+)'", path):
                assert pattern.split("/")[0] in {p.name for p in ROOT.iterdir()}, f"{name}: hashFiles pattern {pattern} names nothing"
