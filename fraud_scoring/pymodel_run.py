"""dbt Python models, inside the database: running a published model's code.

`{schema}.run_python_model(context, code)` (macros/python_models/) calls run_model().
The code it runs is the PUBLISHED code of the model ({schema}.python_models, written
only by a superuser: publish_python_model), never code a caller hands over: the caller's
`code` is compared with it, and a difference is an error naming the fix. What the caller
sends besides is data (context: the relations ref()/source() resolve to, the model's
config, this, is_incremental, the relation to write), read as JSON, never executed. So a
role that may run Python models runs reviewed code only, and every SQL statement the
code issues runs with that role's own privileges (the function is SECURITY INVOKER).

dbt's own postfix (py_script_postfix: ref, source, config, this, dbtObj) is code
rendered per caller and target; the `dbt` object here is built from the context instead.
"""

from __future__ import annotations

import hashlib
import json
import linecache
import sys
import traceback

from fraud_scoring.pymodel_read import PythonModelError, Reader, relation_sql
from fraud_scoring.pymodel_write import create_table_sql, infer_types, write_frame

PUBLISH_HINT = (
    "a superuser reviews the code and runs `dbt run-operation publish_python_models` "
    "(a superuser's `dbt run` publishes the models it runs)"
)


def code_sha256(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def import_pandas():
    """pandas and numpy, or an error naming the server's Python and the fix."""
    try:
        import numpy
        import pandas
    except ImportError as exc:
        version = "%d.%d" % sys.version_info[:2]
        raise PythonModelError(
            "Python models need pandas in the database server's Python (%s, %s), which cannot import it: %s. "
            "Install the project's pinned packages into the Python the server runs, on the server's PYTHONPATH "
            "(`make venv` builds .venv from /usr/bin/python3 and scripts/db.sh puts its site-packages there); "
            "a venv built from another Python (compiled for another major.minor) does not load: "
            "`make clean-venv venv PYTHON=python%s`" % (version, sys.executable or "embedded", exc, version)
        ) from None
    return pandas, numpy


class _Config:
    def __init__(self, values: dict, meta: dict):
        self._values, self._meta = values, meta

    def __call__(self, *args, **kwargs):  # dbt.config(...) in model(): read at parse time, a no-op here
        return None

    def get(self, key, default=None):
        return self._values.get(key, default)

    def meta_get(self, key, default=None):
        return self._meta.get(key, default)


class _This:
    """dbt.this: the model's relation as it stands (its quoted name when printed)."""

    def __init__(self, relation: dict):
        self.database = relation.get("database")
        self.schema = relation["schema"]
        self.identifier = relation["identifier"]

    def __repr__(self):
        return relation_sql({"schema": self.schema, "identifier": self.identifier})

    __str__ = __repr__


class Dbt:
    """The `dbt` argument of model(): ref, source, config, this, is_incremental."""

    def __init__(self, reader: Reader, context: dict):
        self._reader, self._refs, self._sources = reader, context["refs"], context["sources"]
        self.config = _Config(context.get("config") or {}, context.get("meta") or {})
        self.this = _This(context["this"])
        self.is_incremental = bool(context["is_incremental"])

    def ref(self, *args, columns=None, chunksize=None, **kwargs):
        """The relation as a DataFrame (columns=[...] reads only those; chunksize=N, an iterator of DataFrames)."""
        key = ".".join(args)
        version = kwargs.get("v") or kwargs.get("version")
        if version:
            key += ".v%s" % version
        if key not in self._refs:
            raise PythonModelError("dbt.ref(%s): not a ref of this model (its refs: %s)" % (key, ", ".join(self._refs)))
        return self._reader.read(relation_sql(self._refs[key]), "ref('%s')" % key, columns, chunksize)

    def source(self, *args, columns=None, chunksize=None):
        key = ".".join(args)
        if key not in self._sources:
            raise PythonModelError("dbt.source(%s): not a source of this model" % key)
        return self._reader.read(relation_sql(self._sources[key]), "source('%s')" % key, columns, chunksize)


class Session:
    """The `session` argument of model(): SQL run as the role that runs dbt, results as DataFrames."""

    def __init__(self, plpy, reader: Reader):
        self.plpy, self._reader = plpy, reader

    def sql(self, query: str, chunksize=None):
        return self._reader.read(query, "the query", None, chunksize, is_query=True)


def published_code(plpy, schema: str, unique_id: str, code: str) -> tuple[str, str]:
    """(path, code) of the published model, which must be the caller's code byte for byte."""
    plan = plpy.prepare(
        'select path, code, sha256 from "%s".python_models where unique_id = $1' % schema.replace('"', '""'), ["text"]
    )
    rows = plpy.execute(plan, [unique_id])
    if not rows:
        raise PythonModelError(
            "Python model %s is not published in %s.python_models: %s" % (unique_id, schema, PUBLISH_HINT)
        )
    row = rows[0]
    if code_sha256(row["code"]) != row["sha256"]:
        raise PythonModelError("the published code of %s does not match its recorded sha256: republish it" % unique_id)
    if code_sha256(code) != row["sha256"]:
        raise PythonModelError(
            "Python model %s (%s) differs from its published code (sha256 %s published, %s in this project): %s"
            % (unique_id, row["path"], row["sha256"][:12], code_sha256(code)[:12], PUBLISH_HINT)
        )
    return row["path"], row["code"]


def _model_traceback(exc: BaseException, path: str) -> str:
    """The exception's traceback from the model's first frame on: the .py file's own line numbers."""
    frames = traceback.extract_tb(exc.__traceback__)
    first = next((i for i, f in enumerate(frames) if f.filename == path), 0)
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames[first:])]
    return "".join(lines + traceback.format_exception_only(type(exc), exc)).rstrip()


def call_model(path: str, code: str, dbt: Dbt, session: Session):
    """Compile the code under its own file name (so tracebacks and linecache name the .py file) and call model()."""
    linecache.cache[path] = (len(code), None, code.splitlines(True), path)
    namespace = {"__name__": "dbt_python_model", "__file__": path}
    try:
        exec(compile(code, path, "exec"), namespace)  # noqa: S102 - the published, reviewed model code
        model = namespace.get("model")
        if not callable(model):
            raise PythonModelError("%s defines no model(dbt, session) function" % path)
        return model(dbt, session)
    except PythonModelError:
        raise
    except Exception as exc:
        raise PythonModelError("Python model %s failed:\n%s" % (path, _model_traceback(exc, path))) from None


def run_model(plpy, schema: str, context_text: str, code: str) -> str:
    """Run the published model; write what model() returns into context['target']; a summary."""
    pd, _ = import_pandas()
    context = json.loads(context_text)
    path, code = published_code(plpy, schema, context["unique_id"], code)
    reader = Reader(plpy, context.get("max_input_rows"))
    result = call_model(path, code, Dbt(reader, context), Session(plpy, reader))
    if not isinstance(result, pd.DataFrame):
        raise PythonModelError(
            "model() in %s returned %s, not a pandas DataFrame"
            % (path, type(result).__module__ + "." + type(result).__qualname__)
        )
    if not all(isinstance(c, str) for c in result.columns) or result.columns.has_duplicates:
        raise PythonModelError(
            "the DataFrame model() in %s returned needs unique string column names: %r" % (path, list(result.columns))
        )
    target = context["target"]
    what = "the contract of %s" % path if context.get("contract") else relation_sql(target)
    if context.get("create"):
        plpy.execute(create_table_sql(relation_sql(target), infer_types(pd, result), bool(target.get("temporary"))))
    rows = write_frame(plpy, result, relation_sql(target), what)
    return "%d rows" % rows


def publish_model(plpy, schema: str, unique_id: str, path: str, code: str) -> str:
    """Record a model's code as published (the owner's function, called by a superuser): its sha256."""
    sha = code_sha256(code)
    table = '"%s".python_models' % schema.replace('"', '""')
    plpy.execute(plpy.prepare("delete from %s where unique_id = $1" % table, ["text"]), [unique_id])
    plpy.execute(
        plpy.prepare("insert into %s (unique_id, path, code, sha256) values ($1, $2, $3, $4)" % table, ["text"] * 4),
        [unique_id, path, code, sha],
    )
    return sha
