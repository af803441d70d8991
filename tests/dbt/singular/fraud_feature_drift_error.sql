-- Fail when a model input on a day drifted far from the version's reference: PSI at or above var
-- fraud_psi_error (fraud_feature_drift). Each row names the version, the day and the feature.
-- depends_on: {{ ref('fraud_feature_drift') }}
{{ fraud_feature_drift_at_or_above(fraud_psi_levels().error) }}
