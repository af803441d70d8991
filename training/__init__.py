"""Train the 2017 "Scoring at Scale with Keras and TensorFlow on Greenplum" network.

Modules, one job each: config (typed knobs and profiles), data (Kaggle loader and
synthetic generator), model (the network), train (stratified k-fold with SMOTE),
evaluate (metrics), artifacts (.h5, metadata, plots, model card), db (connection),
loading (CSV into PostgreSQL), register (model registry), cli (python -m training).
"""

FEATURES = tuple(f"V{i}" for i in range(1, 29))
COLUMNS = ("Time", *FEATURES, "Amount", "Class")
