"""Load fraud labels into raw.credit_card_labels, all or nothing.

Labels arrive apart from the transactions and later (a chargeback, a confirmed
fraud, a dispute window that closed): one row per label event, (transaction_id,
is_fraud, labeled_at). A second event for the same transaction is a correction:
the one with the latest labeled_at wins, and "the label known at date D" is the
latest event with labeled_at on or before D (docs/labels.md).

A load is checked whole before anything is written: every line of the file
(label 0/1/true/false, labeled_at an ISO 8601 time with a time zone), every
transaction id known in the raw table, and no two events for one transaction at
the same labeled_at with different labels. Any problem raises DataError naming
it, and the transaction rolls back.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path

from fraud_scoring.kaggle import DataError

# The calendar of the transactions: Kaggle's Time is seconds since the data starts, and
# the data is from September 2013. dbt's var fraud_time_origin has the same default
# (a test checks that they agree); --time-origin overrides this one.
TIME_ORIGIN = "2013-09-01 00:00:00+00"

HEADER = ("transaction_id", "label", "labeled_at")
LABELS = {"0": False, "1": True, "false": False, "true": True}
# how many offending ids or lines an error names (it counts them all)
SHOWN = 5


def labels_table_for(transactions: str) -> str:
    """The labels table beside a raw table: raw.credit_card -> raw.credit_card_labels."""
    return f"{transactions}_labels"


def labels_table_ddl(table: str, platform: str = "postgres") -> str:
    """One row per label event. loaded_at (when the event arrived: dbt source freshness
    and what fraud_label_performance has already read) is set by the loader, after it
    holds the table's lock, so later loads always write later times."""
    if platform == "greenplum":
        key, storage = "", " distributed by (transaction_id)"
    elif platform == "postgres":
        key, storage = ",\n    primary key (transaction_id, labeled_at)", ""
    else:
        raise ValueError(f"unknown platform {platform!r}: 'postgres' or 'greenplum'")
    return f"""create table if not exists {table} (
    transaction_id bigint not null,
    is_fraud boolean not null,
    labeled_at timestamptz not null,
    loaded_at timestamptz not null default now(){key}
){storage}"""


def ensure_labels_table(cur, table: str, platform: str) -> None:
    from psycopg2 import sql

    schema, _, name = table.rpartition(".")
    cur.execute(sql.SQL(labels_table_ddl("{}", platform)).format(sql.Identifier(schema or "public", name)))


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with a time zone ('2013-09-12T08:00:00+00:00', '2013-09-12 08:00Z')."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("it has no time zone (write +00:00 or Z for UTC)")
    return value


def read_labels_csv(path: Path | str) -> list[tuple[int, bool, datetime]]:
    """(transaction_id, is_fraud, labeled_at) of every line; DataError naming file, line and
    problem for a bad header, id, label or time."""
    path = Path(path)
    rows = []
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(h.strip().lower() for h in header) != HEADER:
            raise DataError(f"{path}:1: the header must be {','.join(HEADER)}, got {header!r}: nothing was loaded")
        for line, fields in enumerate(reader, start=2):
            if not fields:
                continue
            if len(fields) != len(HEADER):
                raise DataError(f"{path}:{line}: expected 3 fields, got {len(fields)}: nothing was loaded")
            text_id, text_label, text_time = fields
            try:
                transaction_id = int(text_id)
            except ValueError:
                problem = f"transaction_id {text_id!r} is not an integer"
                raise DataError(f"{path}:{line}: {problem}: nothing was loaded") from None
            label = LABELS.get(text_label.strip().lower())
            if label is None:
                raise DataError(f"{path}:{line}: label {text_label!r} is not 0, 1, true or false: nothing was loaded")
            try:
                labeled_at = parse_time(text_time)
            except ValueError as exc:
                reason = str(exc) if "time zone" in str(exc) else "it is not an ISO 8601 time"
                raise DataError(f"{path}:{line}: labeled_at {text_time!r}: {reason}: nothing was loaded") from None
            rows.append((transaction_id, label, labeled_at))
    return rows


def write_labels_csv(path: Path | str, rows) -> Path:
    """A labels file the loader reads: (transaction_id, is_fraud, labeled_at) rows."""
    path = Path(path)
    with open(path, "w", newline="") as f:
        f.write(",".join(HEADER) + "\n")
        for transaction_id, is_fraud, labeled_at in rows:
            f.write(f"{transaction_id},{int(is_fraud)},{labeled_at.isoformat()}\n")
    return path


def _stage(cur, platform: str) -> None:
    cur.execute("drop table if exists pg_temp.fraud_labels_loading")
    cur.execute(
        "create temporary table fraud_labels_loading "
        "(transaction_id bigint, is_fraud boolean, labeled_at timestamptz) on commit drop"
        + (" distributed by (transaction_id)" if platform == "greenplum" else "")
    )


def _check_and_insert(cur, table: str, transactions: str, source: str) -> int:
    """The staged events checked against the raw table and the events already loaded, then
    inserted (an event loaded before, the same in every field, is skipped)."""
    from psycopg2 import sql

    labels, raw = (sql.Identifier(*_split(t)) for t in (table, transactions))
    cur.execute(
        sql.SQL(
            "select count(*) over (), loading.transaction_id from pg_temp.fraud_labels_loading as loading "
            "left join {} as raw on raw.transaction_id = loading.transaction_id "
            "where raw.transaction_id is null order by loading.transaction_id limit %s"
        ).format(raw),
        (SHOWN,),
    )
    unknown = cur.fetchall()
    if unknown:
        ids = ", ".join(str(r[1]) for r in unknown)
        raise DataError(
            f"{source}: {unknown[0][0]:,} labels name transactions not in {transactions} "
            f"(transaction_id {ids}{', ...' if unknown[0][0] > SHOWN else ''}): nothing was loaded"
        )
    cur.execute(
        sql.SQL(
            "select events.transaction_id, events.labeled_at::text from ("
            " select transaction_id, labeled_at, is_fraud from pg_temp.fraud_labels_loading"
            " union select transaction_id, labeled_at, is_fraud from {}"
            ") as events group by events.transaction_id, events.labeled_at having count(*) > 1"
            " order by 1, 2 limit %s"
        ).format(labels),
        (SHOWN,),
    )
    conflicting = cur.fetchall()
    if conflicting:
        which = "; ".join(f"transaction_id {i} at {t}" for i, t in conflicting)
        raise DataError(
            f"{source}: two different labels for one transaction at the same labeled_at ({which}): "
            "a correction needs a later labeled_at; nothing was loaded"
        )
    # after the lock: a later load gets a later loaded_at (fraud_label_performance reads
    # the events loaded after the newest it holds)
    cur.execute(
        sql.SQL(
            "insert into {} (transaction_id, is_fraud, labeled_at, loaded_at) "
            "select distinct loading.transaction_id, loading.is_fraud, loading.labeled_at, clock_timestamp() "
            "from pg_temp.fraud_labels_loading as loading "
            "where not exists (select 1 from {} as loaded where loaded.transaction_id = loading.transaction_id "
            "and loaded.labeled_at = loading.labeled_at)"
        ).format(labels, labels)
    )
    inserted = cur.rowcount
    cur.execute(sql.SQL("analyze {}").format(labels))
    return inserted


def _split(table: str) -> tuple[str, str]:
    schema, _, name = table.rpartition(".")
    return schema or "public", name


def _begin(cur, table: str, transactions: str) -> str:
    from psycopg2 import sql

    from warehouse.loading import platform

    cur.execute("select to_regclass(%s) is not null", (transactions,))
    if not cur.fetchone()[0]:
        raise ValueError(f"cannot load labels: the transactions table {transactions} does not exist")
    where = platform(cur.connection)
    ensure_labels_table(cur, table, where)
    # one load at a time, so loaded_at follows the order loads commit in
    cur.execute(sql.SQL("lock table {} in share row exclusive mode").format(sql.Identifier(*_split(table))))
    _stage(cur, where)
    return where


def load_labels_csv(conn, path: Path | str, transactions: str = "raw.credit_card", table: str | None = None) -> int:
    """Add the file's label events (header transaction_id,label,labeled_at) to the labels
    table; returns how many were new. All or nothing."""
    return load_label_rows(conn, read_labels_csv(path), transactions, table, str(path))


def load_label_rows(
    conn, rows, transactions: str = "raw.credit_card", table: str | None = None, source: str = "labels"
) -> int:
    """Add (transaction_id, is_fraud, labeled_at) events, read_labels_csv's rows; returns how
    many were new. All or nothing; errors name `source`."""
    table = table or labels_table_for(transactions)
    with conn, conn.cursor() as cur:
        _begin(cur, table, transactions)
        buffer = io.StringIO("".join(f"{i}\t{'t' if f else 'f'}\t{t.isoformat()}\n" for i, f, t in rows))
        cur.copy_expert("copy pg_temp.fraud_labels_loading from stdin", buffer)
        return _check_and_insert(cur, table, transactions, source)


def load_labels_from_class(
    conn,
    transactions: str = "raw.credit_card",
    table: str | None = None,
    labeled_at: datetime | None = None,
    time_origin: str = TIME_ORIGIN,
) -> int:
    """The raw table's Kaggle class as one label feed: every labeled row (class 0 or 1) as an
    event at labeled_at, by default the transaction's own time (time_origin + Time seconds:
    known at once, as the Kaggle file treats its labels). Rerunning adds nothing already
    loaded; a class changed since needs a later labeled_at (a correction), else it is refused."""
    from psycopg2 import sql

    table = table or labels_table_for(transactions)
    origin = parse_time(time_origin)
    with conn, conn.cursor() as cur:
        _begin(cur, table, transactions)
        if labeled_at is None:
            when, value = sql.SQL("%s::timestamptz + raw.time * interval '1 second'"), origin
        else:
            when, value = sql.SQL("%s::timestamptz"), labeled_at
        cur.execute(
            sql.SQL(
                "insert into pg_temp.fraud_labels_loading "
                "select raw.transaction_id, raw.class = 1, {} from {} as raw where raw.class is not null"
            ).format(when, sql.Identifier(*_split(transactions))),
            (value,),
        )
        return _check_and_insert(cur, table, transactions, f"{transactions}.class")


def transaction_time(seconds: float, time_origin: str = TIME_ORIGIN) -> datetime:
    """A transaction's calendar time: the origin plus Kaggle's Time seconds."""
    return parse_time(time_origin) + timedelta(seconds=float(seconds))
