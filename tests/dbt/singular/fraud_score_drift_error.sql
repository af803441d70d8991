-- Fail when a version's scores on a day drifted far from its reference: PSI at or above var
-- fraud_psi_error (fraud_score_drift). Each row names the version and the day.
-- depends_on: {{ ref('fraud_score_drift') }}
{{ fraud_score_drift_at_or_above(fraud_psi_levels().error) }}
