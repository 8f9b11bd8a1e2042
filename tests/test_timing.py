"""Timing experiment: linear extrapolation in cells, flags and table layout."""

import numpy as np
import pandas as pd
import pytest
import torch
from sivae.attribution import TIMING_COLUMNS, add_training_time, time_attribution, time_training

torch.set_num_threads(1)


class RowCounter(torch.nn.Module):
    """A decoder whose "clock" is the number of cell rows it has processed.

    With the counter as clock, a method's measured cost is deterministic, so the
    extrapolation can be checked against the cost of a full run.
    """

    def __init__(self, n_in=2, n_out=5):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(n_in, 8), torch.nn.ReLU(), torch.nn.Linear(8, n_out)
        )
        self.rows = 0

    def forward(self, x):
        self.rows += x.shape[0]
        return self.net(x)

    def clock(self):
        return float(self.rows)


@pytest.fixture
def z():
    return np.random.default_rng(0).normal(size=(60, 2)).astype(np.float32)


def test_columns_and_rows(z):
    net = RowCounter()
    table = time_attribution(net, z, methods=["saliency", "deeplift"], max_seconds=60, n_pilot=4)
    assert list(table.columns) == TIMING_COLUMNS
    assert list(zip(table["method"], table["mode"], strict=True)) == [
        ("saliency", "reverse"),
        ("deeplift", "reverse"),
        ("saliency", "forward"),
        ("jacobian", "forward"),
    ]
    assert (table["K"] == 2).all() and (table["F"] == 5).all()
    assert (table["n_cells"] == 60).all() and (table["device"] == "cpu").all()
    # Everything fits the budget and all cells are available: measured, not extrapolated.
    assert not table["extrapolated"].any()
    assert (table["n_cells_timed"] == 60).all()
    assert (table["seconds"] == table["seconds_timed"]).all() and (table["seconds"] > 0).all()
    enc = time_attribution(
        torch.nn.Linear(5, 2),
        z[:, :1].repeat(5, axis=1),
        methods=["saliency"],
        modes=["reverse"],
        include_jacobian=False,
        side="encoder",
    )
    assert enc[["K", "F"]].iloc[0].tolist() == [2, 5]


def test_extrapolated_rows_flagged_and_linear(z):
    net = RowCounter()
    # Budget in "rows": the pilot costs 5 targets x 4 cells (+1 shape probe); 150 rows
    # allow about 30 cells, fewer than the 60 available.
    table = time_attribution(
        net,
        z,
        methods=["saliency"],
        modes=["reverse"],
        include_jacobian=False,
        n_cells_total=60,
        max_seconds=150,
        n_pilot=4,
        clock=net.clock,
    )
    row = table.iloc[0]
    assert row["extrapolated"]
    assert 4 <= row["n_cells_timed"] < 60
    assert row["seconds"] == pytest.approx(row["seconds_timed"] / row["n_cells_timed"] * 60)
    # The extrapolation predicts the cost of really running all 60 cells.
    full = time_attribution(
        net,
        z,
        methods=["saliency"],
        modes=["reverse"],
        include_jacobian=False,
        n_cells_total=60,
        max_seconds=1e9,
        n_pilot=4,
        clock=net.clock,
    ).iloc[0]
    assert not full["extrapolated"] and full["n_cells_timed"] == 60
    assert row["seconds"] == pytest.approx(full["seconds"], rel=0.05)


def test_more_cells_than_available_always_extrapolated(z):
    table = time_attribution(
        RowCounter(), z, methods=["grad_x_input"], n_cells_total=1_000_000, max_seconds=60
    )
    assert table["extrapolated"].all()
    assert (table["n_cells_timed"] <= len(z)).all()
    np.testing.assert_allclose(
        table["seconds"], table["seconds_timed"] / table["n_cells_timed"] * 1_000_000
    )


def test_time_training_and_totals():
    ticks = iter([10.0, 12.5])
    calls = []
    train = time_training(
        lambda: calls.append(1), "VAE", K=2, F=5, n_cells=60, clock=lambda: next(ticks)
    )
    assert calls == [1]
    assert list(train.columns) == TIMING_COLUMNS
    assert train.iloc[0][["method", "mode", "seconds", "extrapolated"]].tolist() == [
        "VAE",
        "training",
        2.5,
        False,
    ]
    attr = pd.DataFrame(
        {"method": ["saliency", "deeplift"], "K": [2, 2], "F": [5, 5], "seconds": [1.0, 4.0]}
    )
    total = add_training_time(attr, train)
    assert total["total_seconds"].tolist() == [3.5, 6.5]
    with pytest.raises(ValueError, match=r"no training time for \(K, F\) = \[\(3, 5\)\]"):
        add_training_time(attr.assign(K=3), train)


def test_bad_arguments(z):
    with pytest.raises(ValueError, match="unknown attribution method"):
        time_attribution(RowCounter(), z, methods=["lime"])
    with pytest.raises(ValueError, match="unknown mode"):
        time_attribution(RowCounter(), z, modes=["sideways"])
    with pytest.raises(ValueError, match="fit_fn must be"):
        time_training(None, "VAE", 2, 5, 60)
