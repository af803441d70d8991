{#- The champion's approve / review / block bands, costed on its recent labeled scores: every
    candidate (review, block) pair with its expected cost and reviews per day, and the
    cheapest within the daily review capacity marked is_recommended. A view, costed when read;
    `dbt run-operation apply_fraud_bands --args '{reason: ...}'` applies the recommendation
    (with the vars of that command). The query is fraud_band_options. -#}
{{ config(materialized='view') }}

-- depends_on: {{ ref('fraud_scores') }}
-- depends_on: {{ ref('fraud_deployments') }}
-- depends_on: {{ ref('stg_raw__credit_card') }}

{{ fraud_band_options() }}
