"""Stacks in, SQL array text out.

A stack is what SQL built with string_agg over one batch of transactions: per
transaction, the id followed by each feature, big-endian (int8send, float4send;
the widths are the stack contract's, fraud_scoring.contract). SQL keeps the same
batch's ids, aggregated in the same pass, beside the stack; the ids inside it
name the transaction in errors.
"""

import dataclasses
import json

import numpy as np

from fraud_scoring.contract import StackContract
from fraud_scoring.errors import ScoringError


def stack_contract(contract, features):
    """The contract a stack of these features is read with: the widths and marks of `contract`
    (a StackContract, its mapping, or None for the defaults), the features of the model."""
    if contract is None:
        return StackContract(features=tuple(features))
    if not isinstance(contract, StackContract):
        contract = StackContract.from_mapping(contract)
    return dataclasses.replace(contract, features=tuple(features))


def unpack_stack(stack, n_rows, contract):
    """Split a stack into (ids int64, features float32 (n, k), rows with a non-finite feature or None).

    contract: a StackContract (or, for convenience, the list of feature names).
    Rows with a non-finite feature are not an error: the database quarantines them
    (its packing turns NULL and values out of float4's range into NaN).
    The reading side of the encoding; its writing side is SQL's (macros/features/pack_features.sql,
    fraud_stack_columns()): two languages meet at these bytes, both sized by the contract.
    """
    if not isinstance(contract, StackContract):
        contract = stack_contract(None, contract)
    n_features = len(contract.features)
    row_bytes = contract.row_bytes
    stack = bytes(stack)
    if n_rows is not None and len(stack) != n_rows * row_bytes:
        raise ScoringError(
            "stack of %d rows has %d bytes, expected %d (%d features of %d bytes plus an %d-byte id per row): "
            "a feature vector of the wrong length"
            % (n_rows, len(stack), n_rows * row_bytes, n_features, contract.feature_bytes, contract.id_bytes)
        )
    if len(stack) % row_bytes:
        raise ScoringError("stack length %d is not a multiple of the %d-byte row" % (len(stack), row_bytes))
    record = np.dtype([("id", contract.id_dtype), ("x", contract.feature_dtype, (n_features,))])
    rows = np.frombuffer(stack, dtype=record)
    ids = rows["id"].astype(np.int64)
    features = rows["x"].astype(np.float32)
    bad = None
    if not np.isfinite(features.sum(axis=1)).all():  # NaN and Infinity propagate through a sum
        bad = ~np.isfinite(features).all(axis=1)
        features[bad] = 0.0  # scored like any row, then replaced by the contract's quarantined bits
    return ids, features, bad


def check_feature_order(model_features, sql_features):
    """The model's input order (its metadata) must be the order SQL packs the features in.

    A model trained on the same columns in another order would otherwise score
    silently wrong: the names are compared, position by position, ignoring case.
    """
    if sql_features is None:
        return
    sent = [name.strip() for name in str(sql_features).split(",")]
    expected = [str(name) for name in model_features]
    if [n.lower() for n in sent] != [n.lower() for n in expected]:
        diff = next(
            (i for i, (a, b) in enumerate(zip(expected, sent, strict=False)) if a.lower() != b.lower()),
            min(len(expected), len(sent)),
        )
        raise ScoringError(
            "the model expects its features in the order %s; SQL sends %s (they differ at position %d): "
            "the model would score the wrong columns" % (", ".join(expected), ", ".join(sent), diff + 1)
        )


def sql_array_text(values):
    """A NumPy vector as the text of a SQL array, which SQL casts with ::integer[], ::bigint[]...

    PL/Python would convert a returned list element by element (str() then the
    type's input function, each through the interpreter); one string built by
    Python's C list repr and parsed by array_in costed 1.7 s less at 2M rows.
    """
    return "{" + str(values.tolist())[1:-1] + "}"


def probability_bits(prob, bad=None, quarantined_bits=None):
    """float32 probabilities as their int32 bit patterns; rows in `bad` get `quarantined_bits`."""
    bits = np.ascontiguousarray(prob, dtype=np.float32).view(np.int32)
    if bad is not None:
        bits[bad] = quarantined_bits
    return bits


def probability_bits_text(prob):
    """float32 probabilities as the text of an integer[] of their bit patterns.

    Both runtimes compute in float32. Integers print 7x faster than Python's
    shortest float repr (0.7 s less at 2M rows) and parse faster; SQL turns
    each pattern back into exactly that float32's value as a float8
    ({schema}.probability_from_bits), so not a bit is lost.
    """
    return sql_array_text(probability_bits(prob))


def probability_from_bits(bits):
    """What {schema}.probability_from_bits computes in SQL, for tests: the float32 with these bits."""
    return float(np.array([bits], dtype=np.int32).view(np.float32)[0])


def reasons_json_text(ids, reasons):
    """The reason codes of a stack's flagged rows as one JSON object keyed by transaction id:
    {"<id>": [{"feature": name, "contribution": value}, ...]}, most contributing first; None
    (SQL NULL) when no row has any.

    One small document per stack, parsed once per stack: SQL looks a row up only when its
    probability reaches the reason threshold, so the other rows cost one integer comparison
    (an array of one element per row, mostly NULL, cost 20 ms per 100,000 rows to parse and unnest).
    """
    if not reasons:
        return None
    return json.dumps(
        {
            str(int(ids[row])): [{"feature": name, "contribution": value} for name, value in codes]
            for row, codes in reasons.items()
        }  # fmt: skip
    )
