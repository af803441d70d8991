"""The documentation holds together: links resolve, named make targets exist, generated
tables match their source. No database needed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import ROOT

DOCS = sorted([ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").rglob("*.md")])
FENCE = re.compile(r"^```.*?^```[ \t]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]+`")
LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)\)")
GENERATED = r"<!-- generated: python -m {} --markdown -->\n(.*?)\n<!-- end generated -->"
FLOW_MARK = "<!-- greenplum-operator-flow -->"


def prose(text: str) -> str:
    """The text without fenced code blocks and inline code (links there are not links)."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in FENCE.sub("", path.read_text()).splitlines():
        if m := re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line):
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", (ROOT / "Makefile").read_text(), flags=re.M))


def named_make_targets(text: str) -> set[str]:
    """`make <target>` in code (fenced blocks and inline spans): the first target after each make."""
    code = "\n".join(FENCE.findall(text) + INLINE_CODE.findall(text))
    return set(re.findall(r"(?:^|[\s`;&|(])make\s+([a-z][a-z0-9_-]*)\b(?!=)", code, flags=re.M))


def test_the_documents_exist_and_the_readme_is_a_five_minute_read():
    names = {p.relative_to(ROOT).as_posix() for p in DOCS}
    expected = {"README.md", "CHANGELOG.md", "docs/architecture.md", "docs/operating.md", "docs/greenplum.md"}
    assert expected | {"docs/training.md", "docs/benchmarks.md"} <= names
    assert len((ROOT / "README.md").read_text().splitlines()) < 300


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves_to_a_file_and_anchor(doc):
    broken = []
    for target in LINK.findall(prose(doc.read_text())):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading with anchor #{anchor} in {resolved.relative_to(ROOT)}")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_make_target_named_exists(doc):
    missing = named_make_targets(doc.read_text()) - makefile_targets()
    assert not missing, f"{doc.name} names make targets the Makefile lacks: {sorted(missing)}"


def test_no_issue_numbers_in_the_documentation():
    hits = [f"{p.name}: {m}" for p in DOCS for m in re.findall(r"(?i)\bissues? #?\d+", p.read_text())]
    assert not hits, hits


def test_the_benchmark_tables_are_the_generators_output_for_the_committed_results():
    """docs/benchmarks.md's tables are `python -m bench --markdown` of bench/results/bench.json."""
    from bench import report

    text = (ROOT / "docs" / "benchmarks.md").read_text()
    block = re.search(GENERATED.format("bench"), text, re.S)
    assert block, "docs/benchmarks.md lost its generated block"
    expected = report.markdown(json.loads((ROOT / "bench" / "results" / "bench.json").read_text()))
    assert block.group(1).strip() == expected.strip(), "rerun python -m bench --markdown and paste its output"


def test_the_segment_scaling_table_is_the_generators_output_for_the_committed_results():
    """docs/greenplum.md's table is `python -m bench.greenplum --markdown` of bench/results/greenplum.json."""
    from bench.greenplum import RESULTS, markdown

    block = re.search(
        GENERATED.format(re.escape("bench.greenplum")), (ROOT / "docs" / "greenplum.md").read_text(), re.S
    )
    assert block, "docs/greenplum.md lost its generated block"
    expected = markdown(json.loads(RESULTS.read_text()))
    assert block.group(1).strip() == expected.strip(), "rerun python -m bench.greenplum --markdown and paste its output"


def test_the_greenplum_operator_block_is_marked_where_the_cluster_suite_reads_it():
    from test_greenplum_cluster import operator_flow

    flow = operator_flow()
    assert "python -m warehouse load" in flow and "dbt run-operation install_fraud_scoring" in flow


def test_the_python_models_table_is_the_generators_output_for_the_committed_results():
    """docs/python-models.md's table is `python -m bench.python_models --markdown` of its results."""
    from bench.python_models import RESULTS, markdown

    block = re.search(
        GENERATED.format(re.escape("bench.python_models")), (ROOT / "docs" / "python-models.md").read_text(), re.S
    )
    assert block, "docs/python-models.md lost its generated block"
    expected = markdown(json.loads(RESULTS.read_text()))
    assert block.group(1).strip() == expected.strip(), "rerun python -m bench.python_models --markdown, paste it"
