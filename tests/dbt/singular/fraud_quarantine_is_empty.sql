-- Transactions that cannot be scored: a warning by default, an error with
-- var fraud_quarantine_severity: error. Each row names the transaction, the column and why.
{{ config(severity=fraud_quarantine_severity()) }}

select * from {{ ref('fraud_quarantine') }}
