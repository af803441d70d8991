"""dbt Python models, inside the database: writing the DataFrame model() returns.

One INSERT per model, never a row at a time: each column goes over as the text of one
SQL array (numbers printed by Python's C float repr / json, exact), parsed by array_in
and spread by a multi-argument unnest. Timestamps travel as microseconds since the epoch
(int8) and become timestamps in SQL, so no time zone or format is guessed.

The column types come from the table being written: with an enforced contract the
materialization creates it from the contract; without one, infer_types() names a type
for each pandas dtype (docs/python-models.md has the table). Every value is checked
against its column's type here, so an error names the column.
"""

from __future__ import annotations

import datetime
import decimal
import json

from fraud_scoring.pymodel_read import PythonModelError, quote_ident, relation_columns

INTEGER_RANGES = {"smallint": 2**15, "integer": 2**31, "bigint": 2**63}
FLOAT_TYPES = {"double precision", "real"}
TEXT_TYPES = {"text", "character varying", "character", "name"}


def _kind(dtype) -> str:
    return getattr(dtype, "kind", "O")


def infer_types(pd, df) -> dict:
    """column -> SQL type, from the DataFrame's dtypes; an object column by what it holds."""
    types = {}
    for name in df.columns:
        s = df[name]
        dtype, kind = s.dtype, _kind(s.dtype)
        if pd.api.types.is_bool_dtype(dtype):
            types[name] = "boolean"
        elif pd.api.types.is_integer_dtype(dtype):
            size = dtype.itemsize if kind == "i" else dtype.itemsize * 2  # unsigned: the next size up
            types[name] = "smallint" if size <= 2 else "integer" if size == 4 else "bigint" if size == 8 else "numeric"
        elif pd.api.types.is_float_dtype(dtype):
            types[name] = "real" if dtype.itemsize == 4 else "double precision"
        elif isinstance(dtype, pd.DatetimeTZDtype):
            types[name] = "timestamp with time zone"
        elif kind == "M":
            types[name] = "timestamp without time zone"
        elif pd.api.types.is_string_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
            types[name] = _object_type(name, s.dropna())
        else:
            raise PythonModelError(
                "column %s: cannot store pandas dtype %s; convert it, or declare the column's type in the "
                "model's contract" % (name, dtype)
            )
    return types


def _object_type(name, values) -> str:
    """The SQL type of an object/str column: text, unless every value is one other kind."""
    kinds = {type(v) for v in values}
    if not kinds or kinds <= {str}:
        return "text"
    if kinds <= {decimal.Decimal}:
        return "numeric"
    if kinds <= {datetime.date}:
        return "date"
    if kinds <= {bool}:
        return "boolean"
    raise PythonModelError(
        "column %s: holds %s values; one type per column (convert them, e.g. .astype(str)), or declare "
        "the column's type in the model's contract" % (name, " and ".join(sorted(k.__name__ for k in kinds)))
    )


def create_table_sql(relation_sql: str, types: dict, temporary: bool) -> str:
    cols = ", ".join("%s %s" % (quote_ident(c), t) for c, t in types.items())
    return "create %stable %s (%s)" % ("temporary " if temporary else "", relation_sql, cols)


def _literal(items) -> str:
    return "{" + ",".join(items) + "}"


def _quoted(v) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _refuse(name, type_, what, fix=""):
    raise PythonModelError("column %s: %s does not fit %s%s" % (name, what, type_, fix))


def column_array(pd, np, name, s, type_):
    """(the text of a SQL array of the column's values, the SQL type that text is parsed as,
    the SQL expression turning unnest's element {u} into the column's value)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)  # its values, checked like any other column's
    missing = s.isna().to_numpy()
    kind = _kind(s.dtype)
    if type_ in INTEGER_RANGES or type_ in FLOAT_TYPES or type_ == "numeric":
        if pd.api.types.is_bool_dtype(s.dtype) or not (
            pd.api.types.is_numeric_dtype(s.dtype) or s.dropna().map(type).isin([int, float, decimal.Decimal]).all()
        ):
            _refuse(name, type_, "%s values" % s.dtype, " (numbers only)")
        if type_ == "numeric" and kind == "O":
            items = ["NULL" if m else str(v) for v, m in zip(s.tolist(), missing, strict=True)]
            return _literal(items), "numeric[]", "{u}"
        if type_ in INTEGER_RANGES:
            return _integer_array(pd, np, name, s, type_, missing), type_ + "[]", "{u}"
        values = s.to_numpy(dtype="float64", na_value=np.nan)
        as_list = [None if m else v for v, m in zip(values.tolist(), missing, strict=True)]
        return "{" + json.dumps(as_list)[1:-1] + "}", type_ + "[]", "{u}"
    if type_ == "boolean":
        if not pd.api.types.is_bool_dtype(s.dtype) and not s.dropna().map(type).isin([bool, np.bool_]).all():
            _refuse(name, type_, "%s values" % s.dtype, " (True/False only)")
        items = ["NULL" if m else ("t" if v else "f") for v, m in zip(s.tolist(), missing, strict=True)]
        return _literal(items), "boolean[]", "{u}"
    if type_ in ("timestamp with time zone", "timestamp without time zone", "date"):
        return _time_array(pd, np, name, s, type_, missing)
    # text and every other type: the value's text, parsed by the type's input function
    if not (pd.api.types.is_string_dtype(s.dtype) and s.dropna().map(type).isin([str]).all()):
        if type_ in TEXT_TYPES:
            _refuse(name, type_, "%s values" % s.dtype, " (strings only: convert them with .astype(str))")
        s = s.astype(object).where(~missing, None).map(lambda v: v if v is None else str(v))
    items = ["NULL" if m else _quoted(v) for v, m in zip(s.tolist(), missing, strict=True)]
    return _literal(items), "text[]", "{u}::" + type_


def _integer_array(pd, np, name, s, type_, missing) -> str:
    """Whole numbers within the type's range (floats holding whole numbers too), else refused."""
    if pd.api.types.is_integer_dtype(s.dtype):
        values = s.to_numpy(dtype="int64", na_value=0)
    else:
        values = s.to_numpy(dtype="float64", na_value=0.0)
        fractional = ~missing & ((values != np.floor(values)) | np.isinf(values))
        if fractional.any():
            _refuse(name, type_, "the value %r" % values[fractional][0].item(), " (not a whole number)")
    limit = INTEGER_RANGES[type_]
    outside = ~missing & ((values >= limit) | (values < -limit))
    if outside.any():
        _refuse(name, type_, "the value %d" % values[outside][0].item(), " (out of range)")
    return _literal("NULL" if m else str(int(v)) for v, m in zip(values.tolist(), missing, strict=True))


def _time_array(pd, np, name, s, type_, missing):
    if type_ == "date" and _kind(s.dtype) == "O":
        if not s.dropna().map(lambda v: isinstance(v, datetime.date)).all():
            _refuse(name, type_, "%s values" % s.dtype, " (dates or datetime64 only)")
        s = pd.to_datetime(s)
    if not pd.api.types.is_datetime64_any_dtype(s.dtype):
        _refuse(name, type_, "%s values" % s.dtype, " (datetime64 only)")
    aware = isinstance(s.dtype, pd.DatetimeTZDtype)
    if type_ == "timestamp with time zone" and not aware:
        _refuse(name, type_, "naive datetime64 values", " (say their zone: .dt.tz_localize('UTC'))")
    if type_ != "timestamp with time zone" and aware:
        _refuse(name, type_, "time-zone-aware values", " (.dt.tz_convert(None) for UTC wall-clock times)")
    micros = s.dt.tz_convert("UTC").dt.tz_localize(None) if aware else s
    micros = micros.to_numpy().astype("datetime64[us]").astype("int64")
    items = ["NULL" if m else str(v) for v, m in zip(micros.tolist(), missing, strict=True)]
    epoch = {"timestamp with time zone": "timestamptz", "timestamp without time zone": "timestamp", "date": "timestamp"}
    expr = "%s '1970-01-01 00:00:00+00' + {u} * interval '1 microsecond'" % epoch[type_]
    return _literal(items), "bigint[]", ("(%s)::date" % expr) if type_ == "date" else expr


def write_frame(plpy, df, relation_sql: str, what: str) -> int:
    """Insert the DataFrame into an existing table whose columns are exactly the frame's."""
    import numpy as np
    import pandas as pd

    table = relation_columns(plpy, relation_sql)
    types = {c: t for c, t, _ in table}
    extra = [c for c in df.columns if c not in types]
    if extra:
        raise PythonModelError(
            "column %s of the DataFrame model() returned is not in %s (its columns: %s)"
            % (", ".join(map(str, extra)), what, ", ".join(types))
        )
    missing = [c for c in types if c not in df.columns]
    if missing:
        raise PythonModelError(
            "column %s of %s is missing from the DataFrame model() returned" % (", ".join(missing), what)
        )
    if not len(df.columns):
        return 0
    arrays, params, exprs = [], [], []
    for i, name in enumerate(types):
        text, param_type, expr = column_array(pd, np, name, df[name], types[name])
        arrays.append(text)
        params.append("$%d::%s" % (i + 1, param_type))
        exprs.append(expr.format(u="u%d" % i))
    sql = "insert into {} ({}) select {} from unnest({}) as t({})".format(
        relation_sql,
        ", ".join(quote_ident(c) for c in types),
        ", ".join(exprs),
        ", ".join(params),
        ", ".join("u%d" % i for i in range(len(types))),
    )
    plan = plpy.prepare(sql, ["text"] * len(types))
    try:
        return plpy.execute(plan, arrays).nrows()
    except plpy.SPIError as exc:
        raise PythonModelError("writing the DataFrame into %s failed: %s" % (what, exc)) from None
