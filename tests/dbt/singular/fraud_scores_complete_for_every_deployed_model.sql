-- Every scorable staged transaction is scored exactly once by every version that scores,
-- and nothing else is: no score of a transaction that is gone or quarantined.
{%- set models = fraud_scoring_models() %}

with

staged as (

    select
        transaction_id,
        has_scorable_features
    from {{ ref('stg_raw__credit_card') }}

),

scores as (

    select * from {{ ref('fraud_scores') }}

),

versions as (

    select unnest(array[
        {%- for model in models %}
            {{ fraud_quote_literal(model.version) }}{{ ',' if not loop.last }}
        {%- endfor %}
    ]::text[]) as model_version

),

expected as (

    select
        staged.transaction_id,
        versions.model_version
    from staged
    cross join versions
    where staged.has_scorable_features

),

final as (

    select
        coalesce(expected.transaction_id, scores.transaction_id) as transaction_id,
        coalesce(expected.model_version, scores.model_version) as model_version,
        case when scores.transaction_id is null then 'not scored' else 'scored but not scorable or gone' end
            as problem
    from expected
    full outer join scores
        on
            expected.transaction_id = scores.transaction_id
            and expected.model_version = scores.model_version
    where
        (expected.transaction_id is null or scores.transaction_id is null)
        and coalesce(expected.model_version, scores.model_version) in (select versions.model_version from versions)

)

select * from final
