-- Warn when a flagged transaction has no reason codes (numpy runtime): its version scored
-- it before the threshold was lowered below the lowest one known then. A full refresh of
-- fraud_scores computes them.
{{ config(severity='warn') }}

select *
from {{ ref('fraud_decisions') }}
where is_fraud and reason_codes is null and {{ fraud_scoring_runtime() == 'numpy' }}
