"""The set-up files agree with each other and with the README."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_environment_yml_agrees_with_the_lock():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    lock = _lock()
    pinned = [p for p in pip if "==" in p]
    assert len(pinned) >= 15
    for spec in pinned:
        name, version = spec.split("==")
        assert lock[re.sub(r"[-_.]+", "-", name).lower()] == version, spec
    assert "python=3.11" in env["dependencies"]


def test_lock_pins_the_tested_torch_pair():
    lock = _lock()
    assert lock["torch"] == "2.14.1" and lock["torchvision"] == "0.29.2"  # DESIGN.md: not 2.13 (shadowed wheel)


def test_every_dependency_is_pinned_in_the_lock():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["dev"]
    lock = _lock()
    for dep in deps:
        name = re.split(r"[<>=!~\[ ]", dep)[0]
        assert re.sub(r"[-_.]+", "-", name).lower() in lock, dep


def test_required_dependencies_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=!~\[ ]", d)[0].lower() for d in project["dependencies"] +
             project["optional-dependencies"]["dev"]}
    assert {"torch", "torchvision", "torch-fidelity", "jupyterlab", "ipywidgets", "papermill", "seaborn",
            "nbval"} <= names


def test_ci_calls_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme


def test_shipped_weights_are_package_data():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "metrics/weights/*.pt" in project["tool"]["setuptools"]["package-data"]["gancore"]


def test_demo_summary_reports_metrics_and_failures(tmp_path):
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("run_demo", ROOT / "scripts" / "run_demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    (tmp_path / "summary.json").write_text(json.dumps({
        "status": "complete", "kimg": 36.0, "train_seconds": 199.0, "img_per_s": 181.0,
        "params": {"G": 277116, "D": 212433}, "initial": {"fid": 134.1}, "final": {"fid": 49.0, "swd_avg": 60.6},
        "claims": [{"claim": "c", "this run": "x", "holds": True}]}))
    lines = "\n".join(demo.summarize("progan", tmp_path, 300.0, None))
    assert "ratio 0.37" in lines and "claim holds: c" in lines and "277,116" in lines
    failed = "\n".join(demo.summarize("progan", tmp_path, 3.0, "PapermillExecutionError: boom"))
    assert "FAILED" in failed and "boom" in failed


def test_make_lab_starts_as_root():
    # Containers run as root, where `jupyter lab` exits at once without --allow-root.
    import re
    import subprocess

    recipe = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True).stdout
    line = [ln for ln in recipe.splitlines() if "jupyter lab" in ln][0]
    for uid, expect in (("0", True), ("1000", False)):
        shell = re.sub(r"\S*jupyter lab", "echo jupyter lab", line.replace("$(id -u)", uid))
        out = subprocess.run(["bash", "-c", shell], capture_output=True, text=True).stdout
        assert ("--allow-root" in out) == expect, out
