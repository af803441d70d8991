"""dbt Python models, inside the database: reading a relation into a pandas DataFrame.

A ref()/source() is read by one SQL statement that aggregates each fixed-width column
into one bytea of its binary send format (int8send, float8send, timestamptz_send, ...)
and each other column into one array: PL/Python hands a bytea over as one bytes object
(one copy, no per-value conversion) and numpy reads it in place. Reading row by row
(plpy.cursor, a dict per row) took 3.8 s for 2,000,000 rows of 5 columns here; this,
1.5 s with the DataFrame built. Every aggregate of the statement sees the rows in the
same order (they share one aggregation node, or one partial state per row on
Greenplum), so the columns stay aligned.

Memory is bounded: a full read takes at most `max_rows` rows (config
python_max_input_rows, capped by half of the server's available memory); more is an
error naming the cap. `chunksize=N` reads through a cursor, N rows at a time, the same
columns decoded the same way, for inputs of any size.
"""

from __future__ import annotations

import decimal

from fraud_scoring.memory import available_memory

DEFAULT_MAX_ROWS = 10_000_000
# Bytes a read row costs at its peak, per fixed-width column: the aggregate's bytea, its
# Python bytes and numpy's native-order copy (3 x 8), and the mask; text-like values
# count 64 (a Python str and its list slot, the array element in the server).
BYTES_PER_FIXED_VALUE = 26
BYTES_PER_OTHER_VALUE = 64
EPOCH_2000_US = 946_684_800_000_000  # PostgreSQL timestamps count microseconds from 2000-01-01
EPOCH_2000_DAYS = 10_957

# base type -> (send function, numpy big-endian dtype, pandas dtype without NULLs, with NULLs)
FIXED = {
    "bigint": ("int8send", ">i8", "int64", "Int64"),
    "integer": ("int4send", ">i4", "int32", "Int32"),
    "smallint": ("int2send", ">i2", "int16", "Int16"),
    "double precision": ("float8send", ">f8", "float64", "float64"),
    "real": ("float4send", ">f4", "float32", "float32"),
    "boolean": ("boolsend", "|b1", "bool", "boolean"),
    "timestamp with time zone": ("timestamptz_send", ">i8", "datetime64[us, UTC]", "datetime64[us, UTC]"),
    "timestamp without time zone": ("timestamp_send", ">i8", "datetime64[us]", "datetime64[us]"),
    "date": ("date_send", ">i4", "datetime64[s]", "datetime64[s]"),
}


def _width(dtype: str) -> int:
    return int(dtype[2:])


# What a NULL is sent as where pandas has a missing value of the type itself, so that no
# NULL mask is read for the column: NaN for floats, -infinity (which reads as NaT) for times.
NULL_AS = {
    "double precision": "7ff8000000000000",
    "real": "7fc00000",
    "timestamp with time zone": "8000000000000000",
    "timestamp without time zone": "8000000000000000",
    "date": "80000000",
}


TEXT_TYPES = {"text", "character varying", "character", "name", "citext"}


class PythonModelError(Exception):
    """A problem a model's author can act on: becomes the query's error message."""


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def relation_sql(relation: dict) -> str:
    """{schema, identifier} (schema None for a temporary table) as a quoted name."""
    name = quote_ident(relation["identifier"])
    return quote_ident(relation["schema"]) + "." + name if relation.get("schema") else name


def relation_columns(plpy, from_sql: str) -> list[tuple[str, str, bool]]:
    """(name, base type without modifiers, may be NULL) of each column a relation or query has."""
    plan = plpy.prepare(
        "select a.attname::text as name, format_type(coalesce(nullif(t.typbasetype, 0), t.oid), null) as type, "
        "not a.attnotnull as nullable from pg_catalog.pg_attribute a join pg_catalog.pg_type t on t.oid = a.atttypid "
        "where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum",
        ["text"],
    )
    return [(r["name"], r["type"], r["nullable"]) for r in plpy.execute(plan, [from_sql])]


def query_columns(plpy, query: str) -> list[tuple[str, str, bool]]:
    """The columns of a query's result, through a temporary view (dropped first: CREATE OR REPLACE
    refuses a view whose columns changed, and each query has its own)."""
    plpy.execute("drop view if exists pg_temp.fraud_python_query")
    plpy.execute("create temporary view fraud_python_query as " + query)
    return relation_columns(plpy, "pg_temp.fraud_python_query")


def _expressions(columns, aggregate: bool) -> list[str]:
    """Per column, what the statement selects: the send bytes (and a NULL mask), or the text."""
    out = []
    for i, (name, type_, nullable) in enumerate(columns):
        col = quote_ident(name)
        if type_ in FIXED:
            send, dtype, _, _ = FIXED[type_]
            null = "'\\x" + NULL_AS.get(type_, "00" * _width(dtype)) + "'::bytea"
            value = f"coalesce({send}({col}), {null})"
            out.append(f"string_agg({value}, ''::bytea) as v{i}" if aggregate else f"{value} as v{i}")
            if nullable and type_ not in NULL_AS:
                mask = f"case when {col} is null then '\\x01'::bytea else '\\x00'::bytea end"
                out.append(f"string_agg({mask}, ''::bytea) as m{i}" if aggregate else f"{mask} as m{i}")
        else:
            out.append(f"array_agg({col}::text) as v{i}" if aggregate else f"{col}::text as v{i}")
    return out


def _decode(pd, np, type_, nullable, payload, mask_bytes, n):
    """One column's values as a pandas Series-ready array of the type's dtype."""
    nullable = nullable and type_ not in NULL_AS  # NULLs arrived as NaN / NaT
    if type_ in FIXED:
        _, dtype, plain, with_nulls = FIXED[type_]
        raw = np.frombuffer(payload or b"", dtype=dtype, count=n)
        values = raw.astype("bool" if dtype == "|b1" else dtype.lstrip(">"))
        mask = np.frombuffer(mask_bytes or b"", dtype="|b1", count=n).astype(bool) if nullable else None
        if type_.startswith("timestamp") or type_ == "date":
            limits = np.iinfo(values.dtype)
            extreme = (values == limits.max) | (values == limits.min)  # +-infinity: NaT
            mask = extreme if mask is None else (mask | extreme)
            values = values.astype("int64")
            if type_ == "date":
                values = (values + EPOCH_2000_DAYS) * 86_400
                result = values.astype("datetime64[s]")
            else:
                result = (values + EPOCH_2000_US).astype("datetime64[us]")
            if mask.any():
                result[mask] = np.datetime64("NaT")
            return pd.Series(result).dt.tz_localize("UTC").array if "UTC" in plain else result
        if mask is None:  # NOT NULL, or a float (a NULL arrived as NaN)
            return values
        # a column that may hold NULLs gets pandas' nullable dtype whether or not this read
        # found one, so a model's dtypes depend on the schema, never on the data
        return _masked(pd, values, mask, with_nulls)
    texts = list(payload) if payload is not None else []
    if type_ in TEXT_TYPES:
        return pd.array(texts, dtype="str")
    if type_ == "numeric":
        return np.array([None if t is None else decimal.Decimal(t) for t in texts], dtype=object)
    return np.array(texts, dtype=object)


def _masked(pd, values, mask, dtype):
    out = pd.array(values, dtype=dtype)
    out[mask] = pd.NA
    return out


def _frame(pd, np, columns, row, n):
    return pd.DataFrame(
        {
            name: _decode(pd, np, type_, nullable, row.get(f"v{i}"), row.get(f"m{i}"), n)
            for i, (name, type_, nullable) in enumerate(columns)
        },
        index=pd.RangeIndex(n),
    )


def max_rows_for(columns, configured) -> int:
    """The full-read row cap: the configured one, lowered to what half the free memory holds."""
    cap = int(configured) if configured else DEFAULT_MAX_ROWS
    per_row = sum(BYTES_PER_FIXED_VALUE if t in FIXED else BYTES_PER_OTHER_VALUE for _, t, _ in columns) or 1
    free = available_memory()
    return min(cap, free // 2 // per_row) if free else cap


class Reader:
    """Reads relations and queries into DataFrames inside one PL/Python call."""

    def __init__(self, plpy, max_rows=None):
        import numpy as np
        import pandas as pd

        self.plpy, self.pd, self.np, self.max_rows = plpy, pd, np, max_rows

    def _columns(self, from_sql, is_query, columns, what):
        found = query_columns(self.plpy, from_sql) if is_query else relation_columns(self.plpy, from_sql)
        if columns is None:
            return found
        by_name = {c[0]: c for c in found}
        unknown = [c for c in columns if c not in by_name]
        if unknown:
            raise PythonModelError(
                "%s has no column %s (it has: %s)" % (what, ", ".join(unknown), ", ".join(by_name) or "none")
            )
        return [by_name[c] for c in columns]

    def read(self, from_sql: str, what: str, columns=None, chunksize=None, is_query=False):
        """A DataFrame of everything (at most the row cap), or an iterator of chunks of `chunksize` rows."""
        cols = self._columns(from_sql, is_query, columns, what)
        source = "(%s) as q" % from_sql if is_query else from_sql
        picked = ", ".join(quote_ident(c[0]) for c in cols) or "1"
        if chunksize is not None:
            if not isinstance(chunksize, int) or chunksize < 1:
                raise PythonModelError("chunksize must be a positive integer, got %r" % (chunksize,))
            return self._chunks(cols, f"select {picked} from {source}", chunksize)
        cap = max_rows_for(cols, self.max_rows)
        sql = "select count(*) as n{} from (select {} from {} limit {}) as s".format(
            "".join(", " + e for e in _expressions(cols, True)), picked, source, cap + 1
        )
        row = self.plpy.execute(sql)[0]
        n = row["n"]
        if n > cap:
            raise PythonModelError(
                "%s has more than %d rows, the most dbt.ref()/dbt.source() reads at once (config "
                "python_max_input_rows, %s; capped by half of the server's available memory): read it in "
                "chunks with dbt.ref(..., chunksize=N), select fewer columns with columns=[...], aggregate it "
                "in a SQL model first, or raise python_max_input_rows"
                % (what, cap, self.max_rows or "default %d" % DEFAULT_MAX_ROWS)
            )
        return _frame(self.pd, self.np, cols, row, n)

    def _chunks(self, cols, select_sql, chunksize):
        exprs = _expressions(cols, False)
        cursor = self.plpy.cursor("select {} from ({}) as s".format(", ".join(exprs) or "1", select_sql))
        names = [e.rsplit(" as ", 1)[1] for e in exprs]
        while True:
            rows = cursor.fetch(chunksize)
            n = len(rows)
            if not n:
                return
            row = {}
            for key in names:
                values = [r[key] for r in rows]
                fixed = key.startswith("m") or cols[int(key[1:])][1] in FIXED
                row[key] = b"".join(values) if fixed else values
            yield _frame(self.pd, self.np, cols, row, n)
