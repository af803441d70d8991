"""The monitoring report (python -m reports): its figures' numbers against the database,
recomputed here from the scores, the raw rows and the registry; what it says when data is
missing; and that it renders in a real headless Chromium (the DOM after loading holds the
sections and decoded figures, the screenshot is not blank).

Chromium is Debian's package (`apt-get install chromium`; .ci/run installs it): the browser
tests skip, saying so, without it. The number checks read the written file and need no browser.
"""

from __future__ import annotations

import json
import math
import os
from html.parser import HTMLParser

import numpy as np
import pytest
from dbtdb import drop_project, query, setup_project

from fraud_scoring.score_bins import fine_bins, psi
from reports import pending
from reports.browser import dump_dom, find_chromium, screenshot
from reports.report import SECTIONS, write
from warehouse.connection import connection

pytestmark = pytest.mark.database
PENDING = {
    "feature-drift": pending.FEATURE_DRIFT,
    "label-performance": pending.LABEL_PERFORMANCE,
    "threshold-bands": pending.THRESHOLD_BANDS,
}


class Page(HTMLParser):
    """What a test reads from the report: its sections, tables (cells' data-value by data-col),
    missing-data notices (top and sections), and images."""

    def __init__(self, text: str):
        super().__init__()
        self.sections, self.tables, self.missing, self.images, self.body = [], {}, [], [], {}
        self._table = self._row = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-missing" in a:  # the notices at the top, and in the section that has nothing to show
            self.missing.append(a["data-missing"])
        if tag == "section":
            self.sections.append(a.get("id"))
        elif tag == "table":
            self._table = self.tables.setdefault(a["id"], [])
        elif tag == "tr" and self._table is not None:
            self._row = {}
        elif tag == "td" and self._row is not None and "data-col" in a:
            self._row[a["data-col"]] = a["data-value"]
        elif tag == "img":
            self.images.append(a)
        elif tag == "body":
            self.body = a

    def handle_endtag(self, tag):
        if tag == "tr" and self._row:
            self._table.append(self._row)
        if tag == "tr":
            self._row = None
        elif tag == "table":
            self._table = None


def rendered(p, tmp_path, schema: str | None = None) -> tuple[object, Page]:
    out = tmp_path / "report.html"
    with connection() as conn:
        write(conn, out, schema or p.schema)
    return out, Page(out.read_text())


@pytest.fixture(scope="module")
def project(tmp_path_factory, model_dir, server_watch):
    p = setup_project(tmp_path_factory, model_dir, f"rep{os.getpid()}", rows=3000, seed=43)
    p.dbt("run")
    yield p
    drop_project(p)


@pytest.fixture(scope="module")
def report(project, tmp_path_factory):
    return rendered(project, tmp_path_factory.mktemp("report"))


def reference_of(p, version: str) -> dict:
    metadata = query(f"select metadata from {p.fraud_schema}.models where model_version = %s", [version])[0][0]
    return metadata if isinstance(metadata, dict) else json.loads(metadata)


def day_counts(p) -> dict:
    """(version, day) -> the fine bins of every score of that day, from fraud_scores and the raw rows."""
    rows = query(
        f"""select s.model_version, floor(r.time / 86400)::int, s.fraud_probability
        from {p.schema}.fraud_scores as s join {p.raw_schema}.credit_card as r using (transaction_id)"""
    )
    out: dict = {}
    for version, day, prob in rows:
        out.setdefault((version, day), []).append(prob)
    return {k: fine_bins(np.array(v)) for k, v in out.items()}


def expected_shares(p) -> dict:
    """(version, day, psi_bin) -> (reference share, day rows, day share), recomputed from the scores."""
    out = {}
    for (version, day), bins in day_counts(p).items():
        psi_bins = reference_of(p, version)["reference_scores"]["psi_bins"]
        lower = -(2**31)
        for i, b in enumerate(psi_bins, start=1):
            n = int(((bins > lower) & (bins <= b["upper_bin"])).sum())
            out[(version, day, i)] = (b["share"], n, n / len(bins))
            lower = b["upper_bin"]
    return out


def test_the_distribution_figure_shows_the_days_shares_against_the_reference(project, report):
    table = report[1].tables["score-distribution-table"]
    have = {
        (r["model_version"], int(r["transaction_day"]), int(r["psi_bin"])): (
            float(r["reference_share"]),
            int(r["day_rows"]),
            float(r["day_share"]),
        )
        for r in table
    }
    want = expected_shares(project)
    assert len(want) >= 10 and set(have) == set(want)
    for key, (ref, n, share) in want.items():
        assert have[key][1] == n and math.isclose(have[key][0], ref) and math.isclose(have[key][2], share), key
    # a figure per version with scores, each row's bins adding up to that day's scores
    assert len(report[1].images) >= 2
    days = {(k[0], k[1]) for k in want}
    for version, day in days:
        assert math.isclose(sum(v[2] for k, v in want.items() if k[:2] == (version, day)), 1.0)


def test_the_psi_figure_shows_fraud_score_drift_and_the_psi_recomputed(project, report):
    table = report[1].tables["psi-table"]
    columns = "model_version, transaction_day, scored_rows, psi, drift_status"
    drift = {(v, d): (n, x, s) for v, d, n, x, s in query(f"select {columns} from {project.schema}.fraud_score_drift")}
    have = {(r["model_version"], int(r["transaction_day"])): r for r in table}
    assert set(have) == set(drift) and drift
    shares = expected_shares(project)
    for (version, day), (n, x, status) in drift.items():
        row = have[(version, day)]
        assert int(row["scored_rows"]) == n and row["drift_status"] == status
        assert math.isclose(float(row["psi"]), x, rel_tol=1e-9, abs_tol=1e-12)
        keys = sorted(k for k in shares if k[:2] == (version, day))
        recomputed = psi([shares[k][0] for k in keys], [shares[k][1] for k in keys])
        assert math.isclose(float(row["psi"]), recomputed, rel_tol=1e-6, abs_tol=1e-9), (version, day)


def test_the_quantiles_table_is_fraud_score_distribution(project, report):
    table = report[1].tables["quantiles-table"]
    columns = "model_version, transaction_day, scored_rows, p99_probability"
    rows = query(f"select {columns} from {project.schema}.fraud_score_distribution")
    assert rows and len(table) == len(rows)
    have = {(r["model_version"], int(r["transaction_day"])): r for r in table}
    for version, day, n, p99 in rows:
        assert int(have[(version, day)]["scored_rows"]) == n
        assert float(have[(version, day)]["p99_probability"]) == p99


def test_the_deployed_versions_are_the_registrys(project, report):
    table = report[1].tables["deployments-table"]
    registry = query(f"select model_version, role from {project.fraud_schema}.deployments")
    assert sorted((r["model_version"], r["role"]) for r in table) == sorted(registry)
    assert all(int(r["reference_rows"]) > 0 for r in table)


def test_every_section_is_there_and_the_pending_ones_say_whether_their_relation_is_built(project, report):
    page = report[1]
    assert page.sections == ["deployments", "score-distribution", "psi", *PENDING]
    assert len(page.sections) == len(SECTIONS)
    for key, relation in PENDING.items():
        built = query("select to_regclass(%s) is not null", [f"{project.schema}.{relation}"])[0][0]
        if built:
            shown = f"is_recommended or cost_rank <= {pending.BANDS_SHOWN}" if key == "threshold-bands" else "true"
            count = query(f"select count(*) from {project.schema}.{relation} where {shown}")[0][0]
            assert len(page.tables.get(f"{key}-table", [])) == count, key
        else:
            assert f"not available: {relation} is not built" in page.missing, key


def test_a_schema_with_nothing_built_says_so_at_the_top(project, tmp_path):
    out, page = rendered(project, tmp_path, schema=f"test_report_nothing_{os.getpid()}")
    text = out.read_text()
    top = text[: text.index("<section")]
    assert "Data missing" in top and "not available: fraud_score_bins is not built" in top
    assert "not available: fraud_deployments is not built" in top
    assert not page.images and not any(page.tables.values())


def test_a_version_without_a_reference_says_so(project, tmp_path):
    registry = f"{project.fraud_schema}.models"
    saved = query(f"select metadata::text from {registry} where model_version = %s", [project.version_a])[0][0]
    query(f"update {registry} set metadata = metadata - 'reference_scores' where model_version = %s",
          [project.version_a])  # fmt: skip
    try:
        _, page = rendered(project, tmp_path)
    finally:
        query(f"update {registry} set metadata = %s::jsonb where model_version = %s", [saved, project.version_a])
    assert any(f"no reference: {project.version_a}" in m for m in page.missing), page.missing
    assert not page.tables.get("score-distribution-table")


@pytest.fixture(scope="module")
def chromium():
    if find_chromium() is None:
        pytest.skip("no Chromium binary on PATH (chromium, chromium-browser, google-chrome): apt-get install chromium")


def test_it_renders_in_a_headless_browser(chromium, project, report, tmp_path):
    out, page = report
    dom = Page(dump_dom(out))
    assert dom.body.get("data-rendered") == "yes"  # the page's load handler ran
    assert dom.sections == page.sections and len(dom.sections) == len(SECTIONS)
    assert dom.images and all(i.get("data-decoded") == "yes" for i in dom.images), dom.images
    assert dom.tables == page.tables  # the browser's DOM holds the numbers the file does
    png = screenshot(out, tmp_path / "report.png", height=1600, crop=False)
    try:
        from PIL import Image
    except ImportError:
        assert png.stat().st_size > 20_000
        return
    pixels = np.asarray(Image.open(png).convert("L"), dtype=np.float64)
    assert pixels.shape == (1600, 1200) and pixels.std() > 10, pixels.std()


def test_the_report_of_nothing_renders_its_notices(chromium, project, tmp_path):
    out, _ = rendered(project, tmp_path, schema=f"test_report_nothing_{os.getpid()}")
    dom = dump_dom(out)
    assert "Data missing" in dom and "not available: fraud_score_drift is not built" in dom
    assert "<img" not in dom


def test_a_project_without_scores_says_so_instead_of_drawing_empty_figures(project, tmp_path):
    """Every raw row gone and a dbt run: the relations are built and empty, and the report says
    there are no scores (the rows come back afterwards)."""
    raw = f"{project.raw_schema}.credit_card"
    query(f"create table {raw}_saved as select * from {raw}")
    try:
        query(f"delete from {raw}")
        project.dbt("run")
        out, page = rendered(project, tmp_path)
    finally:
        query(f"insert into {raw} select * from {raw}_saved")
        query(f"drop table {raw}_saved")
        project.dbt("run")
    top = out.read_text().split("<section", 1)[0]
    assert "no scores: fraud_score_bins is empty (run dbt run)" in top
    assert "no scores: fraud_score_drift is empty (run dbt run)" in top
    assert not page.images and not page.tables.get("psi-table")
    assert page.tables["deployments-table"]  # what is there is still shown


def test_a_pending_section_shows_its_relation_once_built(project, tmp_path):
    """Stand-ins for the relations other work adds, with the columns pending.py expects: each
    section shows its table and draws its figure; the summary lines read them."""
    s = project.schema
    made = [pending.FEATURE_DRIFT, pending.LABEL_PERFORMANCE, pending.THRESHOLD_BANDS]
    for relation in made:
        if query("select to_regclass(%s) is not null", [f"{s}.{relation}"])[0][0]:
            pytest.skip(f"{relation} is built by the project now: the sections are checked against it above")
    query(f"""create table {s}.{pending.FEATURE_DRIFT} as
              select 'v1'::text as model_version, d as transaction_day, 'V' || f as feature,
                     (d * 0.1 + f * 0.01)::float8 as psi, case when d > 1 then 'warn' else 'stable' end as drift_status
              from generate_series(0, 2) as d, generate_series(1, 3) as f""")
    query(f"""create table {s}.{pending.LABEL_PERFORMANCE} as
              select 'v1'::text as model_version, d as transaction_day, date '2026-01-01' + a as as_of_date,
                     100 as scored_rows, 30 + 20 * a as labeled_rows, (0.3 + 0.2 * a)::float8 as label_coverage,
                     0.5::float8 as precision, 0.6::float8 as recall, 0.55::float8 as pr_auc,
                     10.0::float8 as amount_caught, 2.5::float8 as amount_missed, 'x'::text as not_listed
              from generate_series(0, 2) as d, generate_series(0, 2) as a""")
    # 30 options: reviews fall and cost is least at i = 15, but only i >= 20 is within the capacity of 40
    query(f"""create table {s}.{pending.THRESHOLD_BANDS} as
              select *, cost_rank = 1 as is_recommended from (
                select 'v1'::text as model_version, 0.5 + i / 100.0 as review_threshold,
                       0.99::float8 as block_threshold, (60 - i)::float8 as reviews_per_day,
                       40::float8 as review_capacity, 3 as frauds_approved, 1.5::float8 as missed_fraud_amount,
                       2 as legit_blocked, ((i - 15) ^ 2 + 100)::float8 as expected_cost,
                       case when 60 - i <= 40
                           then rank() over (partition by 60 - i <= 40 order by (i - 15) ^ 2) end as cost_rank
                from generate_series(0, 29) as i) as options""")
    try:
        out, page = rendered(project, tmp_path)
        with connection() as conn:
            from reports.summary import summary_lines

            lines = summary_lines(conn, s)
    finally:
        for relation in made:
            query(f"drop table {s}.{relation}")
    assert not [m for m in page.missing if "not available" in m], page.missing
    drift = page.tables["feature-drift-table"]
    assert len(drift) == 9 and {r["drift_status"] for r in drift} == {"stable", "warn"}
    want = sorted(d * 0.1 + f * 0.01 for d in range(3) for f in range(1, 4))
    assert all(math.isclose(a, b) for a, b in zip(sorted(float(r["psi"]) for r in drift), want, strict=True))
    labels = page.tables["label-performance-table"]
    assert len(labels) == 9 and list(labels[0]) == pending.LABEL_COLUMNS  # the columns listed, not every one
    bands = page.tables["threshold-bands-table"]
    assert sorted(int(r["cost_rank"]) for r in bands) == list(range(1, pending.BANDS_SHOWN + 1))
    assert [r["review_threshold"] for r in bands if r["is_recommended"] == "True"] == ["0.7"]
    assert len(page.images) == 1 + 1 + 1 + 2 + 1  # one version: distribution, PSI, features, coverage, PR-AUC, bands
    text = "\n".join(lines)
    assert "v1 day 2: 3 warn" in text and "v1 day 0: 70.0% labeled" in text
    assert "v1: review >= 0.7, block >= 0.99, 40.0 reviews/day (capacity 40.0), expected cost 125" in text
