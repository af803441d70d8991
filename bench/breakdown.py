"""Where the seconds of one `dbt` command go: its start, each model's own time, and each model's SQL.

    python -m bench.breakdown [dbt arguments]      (default: run; e.g. `run --select fraud_scores+`)

Runs the command once as a whole process with dbt's debug log written as JSON (its events carry
timestamps, and each statement's own time in `SQLQueryStatus`), then splits the wall time:

  start      process start to dbt's first node or hook: Python imports, reading the project and
             the manifest (partial parsing), connecting, listing the schemas' relations
  hooks      on-run-start / on-run-end
  nodes      each model from NodeStart to NodeFinished; inside it, the SQL by kind:
               work           statements that read or write rows (hooks and the model's own)
               ddl            CREATE / ALTER / DROP / DO / GRANT / COMMENT
               introspection  dbt's catalog queries (columns, relations, grants)
               transaction    BEGIN / COMMIT / ROLLBACK
             and dbt's own time around them (compiling, rendering the materialization)
  end        after the last node: run results, artifacts, closing connections, process exit

Nothing here changes what dbt does; the JSON log goes to a temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DBT = str(ROOT / ".venv" / "bin" / "dbt")
KINDS = ("work", "ddl", "introspection", "transaction")
_COMMENT = re.compile(r"^\s*/\*.*?\*/\s*", re.S)
# an INSERT / DELETE / UPDATE, or a table created from a query (dbt's temporary tables, a hook's)
_MOVES_ROWS = re.compile(
    r"\b(insert\s+into|delete\s+from|update\s+\S+\s+set)\b"
    r"|\bcreate\s+(temporary\s+|temp\s+)?table\b[^;]*?\bas\b"
)
_CATALOG = re.compile(r"\b(pg_catalog|information_schema|pg_namespace|pg_class|pg_attribute|pg_views|pg_tables)\b")


def kind(sql: str) -> str:
    """Which kind of statement: its first word after dbt's query comment, and what it reads or writes.
    A hook of several statements counts as work when any of them moves rows."""
    text = _COMMENT.sub("", sql).lstrip().lower()
    first = text.split(None, 1)[0] if text else ""
    if first in ("begin", "commit", "rollback", "start", "set", "lock") and not _MOVES_ROWS.search(text):
        return "transaction"
    if "where false limit 0" in text:  # dbt asking a query for its columns
        return "introspection"
    if _MOVES_ROWS.search(text) or first in ("select", "with") and not _CATALOG.search(text):
        return "work"
    if first in ("select", "with"):
        return "introspection"
    return "ddl"  # CREATE (view, index), ALTER, DROP, DO, GRANT, COMMENT


def label(sql: str, width: int = 70) -> str:
    """A statement's first words, on one line."""
    return " ".join(_COMMENT.sub("", sql).split())[:width]


def _ts(event: dict) -> float:
    return datetime.fromisoformat(event["info"]["ts"].replace("Z", "+00:00")).timestamp()


def summarise(events: list[dict], started: float, ended: float) -> dict:
    """The breakdown of one command from its JSON log events and the process's wall clock (epoch seconds)."""
    nodes: dict[str, dict] = {}
    pending: dict[str, tuple[str, str]] = {}  # thread -> (node or hook, sql) of the statement running there
    current: dict[str, str] = {}  # thread -> the node it runs
    hooks = [0.0, 0.0]
    first_work = last_work = None
    for e in events:
        name, thread = e["info"]["name"], e["info"]["thread"]
        if name == "NodeStart":
            uid = e["data"]["node_info"]["unique_id"]
            current[thread] = uid
            nodes[uid] = {"node": uid.split(".")[-1], "started": _ts(e), "sql": dict.fromkeys(KINDS, 0.0), "top": []}
            first_work = first_work or _ts(e)
        elif name == "NodeFinished":
            uid = e["data"]["node_info"]["unique_id"]
            if uid in nodes:
                nodes[uid]["seconds"] = _ts(e) - nodes[uid]["started"]
            current.pop(thread, None)
            last_work = _ts(e)
        elif name == "LogHookStartLine":
            hooks[0] = _ts(e)
            first_work = first_work or _ts(e)
        elif name == "LogHookEndLine":
            hooks[1] += _ts(e) - hooks[0]
            last_work = max(last_work or 0, _ts(e))
        elif name == "SQLQuery":
            pending[thread] = (current.get(thread, ""), e["data"]["sql"])
        elif name == "SQLQueryStatus" and thread in pending:
            uid, sql = pending.pop(thread)
            if uid in nodes:
                seconds = float(e["data"]["elapsed"])
                nodes[uid]["sql"][kind(sql)] += seconds
                nodes[uid]["top"].append((seconds, label(sql)))
    models = []
    for n in nodes.values():
        seconds = n.get("seconds", 0.0)
        top = sorted(n["top"], reverse=True)[:2]
        sql = {k: round(v, 3) for k, v in n["sql"].items()}
        models.append(
            {
                "node": n["node"],
                "seconds": round(seconds, 3),
                "sql": sql,
                "dbt": round(max(0.0, seconds - sum(n["sql"].values())), 3),
                "slowest": [{"seconds": round(s, 3), "statement": t} for s, t in top],
            }
        )
    first_work = first_work or ended
    last_work = last_work or first_work
    return {
        "wall": round(ended - started, 3),
        "start": round(first_work - started, 3),
        "hooks": round(hooks[1], 3),
        "models": models,
        "models_total": round(sum(m["seconds"] for m in models), 3),
        "end": round(ended - last_work, 3),
    }


def measure(args: list[str], cwd: Path = ROOT, env: dict | None = None) -> dict:
    """Run `dbt <args>` as a whole process and return its breakdown (raises if dbt fails)."""
    args = list(args)
    if "--log-path" in args:  # the JSON log goes to a folder of its own
        del args[args.index("--log-path") : args.index("--log-path") + 2]
    with tempfile.TemporaryDirectory(prefix="dbt-breakdown-") as logs:
        argv = [DBT, "--log-format-file", "json", "--log-level-file", "debug", "--log-path", logs, *args, "-q"]
        started = time.time()
        subprocess.run(argv, cwd=cwd, env={**os.environ, "DO_NOT_TRACK": "1", **(env or {})}, check=True)
        ended = time.time()
        events = [json.loads(line) for line in (Path(logs) / "dbt.log").read_text().splitlines() if line.strip()]
    return summarise(events, started, ended)


def table(b: dict) -> str:
    """The breakdown as a markdown table, seconds."""
    rows = [
        "| part | seconds | work SQL | DDL | introspection | BEGIN/COMMIT | dbt itself | slowest statement |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        f"| start (imports, project, manifest, connect) | {b['start']:.2f} | | | | | | |",
        f"| on-run-start hooks | {b['hooks']:.2f} | | | | | | |",
    ]
    for m in b["models"]:
        s = m["sql"]
        slow = m["slowest"][0] if m["slowest"] else {"seconds": 0, "statement": ""}
        rows.append(
            f"| {m['node']} | {m['seconds']:.2f} | {s['work']:.2f} | {s['ddl']:.2f} | {s['introspection']:.2f} "
            f"| {s['transaction']:.2f} | {m['dbt']:.2f} | {slow['seconds']:.2f} s: `{slow['statement'][:48]}` |"
        )
    rows.append(f"| end (results, artifacts, exit) | {b['end']:.2f} | | | | | | |")
    rows.append(f"| **whole process** | **{b['wall']:.2f}** | | | | | | |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv) or ["run"]
    b = measure(args)
    print(table(b))
    print(json.dumps(b))


if __name__ == "__main__":
    main()
