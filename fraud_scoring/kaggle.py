"""The Kaggle credit-card file format: its header and a validating row reader.

A contract shared by training (which learns from such files) and the warehouse (which
loads them into the raw table): both read it here and never import each other.
The file has a quoted header "Time","V1".."V28","Amount","Class", numbers unquoted
and the class quoted ("0"/"1"). The feature names are the stack contract's
(vars.fraud_stack in dbt_project.yml), read when first asked for, not at import.
"""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


class DataError(ValueError):
    """A data file that does not have the Kaggle format; says file, line, column."""


@functools.cache
def features() -> tuple[str, ...]:
    """The model's inputs, in its input order (the stack contract's features)."""
    from fraud_scoring.contract import project_contract

    return project_contract().features


@functools.cache
def columns() -> tuple[str, ...]:
    """The Kaggle file's header."""
    return ("Time", *features(), "Amount", "Class")


def _parse_number(text: str, path: Path, line: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{path}:{line}: column {column}: not a number: {text[:40]!r}") from None
    if not math.isfinite(value):
        raise DataError(f"{path}:{line}: column {column}: {text!r} is not a finite number")
    return value


def iter_kaggle_rows(path: Path | str) -> Iterator[tuple[int, list[float]]]:
    """Yield (line number, [Time, V1..V28, Amount, Class]) with every check applied."""
    path = Path(path)
    try:
        handle = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot open: {exc.strerror}") from None
    with handle:
        try:
            yield from _iter_rows(handle, path)
        except UnicodeDecodeError:
            raise DataError(f"{path}:{_first_non_utf8_line(path)}: not UTF-8 text") from None


def _first_non_utf8_line(path: Path) -> str:
    """The line number of the first line that is not UTF-8 (text-mode errors only give a block offset)."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return f"{number}: byte {exc.start + 1} of the line"
    return "?"


def _iter_rows(handle: TextIO, path: Path) -> Iterator[tuple[int, list[float]]]:
    header_columns = columns()
    reader = csv.reader(handle)
    header = next(reader, None)
    if header is None:
        raise DataError(f"{path}: empty file (expected the header {','.join(header_columns)})")
    if tuple(header) != header_columns:
        missing = [c for c in header_columns if c not in header]
        extra = [c for c in header if c not in header_columns]
        detail = []
        if missing:
            detail.append(f"missing columns {missing}")
        if extra:
            detail.append(f"unexpected columns {extra}")
        if not detail:
            detail.append("columns out of order")
        raise DataError(f"{path}:1: header: {'; '.join(detail)}")
    rows = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a field over csv's 131,072-character limit, or a stray quote
            raise DataError(f"{path}:{reader.line_num}: malformed CSV: {exc}") from None
        line = reader.line_num
        if len(fields) != len(header_columns):
            raise DataError(
                f"{path}:{line}: expected {len(header_columns)} fields, found {len(fields)} "
                "(a truncated or malformed line)"
            )
        values = [_parse_number(t, path, line, c) for t, c in zip(fields[:-1], header_columns[:-1], strict=False)]
        label = fields[-1].strip()
        if label not in ("0", "1"):
            raise DataError(f"{path}:{line}: column Class: label must be 0 or 1, found {label!r}")
        values.append(float(label))
        rows += 1
        yield line, values
    if rows == 0:
        raise DataError(f"{path}: no data rows after the header")
