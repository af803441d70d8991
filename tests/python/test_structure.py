"""Data flows one way: which package may import which, and how large a module may grow.

The layers, bottom up: fraud_scoring (the scorer, and the contracts every other package
reads: the stack contract, the Kaggle file format, the model directory format), then
training and warehouse (siblings: neither imports the other), then bench and reports (the
monitoring report: warehouse's connection, never training), then scripts (which use
everything). No package imports one above it or beside it. No module outside
the tests is over MAX_LINES lines. No database needed.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import pytest

from conftest import ROOT

# package -> the project packages it may import (besides itself)
ALLOWED = {
    "fraud_scoring": set(),
    "training": {"fraud_scoring"},
    "warehouse": {"fraud_scoring"},
    "bench": {"fraud_scoring", "training", "warehouse"},
    "reports": {"fraud_scoring", "warehouse"},
    "scripts": {"fraud_scoring", "training", "warehouse", "reports"},
}
PROJECT_PACKAGES = set(ALLOWED)
MAX_LINES = 300
# what `python -m warehouse register` must not pull in: training and its libraries
TRAINING_DEPENDENCIES = ("training", "sklearn", "imblearn", "tensorflow", "keras", "matplotlib", "pandas")


def imported_packages(path) -> set[str]:
    """The top-level names every import in a module names, at any depth (function bodies too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def python_files(package: str):
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_package_imports_one_above_or_beside_it(package):
    wrong = []
    for path in python_files(package):
        for name in imported_packages(path) & PROJECT_PACKAGES - {package} - ALLOWED[package]:
            wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_no_module_outside_the_tests_is_over_the_line_limit():
    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True)
    files = [f for f in tracked.stdout.split() if not f.startswith("tests/")]
    assert files
    long = {f: n for f in files if (n := len((ROOT / f).read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these modules (over {MAX_LINES} lines): {long}"


def fresh_modules(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running `code` in the checkout."""
    script = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_registering_a_model_imports_no_training_dependency():
    """warehouse register: the CLI, the registry and what registering imports (the numpy scorer's reader)."""
    loaded = fresh_modules(
        "import warehouse.cli, warehouse.registry, warehouse.loading, warehouse.connection\n"
        "import fraud_scoring.scorer, fraud_scoring.model_format, fraud_scoring.kaggle"
    )
    assert not {m.split(".")[0] for m in loaded} & set(TRAINING_DEPENDENCIES), sorted(loaded)


def test_nothing_reads_a_project_file_at_import():
    """Importing the packages reads none of the project's files (dbt_project.yml, the profiles):
    they are read when first needed, by cached functions."""
    loaded = fresh_modules(
        "import pathlib\n"
        "read_text = pathlib.Path.read_text\n"
        "def refuse(self, *a, **k):\n"
        "    assert not self.name.startswith(('dbt_project.yml', 'profiles.yml')), f'{self} read at import'\n"
        "    return read_text(self, *a, **k)\n"
        "pathlib.Path.read_text = refuse\n"
        "import training, training.data, training.model, training.artifacts, training.train, training.cli\n"
        "import warehouse.cli, warehouse.loading, warehouse.registry, warehouse.names, warehouse.connection\n"
        "import fraud_scoring.contract, fraud_scoring.kaggle, fraud_scoring.model_format"
    )
    assert "training.data" in loaded and "warehouse.registry" in loaded


# Macro files that hold more than one public macro, and why (each says so in its header too).
MACRO_FILES_EXEMPT = {
    "macros/platforms/postgres.sql": "every postgres__ implementation: PostgreSQL's side of each difference",
    "macros/platforms/greenplum.sql": "every greenplum__ implementation, and the helpers only Greenplum uses",
    "macros/materializations/view.sql": "the view materialization and the one macro it calls",
}
MACRO_RE = re.compile(r"{%-?\s*macro\s+(\w+)\s*\(")
# a materialization is a file's public definition too: macros/materializations/<name>.sql
MATERIALIZATION_RE = re.compile(r"{%-?\s*materialization\s+(\w+)\s*,")
PLATFORM_PREFIXES = ("postgres__", "greenplum__", "default__")


def public_macros(names: list[str]) -> list[str]:
    """The macros a caller may use by name: not private (_name), not a platform's implementation."""
    return [n for n in names if not n.startswith("_") and not n.startswith(PLATFORM_PREFIXES)]


def macro_files():
    return sorted(p for p in (ROOT / "macros").rglob("*.sql") if "_generated" not in p.parts)


def test_every_macro_file_holds_one_public_macro_named_like_the_file():
    """dbt-utils' layout: find a macro by its name, `macros/<area>/<name>.sql`. Its private
    helpers (_name) live beside it; a file of one platform implementation (dbt's own
    postgres__create_table_as) is named after the macro it implements."""
    wrong = []
    for path in macro_files():
        relative = path.relative_to(ROOT).as_posix()
        if relative in MACRO_FILES_EXEMPT:
            continue
        text = path.read_text()
        names = MATERIALIZATION_RE.findall(text) + MACRO_RE.findall(text)
        public = public_macros(names)
        if not names:
            wrong.append(f"{relative}: defines no macro")
        elif len(public) > 1:
            wrong.append(f"{relative}: {len(public)} public macros ({', '.join(public)}): one per file")
        else:
            expected = public[0] if public else names[0]
            for prefix in PLATFORM_PREFIXES:
                expected = expected.removeprefix(prefix)
            if path.stem != expected:
                wrong.append(f"{relative}: holds {expected}, so it should be named {expected}.sql")
    assert not wrong, "\n".join(wrong)


def test_macro_names_are_unique_and_the_exempt_files_exist():
    """dbt refuses two macros of one name; an exemption for a file that is gone is stale."""
    seen: dict[str, str] = {}
    for path in macro_files():
        for name in MACRO_RE.findall(path.read_text()):
            assert name not in seen, f"macro {name} in {path} and {seen[name]}"
            seen[name] = str(path)
    for relative in MACRO_FILES_EXEMPT:
        assert (ROOT / relative).is_file(), relative


def test_every_macro_file_says_what_it_is_for():
    """A header comment before the first macro (the file's purpose, and where its platform
    implementations are): the first thing a reader of the file sees."""
    missing = []
    for path in macro_files():
        text = path.read_text()
        first = MACRO_RE.search(text) or re.search(r"{%-?\s*materialization", text)
        if "{#-" not in text[: first.start() if first else len(text)]:
            missing.append(path.relative_to(ROOT).as_posix())
    assert not missing, f"no header comment: {missing}"
