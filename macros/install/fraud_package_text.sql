{#- How a fraud_scoring package (version, source hash) is recorded and compared. The same on
    every platform. -#}

{% macro fraud_package_text(package) -%}
    {#- How a fraud_scoring package is recorded and compared: '<version> sha256:<source hash>'
        (fraud_scoring.version.describe), from scoring_package() or a probe's fraud_scoring. -#}
    {{ return(package.get('version') ~ ' sha256:' ~ package.get('sha256')) }}
{%- endmacro %}
