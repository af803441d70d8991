import numpy as np
import pytest

from training import COLUMNS
from training.data import DataError, iter_synthetic, load_kaggle_csv, synthetic_dataset, write_synthetic_csv

HEADER = ",".join(f'"{c}"' for c in COLUMNS)
ROW = "0," + ",".join(["0.5"] * 28) + ',1.5,"0"'


def write(tmp_path, text, name="bad.csv"):
    path = tmp_path / name
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    return path


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty file"),
        (HEADER + "\n", "no data rows"),
        (HEADER.replace(',"V7"', "") + "\n" + ROW + "\n", "missing columns ['V7']"),
        (HEADER + ',"Extra"\n' + ROW + ",1\n", "unexpected columns ['Extra']"),
        (HEADER + "\n" + ROW.replace("0.5", "abc", 1) + "\n", ":2: column V1: not a number"),
        (HEADER + "\n" + ROW.replace("0.5", "NaN", 1) + "\n", ":2: column V1: 'NaN' is not a finite number"),
        (HEADER + "\n" + ROW + "\n" + ROW.replace("1.5", "Infinity") + "\n", ":3: column Amount: 'Infinity'"),
        (HEADER + "\n" + ROW.replace('"0"', '"2"') + "\n", ":2: column Class: label must be 0 or 1"),
        (HEADER + "\n" + ROW + "\n" + ROW[:40] + "\n", ":3: expected 31 fields, found"),
    ],
)
def test_loader_errors_name_file_line_and_column(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(DataError) as err:
        load_kaggle_csv(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_loader_rejects_non_utf8_naming_the_line(tmp_path):
    path = write(tmp_path, (HEADER + "\n" + ROW + "\n").encode() + b"\xff\xfe,1\n")
    with pytest.raises(DataError, match=r"bad.csv:3: byte 1 of the line: not UTF-8"):
        load_kaggle_csv(path)


def test_a_huge_field_is_an_error_naming_the_line(tmp_path):
    """csv refuses fields over 131,072 characters: say where, not just 'malformed'."""
    path = write(tmp_path, HEADER + "\n" + ROW + "\n" + ROW + "\n" + ROW.replace("0.5", "1" * 200_000, 1) + "\n")
    with pytest.raises(DataError, match=r"bad.csv:4: malformed CSV: field larger than field limit"):
        load_kaggle_csv(path)


def test_a_stray_quote_is_an_error_naming_the_line(tmp_path):
    path = write(tmp_path, HEADER + "\n" + ROW + "\n" + '"0' + ROW[1:] + "\n")
    with pytest.raises(DataError, match=r"bad.csv:3"):
        load_kaggle_csv(path)


def test_loader_reads_the_real_kaggle_format(kaggle_sample):
    data = load_kaggle_csv(kaggle_sample)
    assert len(data) == 7000
    assert data.X.shape == (7000, 28) and data.X.dtype == np.float32
    assert set(np.unique(data.y)) == {0, 1}
    assert data.amount[0] == pytest.approx(149.62)
    assert data.X[0, 0] == pytest.approx(-1.3598071336738)


def test_synthetic_file_has_the_kaggle_header_and_quoting(tmp_path, kaggle_sample):
    path = write_synthetic_csv(tmp_path / "s.csv", 1000, seed=1)
    ours = path.read_text().splitlines()
    real = kaggle_sample.read_text().splitlines()
    assert ours[0] == real[0]
    assert ours[1].endswith(',"0"') or ours[1].endswith(',"1"')
    assert len(load_kaggle_csv(path)) == 1000


def test_committed_seed_is_in_kaggle_format():
    from pathlib import Path

    seed = Path(__file__).resolve().parents[2] / "seeds" / "credit_card_sample.csv"
    assert seed.read_text().splitlines()[0] == HEADER
    assert len(load_kaggle_csv(seed)) == 500


def test_generator_statistics():
    data = synthetic_dataset(400_000, seed=3)
    rate = data.y.mean()
    assert 0.0014 < rate < 0.0021  # 0.172% +- sampling noise (~0.0065% sd)
    std = data.X[data.y == 0].std(axis=0)
    assert np.all(np.diff(std) < 0.02) and std[0] > 4 * std[-1]  # decreasing variance
    corr = np.corrcoef(data.X[data.y == 0].T) - np.eye(28)
    assert np.abs(corr).max() < 0.02  # decorrelated like PCA output
    assert data.time.min() >= 0 and np.all(np.diff(data.time) >= 0)
    assert 2.5 * 86_400 < data.time.max() < 3 * 86_400  # two days per 284,807 rows
    assert np.median(data.amount) < data.amount.mean()  # right-skewed amounts
    # frauds are shifted on a handful of components, not everywhere
    gap = np.abs(data.X[data.y == 1].mean(axis=0) - data.X[data.y == 0].mean(axis=0)) / std
    assert 4 <= int((gap > 0.5).sum()) <= 10


def test_generator_is_deterministic_and_chunk_independent():
    a = synthetic_dataset(150_000, seed=5)
    b = synthetic_dataset(150_000, seed=5)
    c = synthetic_dataset(150_000, seed=6)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)
    # the first chunk does not depend on how many rows follow
    first = next(iter_synthetic(250_000, seed=5))
    assert np.array_equal(first[1], a.X[: len(first[1])])


def test_generator_rejects_bad_arguments():
    with pytest.raises(ValueError, match="rows must be positive"):
        synthetic_dataset(0)
    with pytest.raises(ValueError, match="fraud_rate"):
        synthetic_dataset(10, fraud_rate=1.5)


def test_fraud_patterns_mix_drifts_between_the_days():
    from training.data import FRAUD_PATTERNS, ONE_DAY_S, PATTERN_MIX, fraud_patterns

    u = np.random.default_rng(0).random(200_000)
    for day, time in ((1, np.zeros_like(u)), (2, np.full_like(u, ONE_DAY_S))):
        share = np.bincount(fraud_patterns(time, u), minlength=len(FRAUD_PATTERNS)) / len(u)
        assert share == pytest.approx(PATTERN_MIX[day], abs=0.01)
    # in the data: day-2 frauds drop V10 and V17 for V9 and V16 (the drifted pattern), legitimate V1 moves
    data = synthetic_dataset(284_807, seed=3, fraud_rate=0.02)
    day2 = data.time >= ONE_DAY_S
    fraud = data.y == 1
    col = {name: int(name[1:]) - 1 for name in ("V1", "V9", "V10")}
    assert data.X[fraud & ~day2, col["V10"]].mean() < data.X[fraud & day2, col["V10"]].mean() - 0.3
    assert data.X[fraud & day2, col["V9"]].mean() < data.X[fraud & ~day2, col["V9"]].mean() - 0.3
    legit_shift = data.X[~fraud & day2, col["V1"]].mean() - data.X[~fraud & ~day2, col["V1"]].mean()
    assert 0.75 < legit_shift < 1.2  # 0.5 standard deviations of V1 (1.96)
