"""Train the 2017 "Scoring at Scale with Keras and TensorFlow on Greenplum" network.

Modules, one job each: config (typed knobs and profiles), data (Kaggle loader and
synthetic generator), model (the network), train (stratified k-fold with SMOTE),
evaluate (metrics), artifacts (.h5, metadata, plots, model card), cli (python -m training). Loading
the raw table and registering models are the warehouse's (python -m warehouse).
"""

from fraud_scoring.contract import project_contract

FEATURES = project_contract().features  # the model's inputs, in its input order: vars.fraud_stack
COLUMNS = ("Time", *FEATURES, "Amount", "Class")  # the Kaggle file's header
