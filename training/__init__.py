"""Train the 2017 "Scoring at Scale with Keras and TensorFlow on Greenplum" network.

Modules, one job each: config (typed knobs and profiles), data (Kaggle loader and
synthetic generator), model (the network), split (the time-ordered split), train
(stratified k-fold with SMOTE, fitting), evaluate (metrics), artifacts (.h5, metadata,
model card), plots, cli (python -m training). Loading the raw table and registering
models are the warehouse's (python -m warehouse); the file formats both read are
fraud_scoring.kaggle and fraud_scoring.model_format. Nothing here reads a file at import.
"""


def __getattr__(name: str):
    """FEATURES (the model's inputs, in order: vars.fraud_stack) and COLUMNS (the Kaggle
    header), read from dbt_project.yml when first used rather than at import."""
    from fraud_scoring import kaggle

    if name == "FEATURES":
        return kaggle.features()
    if name == "COLUMNS":
        return kaggle.columns()
    raise AttributeError(f"module 'training' has no attribute {name!r}")
