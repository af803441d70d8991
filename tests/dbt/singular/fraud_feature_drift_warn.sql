-- Warn when a model input on a day drifted from the version's reference: PSI at or above var
-- fraud_psi_warn (fraud_feature_drift). Each row names the version, the day and the feature
-- (`dbt test --store-failures` keeps them; docs/monitoring.md says how to act).
{{ config(severity='warn') }}
-- depends_on: {{ ref('fraud_feature_drift') }}
{{ fraud_feature_drift_at_or_above(fraud_psi_levels().warn) }}
