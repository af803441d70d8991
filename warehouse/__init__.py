"""The warehouse side of the project: where the Python tools read and write the database.

Modules, one job each: connection (the dbt profile's selected target, for psycopg2 and
for scripts/db.sh), loading (a Kaggle-format CSV into the raw table, all or nothing),
registry (a trained model into the model registry), names (the model-version and
schema-name patterns, read from dbt_project.yml), cli (python -m warehouse).
"""
