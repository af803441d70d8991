from training.config import PROFILES
from training.model import EXPECTED_PARAMS, HIDDEN_UNITS, build_model


def test_network_is_the_2017_architecture():
    model = build_model(PROFILES["2017"])
    kinds = [layer.__class__.__name__ for layer in model.layers]
    assert kinds == ["Dense", "Dense", "Dense", "Dense", "Dropout", "Dense"]
    assert tuple(layer.count_params() for layer in model.layers) == EXPECTED_PARAMS
    assert model.count_params() == 50_689
    assert [layer.units for layer in model.layers if hasattr(layer, "units")] == [*HIDDEN_UNITS, 1]
    assert {layer.activation.__name__ for layer in model.layers if hasattr(layer, "activation")} == {"sigmoid"}
    assert model.input_shape == (None, 28)


def test_optimizer_and_loss_are_the_2017_ones():
    model = build_model(PROFILES["2017"])
    assert model.optimizer.__class__.__name__ == "RMSprop"
    assert model.loss == "binary_crossentropy"


def test_2017_profile_defaults():
    cfg = PROFILES["2017"]
    assert (cfg.folds, cfg.epochs, cfg.batch_size, cfg.patience, cfg.smote) == (10, 20, 32, 4, "honest")
