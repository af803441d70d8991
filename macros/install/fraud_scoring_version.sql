{#- The installation's version: a hash of the DDL, so an outdated installation is detected. Its
    platform differences are in the macros it calls: fraud_scoring_ddl. -#}

{% macro fraud_scoring_version() -%}
    {#- Changes whenever the DDL changes (the function bodies, the stack contract rendered
        into them, the tables), so an outdated installation is detected. The scorer's own
        code is the installed fraud_scoring package: the install records its version and
        source hash, and check_fraud_segments compares every segment's with it. -#}
    {{ return(local_md5(fraud_scoring_ddl('x'))[:12]) }}
{%- endmacro %}
