{#- Transactions that cannot be scored, one row per bad feature: a view, so it is
    always the source as it is (fixing a row in the source takes it out, and the
    next dbt run scores it). Its dbt test warns, or fails with
    var fraud_quarantine_severity: error. -#}
{{ config(materialized='view') }}

with

staged as (

    select * from {{ ref('stg_raw__credit_card') }}

),

quarantined as (

    select *
    from staged
    where not has_scorable_features

),

features as (

    select
        quarantined.transaction_id,
        feature.column_name,
        feature.value
    from quarantined
    cross join lateral (
        values
        {%- for column in fraud_feature_columns() %}
            ({{ fraud_quote_literal(column | upper) }}, quarantined.{{ column }}){{ ',' if not loop.last }}
        {%- endfor %}
    ) as feature (column_name, value)

),

final as (

    select
        transaction_id,
        column_name,
        value::text as raw_value,
        case
            when value is null then 'NULL'
            when value = 'NaN'::float8 then 'NaN'
            when value in ('Infinity'::float8, '-Infinity'::float8) then 'Infinity'
            when abs(value) > 3.4028234663852886e38 then 'beyond float4 range'
            else 'rounds to zero as a float4'
        end as reason
    from features
    where not coalesce({{ fraud_float4_ok('value') }}, false)

)

select * from final
