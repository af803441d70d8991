"""The 2017 network: Dense 256-128-64-32 (sigmoid), Dropout, Dense 1 (sigmoid)."""

from __future__ import annotations

from fraud_scoring.kaggle import features
from training.config import TrainConfig

HIDDEN_UNITS = (256, 128, 64, 32)
# Parameters per layer as the 2017 post printed them: 50,689 in all.
EXPECTED_PARAMS = (7_424, 32_896, 8_256, 2_080, 0, 33)


def build_model(cfg: TrainConfig):
    import keras

    # Named layers: Keras numbers unnamed ones per process (dense_5 for a second model),
    # and the names are in the .h5, so unnamed layers made the same weights a new version.
    layers = [keras.Input(shape=(len(features()),), name="features")]
    layers += [keras.layers.Dense(u, activation="sigmoid", name=f"hidden_{u}") for u in HIDDEN_UNITS]
    layers += [
        keras.layers.Dropout(cfg.dropout_rate, seed=cfg.seed, name="dropout"),
        keras.layers.Dense(1, activation="sigmoid", name="fraud_probability"),
    ]
    model = keras.Sequential(layers, name="fraud_mlp")
    optimizer = keras.optimizers.Adam if cfg.optimizer == "adam" else keras.optimizers.RMSprop
    model.compile(
        optimizer=optimizer(learning_rate=cfg.learning_rate),
        loss="binary_crossentropy",
    )
    return model
