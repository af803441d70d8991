-- Warn when a version's scores on a day drifted from its reference: PSI at or above var
-- fraud_psi_warn (fraud_score_drift). Each row names the version and the day
-- (`dbt test --store-failures` keeps them; docs/monitoring.md says how to act).
{{ config(severity='warn') }}
-- depends_on: {{ ref('fraud_score_drift') }}
{{ fraud_score_drift_at_or_above(fraud_psi_levels().warn) }}
