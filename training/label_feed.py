"""A synthetic labels feed with realistic delays, for the demo and the tests (docs/labels.md).

Labels arrive after the transaction: a fraud when its chargeback comes in (a log-normal
delay, median 10 days, capped at 90), a legitimate transaction when its dispute window
(90 days) closes, some legitimate ones sooner (the cardholder confirms), some never. A few
frauds are first labeled legitimate and corrected by their chargeback (a second event, later).
Deterministic from the seed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

DAY = 86_400.0
FRAUD_MEDIAN_DAYS = 10.0
FRAUD_SIGMA = 0.9  # log-normal spread: about 1 fraud in 20 waits more than 44 days
MAX_DELAY_DAYS = 90.0
DISPUTE_WINDOW_DAYS = 90.0
FRAUD_NEVER = 0.03  # frauds never charged back
LEGIT_SOONER = 0.15  # legitimate, confirmed before the window closes
LEGIT_NEVER = 0.05  # legitimate, never labeled (account closed, data lost)
CORRECTED = 0.05  # frauds first labeled legitimate, then corrected


def label_events(time: np.ndarray, is_fraud: np.ndarray, seed: int = 7, ids: np.ndarray | None = None):
    """(transaction_ids, is_fraud, seconds) of every label event, sorted by id then time: the
    transaction ids[i] (default i + 1, as a fresh load numbers rows) happened at time[i]
    seconds, and its events at the returned seconds (same origin)."""
    rng = np.random.default_rng(seed)
    n = len(time)
    is_fraud = np.asarray(is_fraud).astype(bool)
    u = rng.random(n)
    fraud_delay = np.minimum(np.exp(np.log(FRAUD_MEDIAN_DAYS) + FRAUD_SIGMA * rng.standard_normal(n)), MAX_DELAY_DAYS)
    sooner = rng.uniform(0.5, DISPUTE_WINDOW_DAYS, n)
    legit_delay = np.where(u < LEGIT_SOONER, sooner, DISPUTE_WINDOW_DAYS + rng.uniform(0, 1, n))
    # the never-labeled drawn from the top of u, the sooner ones from its bottom: disjoint
    never = u >= 1 - np.where(is_fraud, FRAUD_NEVER, LEGIT_NEVER)
    labeled = ~never
    delay = np.where(is_fraud, fraud_delay, legit_delay) * DAY
    ids = np.arange(1, n + 1, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
    # corrections: a fraud first labeled legitimate at a fraction of its chargeback delay
    corrected = is_fraud & labeled & (rng.random(n) < CORRECTED)
    first = delay * rng.uniform(0.1, 0.9, n)
    out_ids = np.concatenate([ids[labeled], ids[corrected]])
    out_fraud = np.concatenate([is_fraud[labeled], np.zeros(int(corrected.sum()), dtype=bool)])
    out_delay = np.concatenate([delay[labeled], first[corrected]])
    out_time = np.concatenate([np.asarray(time, dtype=float)[labeled], np.asarray(time, dtype=float)[corrected]])
    order = np.lexsort((out_delay, out_ids))
    return out_ids[order], out_fraud[order], (out_time + out_delay)[order]


def label_rows(time, is_fraud, origin: datetime, seed: int = 7, ids=None):
    """The events as (transaction_id, is_fraud, labeled_at) rows, labeled_at = origin + the
    transaction's Time + the delay, to the microsecond."""
    ids, fraud, at = label_events(time, is_fraud, seed, ids)
    micros = np.round(at * 1e6).astype(np.int64)
    return [
        (int(i), bool(f), origin + timedelta(microseconds=int(m)))
        for i, f, m in zip(ids.tolist(), fraud.tolist(), micros.tolist(), strict=True)
    ]
