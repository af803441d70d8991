"""Per model version with a feature reference, stored stack, day of the data, feature and reference
bin: how many of the stack's values fall in the bin. fraud_feature_drift sums these per day.

A Python model (docs/python-models.md), run inside the database. Why Python and why per stack:
the features arrive packed, 112 bytes a row, in the stored stacks the scorer reads
(int_credit_card__scoring_stacks); numpy reads a stack in place and bins its 28 columns with
one searchsorted each (fraud_scoring.feature_bins.bin_of, the function that made the
reference's counts, so a day is binned exactly as training binned the reference), where SQL
would unpivot every row into 28 and compare each value with its feature's edges. And like
fraud_score_bins, it is incremental by (version, stack): the pairs fraud_score_bins holds are
the version's current scores, so a run deletes the pairs it holds that fraud_score_bins no
longer has (a stack stacked again or dropped, a version's scores deleted) and bins the pairs
it lacks, reading only their stacks. A run with nothing new reads no stack.

The day of each row is its transaction's floor(Time / 86,400), as fraud_score_bins has it.
Non-finite values are not counted (the reference does not count them either).
"""

import json

import numpy as np
import pandas as pd

from fraud_scoring.feature_bins import bin_of

COLUMNS = ["model_version", "stack_id", "transaction_day", "feature", "feature_bin", "feature_rows"]


def stack_counts(stack: bytes, days_by_id: tuple[np.ndarray, np.ndarray], reference: dict) -> pd.DataFrame:
    """The counts of one packed stack (per row: int8 id, then the features as big-endian float4, in
    the model's input order) against one version's reference; days_by_id: (sorted ids, their days)."""
    entries = reference["features"]
    layout = np.dtype([("id", ">i8"), ("x", ">f4", (len(entries),))])
    if len(stack) % layout.itemsize:
        raise ValueError(f"a stack of {len(stack)} bytes does not hold rows of {len(entries)} features")
    rows = np.frombuffer(stack, dtype=layout)
    ids, days = days_by_id
    at = np.searchsorted(ids, rows["id"]).clip(0, max(len(ids) - 1, 0))
    known = (ids[at] == rows["id"]) if len(ids) else np.zeros(len(rows), bool)
    X = rows["x"][known].astype(np.float32)
    row_days = days[at[known]]
    day_values, day_index = np.unique(row_days, return_inverse=True)
    parts = []
    for j, entry in enumerate(entries):
        column = X[:, j]
        finite = np.isfinite(column)
        n_bins = len(entry["edges"]) + 1
        keys = day_index[finite] * n_bins + bin_of(column[finite], entry["edges"])
        counts = np.bincount(keys, minlength=len(day_values) * n_bins)
        held = np.flatnonzero(counts)
        parts.append(
            pd.DataFrame(
                {
                    "transaction_day": day_values[held // n_bins],
                    "feature": entry["name"],
                    "feature_bin": held % n_bins,
                    "feature_rows": counts[held],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="append")
    score_bins = dbt.ref("fraud_score_bins", relation=True)
    stacks = dbt.ref("int_credit_card__scoring_stacks", relation=True)
    raw = dbt.ref("stg_raw__credit_card", relation=True)
    models = dbt.ref("stg_fraud__models", relation=True)
    plpy = session.plpy
    held = ""
    if dbt.is_incremental:
        # forget the pairs whose scores fraud_score_bins no longer holds
        plpy.execute(
            f"delete from {dbt.this} as held where not exists (select 1 from {score_bins} as pairs "
            "where pairs.model_version = held.model_version and pairs.stack_id = held.stack_id)"
        )
        held = (
            f"and not exists (select 1 from {dbt.this} as held "
            "where held.model_version = pairs.model_version and held.stack_id = pairs.stack_id)"
        )
    new_pairs = plpy.execute(
        f"select distinct pairs.model_version, pairs.stack_id, models.reference_features::text as reference "
        f"from {score_bins} as pairs inner join {models} as models on pairs.model_version = models.model_version "
        f"where models.reference_features is not null {held} order by pairs.stack_id, pairs.model_version"
    )
    read_stack = plpy.prepare(
        f"select stack, first_transaction_id, last_transaction_id from {stacks} where stack_id = $1", ["bigint"]
    )
    # the days of the stack's id range, in id order (one row back: two bytea, read in place)
    read_days = plpy.prepare(
        "select string_agg(int8send(transaction_id), ''::bytea order by transaction_id) as ids, "
        "string_agg(int4send(floor(seconds_since_start / 86400)::integer), ''::bytea order by transaction_id) "
        f"as days from {raw} where transaction_id between $1 and $2",
        ["bigint", "bigint"],
    )
    parts, current, references = [], None, {}
    for pair in new_pairs:
        if pair["stack_id"] != current:
            current = pair["stack_id"]
            found = plpy.execute(read_stack, [current])
            if not found:
                continue  # dropped since fraud_score_bins ran: its scores go with it next run
            stack = found[0]
            days = plpy.execute(read_days, [stack["first_transaction_id"], stack["last_transaction_id"]])[0]
            days_by_id = (
                np.frombuffer(days["ids"] or b"", dtype=">i8"),
                np.frombuffer(days["days"] or b"", dtype=">i4").astype(np.int32),
            )
        if not found:
            continue
        version = pair["model_version"]
        if version not in references:
            references[version] = json.loads(pair["reference"])
        counts = stack_counts(stack["stack"], days_by_id, references[version])
        parts.append(counts.assign(model_version=version, stack_id=current))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    return out[COLUMNS].astype(
        {
            "model_version": str,
            "stack_id": "int64",
            "transaction_day": "int32",
            "feature": str,
            "feature_bin": "int16",
            "feature_rows": "int64",
        }
    )
