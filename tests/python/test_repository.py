"""What the repository itself must (not) contain."""

import json
import os
import re
import subprocess

import pytest
import yaml
from dbtdb import drop_project, setup_project

from conftest import ROOT


def test_profiles_example_reads_every_secret_from_the_environment():
    text = (ROOT / "profiles.yml.example").read_text()
    passwords = re.findall(r"^\s*password:\s*(.*)$", text, flags=re.M)
    assert passwords, "profiles.yml.example has no password settings to check"
    assert all(re.fullmatch(r"\"\{\{ env_var\('[A-Z_]+', ''\) \}\}\"", p.strip()) for p in passwords), passwords


def test_no_credentials_or_local_profiles_are_committed():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert "profiles.yml" not in tracked
    assert not [f for f in tracked if f.endswith((".env", ".pgpass", ".pem", "id_rsa"))]
    for name in tracked:
        path = ROOT / name
        if path.suffix in (".yml", ".yaml", ".py", ".sh", ".toml", ".cfg") and path.is_file():
            text = path.read_text(errors="replace")
            assert not re.search(r"password\s*[:=]\s*['\"]?[A-Za-z0-9!@#$%^&*]{6,}", text, flags=re.I), name


def unit_test_names() -> set[str]:
    """The dbt unit tests declared in the models' YAML (unit_tests:)."""
    names = set()
    for path in (ROOT / "models").rglob("*.yml"):
        for test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", []):
            names.add(test["name"])
    return names


@pytest.fixture(scope="module")
def built(tmp_path_factory, model_dir):
    """A fresh copy of the project after `dbt build`, with dbt's manifest and catalog."""
    p = setup_project(tmp_path_factory, model_dir, f"docs{os.getpid()}", rows=100, seed=3)
    try:
        result = p.dbt("build")
        p.dbt("docs", "generate")
        target = ROOT / f"target/test_{p.suffix}"
        yield {
            "stdout": result.stdout,
            "manifest": json.loads((target / "manifest.json").read_text()),
            "catalog": json.loads((target / "catalog.json").read_text()),
        }
    finally:
        drop_project(p)


@pytest.mark.database
def test_dbt_build_runs_and_passes_every_unit_test(built):
    declared = unit_test_names()
    assert len(declared) >= 5, declared
    passed = set(re.findall(r"\bPASS \S+::(\w+)", built["stdout"]))
    assert passed == declared, built["stdout"][-3000:]


@pytest.mark.database
def test_every_model_documents_every_column_it_outputs(built):
    """The columns each model really has (dbt's catalog, read from the database after the
    build) against the descriptions in models/**/_*.yml (the manifest): a column without a
    description fails, and so does a documented column the model no longer outputs."""
    models = {uid for uid in built["manifest"]["nodes"] if uid.startswith("model.")}
    assert models and models == {uid for uid in built["catalog"]["nodes"] if uid.startswith("model.")}
    problems = []
    for uid in sorted(models):
        real = [name.lower() for name in built["catalog"]["nodes"][uid]["columns"]]
        documented = {
            name.lower(): column.get("description", "").strip()
            for name, column in built["manifest"]["nodes"][uid]["columns"].items()
        }
        problems += [f"{uid}: column {name} has no description" for name in real if not documented.get(name)]
        problems += [f"{uid}: documents {name}, which it does not output" for name in documented if name not in real]
    assert not problems, "\n".join(problems)
