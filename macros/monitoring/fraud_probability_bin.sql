{#- The fine score bin of a probability, as SQL: the bins fraud_score_bins aggregates by. The
    same on every platform. -#}

{% macro fraud_probability_bin(probability) -%}
    {#- An integer ordered like the probabilities, log-scale towards both ends: below 0.5 the
        top 19 bits of p's float32 bit pattern (sign, exponent, 10 leading mantissa bits), from
        0.5 on 2 x 129024 (0x3F000000 >> 13, the bin of 0.5) minus those of 1 - p, so each bin
        is at most 1/1024 as wide as its distance to the nearer of 0 and 1 (near 1 is where fraud is
        ranked). fraud_scores stores the exact value of a float32, and 1 - p is exact for p in
        [0.5, 1], so the casts to float4 are exact. Written twice on purpose:
        fraud_scoring/score_bins.py computes the same in numpy (training's reference), and a
        test compares the two on every score. -#}
    case
        when ({{ probability }}) < 0.5
            then {{ _fraud_float4_top_bits(probability) }}
        else 258048 - {{ _fraud_float4_top_bits('1 - (' ~ probability ~ ')') }}
    end
{%- endmacro %}

{% macro _fraud_float4_top_bits(value) -%}
    (('x' || encode(float4send(({{ value }})::float4), 'hex'))::bit(32)::integer >> 13)
{%- endmacro %}
