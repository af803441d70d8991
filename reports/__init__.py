"""The monitoring report: one self-contained HTML page (inline CSS, figures as base64 PNG) on
what the monitoring models hold, and the short summary `make demo` prints.

A report is a list of sections (reports.sections.SECTIONS), each one function from the
database to a Section: it queries the relations it reads, draws its figures, and shows
every figure's numbers in an HTML table beside it (data-* attributes on each row), so a
reader, or a test, can compare them with the database. A section whose relation is not
built says so ("not available: <relation> is not built") instead of drawing an empty plot,
and the page lists every such gap at the top.

Reads the database through warehouse.connection only; imports nothing from training or
the tests. `python -m reports --out target/monitoring_report.html` (`make report`).
"""
