"""Load a Kaggle-format CSV into the raw table, all or nothing.

Every row is validated while it streams into COPY; the new rows go to a loading
table in the same transaction that swaps it in, so a bad file leaves the
previous table (and everything built on it) untouched.
"""

from __future__ import annotations

import functools
import io
import sys
from array import array
from pathlib import Path

import numpy as np

from fraud_scoring.kaggle import DataError, iter_kaggle_rows


@functools.cache
def feature_columns() -> tuple[str, ...]:
    """The features as the raw table's column names (the stack contract, read when first used)."""
    from fraud_scoring.contract import project_contract

    return project_contract().columns


@functools.cache
def raw_columns() -> tuple[str, ...]:
    """The columns a load writes (COPY); loaded_at is the table's own (its default, now())."""
    return ("transaction_id", "time", *feature_columns(), "amount", "class")


def __getattr__(name: str):
    """FEATURE_COLUMNS and RAW_COLUMNS, as before, computed when first used rather than at import."""
    if name == "FEATURE_COLUMNS":
        return feature_columns()
    if name == "RAW_COLUMNS":
        return raw_columns()
    raise AttributeError(f"module 'warehouse.loading' has no attribute {name!r}")


def raw_table_ddl(table: str, platform: str = "postgres", distributed_by: str | None = None) -> str:
    """The raw table. On Greenplum / Cloudberry, as in the 2017 post: append-optimized,
    compressed, DISTRIBUTED RANDOMLY (or by a column the user chooses), and no
    primary key (Greenplum wants the distribution key inside every unique key).
    loaded_at (when the row arrived: dbt source freshness) is filled by its default,
    so COPY names RAW_COLUMNS and never supplies it."""
    features = ",\n    ".join(f"{column} double precision" for column in feature_columns())
    if distributed_by is not None and distributed_by not in raw_columns():
        raise ValueError(f"cannot distribute by {distributed_by!r}: choose one of {', '.join(raw_columns())}")
    if platform == "greenplum":
        key, storage = "", " with (appendonly=true, compresstype=zstd, compresslevel=1)"
        storage += f" distributed by ({distributed_by})" if distributed_by else " distributed randomly"
    elif platform == "postgres":
        if distributed_by:
            raise ValueError("distributed_by applies to Greenplum / Cloudberry only")
        key, storage = " primary key", ""
    else:
        raise ValueError(f"unknown platform {platform!r}: 'postgres' or 'greenplum'")
    return f"""create table {table} (
    transaction_id bigint{key},
    time double precision,
    {features},
    amount double precision,
    class smallint,
    loaded_at timestamptz not null default now()
){storage}"""


def platform(conn) -> str:
    """'greenplum' on Greenplum or Apache Cloudberry, else 'postgres' (as the dbt macros decide)."""
    with conn.cursor() as cur:
        cur.execute("select version()")
        version = cur.fetchone()[0].lower()
    return "greenplum" if ("greenplum" in version or "cloudberry" in version) else "postgres"


class _CopyStream(io.TextIOBase):
    """A file-like object COPY reads from: rows are validated and formatted lazily."""

    def __init__(self, path: Path, first_id: int):
        # one generator for the whole file: read() stops mid-file, and a generator made
        # per read() would close the file's iterator when dropped (only 5,000 rows loaded)
        self._rows = self._checked(iter_kaggle_rows(path))
        self._next_id = first_id
        self._buffer = ""
        self.rows = 0
        # a hash of every row's values, and its line: 12 bytes a row, to find duplicates at the end
        self.hashes, self.lines = array("q"), array("l")
        self.error: DataError | None = None  # psycopg2 reports it as a cancelled COPY: kept to re-raise

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> str:
        while size < 0 or len(self._buffer) < size:
            chunk = []
            for line, values in self._rows:
                self.hashes.append(hash(tuple(values)))
                self.lines.append(line)
                values[-1] = int(values[-1])
                chunk.append("\t".join([str(self._next_id + self.rows), *map(repr, values)]))
                self.rows += 1
                if len(chunk) == 5000:
                    break
            if not chunk:
                break
            self._buffer += "\n".join(chunk) + "\n"
        if size < 0:
            size = len(self._buffer)
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    readline = read

    def _checked(self, rows):
        try:
            yield from rows
        except DataError as exc:
            self.error = exc
            raise


def duplicate_lines(hashes: array, lines: array) -> list[tuple[int, int]]:
    """(line, line it repeats) for every row whose values equal an earlier row's, in file order."""
    h, n = np.frombuffer(hashes, dtype=np.int64), np.frombuffer(lines, dtype=np.int64)
    order = np.lexsort((n, h))  # by hash, then line
    h, n = h[order], n[order]
    same = np.flatnonzero(h[1:] == h[:-1]) + 1
    first_of_run = np.maximum.accumulate(np.where(np.r_[True, h[1:] != h[:-1]], np.arange(len(h)), 0))
    return sorted((int(n[i]), int(n[first_of_run[i]])) for i in same)


DUPLICATES = ("warn", "error")


def _report_duplicates(path: Path, stream: _CopyStream, duplicates: str, warn) -> None:
    found = duplicate_lines(stream.hashes, stream.lines)
    if not found:
        return
    line, first = found[0]
    where = f"{path}:{line}: this row repeats line {first} exactly ({len(found)} such rows in the file)"
    if duplicates == "error":
        raise DataError(f"{where}: nothing was loaded (duplicates='warn' loads them)")
    warn(f"warning: {where}. The real Kaggle file has such rows too; each is loaded as its own transaction")


def _split(table: str) -> tuple[str, str]:
    schema, _, name = table.rpartition(".")
    return schema or "public", name


def load_csv(
    conn,
    path: Path | str,
    table: str = "raw.credit_card",
    append: bool = False,
    distributed_by: str | None = None,
    duplicates: str = "warn",
    warn=lambda message: print(message, file=sys.stderr),
) -> int:
    """Load (or with append=True, add) the file's rows; returns the number of rows loaded.

    transaction_id is the row's position: 1..n for a fresh load, continuing after
    the largest existing id when appending, so ids are stable across reloads.
    Rows that repeat an earlier row exactly are reported (file and lines); with
    duplicates="error" they stop the load and nothing is loaded.
    """
    if duplicates not in DUPLICATES:
        raise ValueError(f"duplicates must be one of {DUPLICATES}, got {duplicates!r}")
    import psycopg2
    from psycopg2 import sql

    schema, name = _split(table)
    target = sql.Identifier(schema, name)
    loading = sql.Identifier(schema, f"{name}__loading")
    with conn:  # one transaction: all rows or none
        with conn.cursor() as cur:
            cur.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
            cur.execute("select to_regclass(%s) is not null", (f"{schema}.{name}",))
            exists = cur.fetchone()[0]
            first_id = 1
            if append:
                if not exists:
                    raise ValueError(f"cannot append: table {table} does not exist yet")
                # Lock so two concurrent appends cannot hand out the same ids.
                cur.execute(sql.SQL("lock table {} in share row exclusive mode").format(target))
                cur.execute(sql.SQL("select coalesce(max(transaction_id), 0) + 1 from {}").format(target))
                first_id = cur.fetchone()[0]
            cur.execute(sql.SQL("drop table if exists {}").format(loading))
            ddl = raw_table_ddl("{}", platform(conn), distributed_by)
            cur.execute(sql.SQL(ddl).format(loading))
            stream = _CopyStream(Path(path), first_id)
            cols = sql.SQL(", ").join(map(sql.Identifier, raw_columns()))
            try:
                cur.copy_expert(sql.SQL("copy {} ({}) from stdin").format(loading, cols).as_string(cur), stream)
            except psycopg2.Error:
                if stream.error is not None:  # the file's own error, not "COPY from stdin failed"
                    raise stream.error from None
                raise
            _report_duplicates(Path(path), stream, duplicates, warn)  # an error here rolls the load back
            # by name: a table created before loaded_at existed has every column but that one,
            # and where it has loaded_at its default stamps the moved rows with this load's time
            move = sql.SQL("insert into {} ({}) select {} from {}").format(target, cols, cols, loading)
            if append:
                cur.execute(move)
                cur.execute(sql.SQL("drop table {}").format(loading))
            else:
                # Dependent views (dbt's staging) would block a drop: swap the rows in place instead.
                if exists:
                    cur.execute(sql.SQL("truncate {}").format(target))
                    cur.execute(move)
                    cur.execute(sql.SQL("drop table {}").format(loading))
                else:
                    cur.execute(sql.SQL("alter table {} rename to {}").format(loading, sql.Identifier(name)))
            cur.execute(sql.SQL("analyze {}").format(target))
            # the labels table beside it (docs/labels.md), empty until labels are loaded, so
            # stg_fraud__labels builds before any label has arrived
            from warehouse.labels import ensure_labels_table, labels_table_for

            ensure_labels_table(cur, labels_table_for(f"{schema}.{name}"), platform(conn))
    return stream.rows
