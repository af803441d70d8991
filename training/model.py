"""The 2017 network: Dense 256-128-64-32 (sigmoid), Dropout, Dense 1 (sigmoid)."""

from __future__ import annotations

from training import FEATURES
from training.config import TrainConfig

HIDDEN_UNITS = (256, 128, 64, 32)
# Parameters per layer as the 2017 post printed them: 50,689 in all.
EXPECTED_PARAMS = (7_424, 32_896, 8_256, 2_080, 0, 33)


def build_model(cfg: TrainConfig):
    import keras

    layers = [keras.Input(shape=(len(FEATURES),), name="features")]
    layers += [keras.layers.Dense(u, activation="sigmoid") for u in HIDDEN_UNITS]
    layers += [
        keras.layers.Dropout(cfg.dropout_rate, seed=cfg.seed),
        keras.layers.Dense(1, activation="sigmoid"),
    ]
    model = keras.Sequential(layers, name="fraud_mlp")
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=cfg.learning_rate),
        loss="binary_crossentropy",
    )
    return model
