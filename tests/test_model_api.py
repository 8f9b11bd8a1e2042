"""Model API: bad input, determinism, save/load, resume after an interrupt, history plot."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import sivae
import torch
from sivae.model._training import Trainer

TINY = {"hidden": (16, 8), "n_latent": 2, "seed": 0}
SCHEDULE = {"max_epochs": 3, "feature_epochs": 2, "batch_size": 32, "progress_bar": False}


def tiny(n_cells=70, n_genes=12, seed=0) -> ad.AnnData:
    rng = np.random.default_rng(seed)
    adata = ad.AnnData(rng.standard_normal((n_cells, n_genes)).astype(np.float32))
    adata.var_names = [f"g{i}" for i in range(n_genes)]
    adata.obs["batch"] = np.where(np.arange(n_cells) % 2 == 0, "a", "b")
    return adata


# ---------------------------------------------------------------- bad input
def test_nan_in_x_is_rejected():
    adata = tiny()
    adata.X[5, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf.*row 5"):
        sivae.SIVAE(adata, **TINY)


def test_inf_in_x_is_rejected():
    adata = tiny()
    adata.X[2, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or Inf"):
        sivae.VAE(adata, **TINY)


def test_missing_batch_key_is_rejected():
    with pytest.raises(ValueError, match="no column 'donor'"):
        sivae.SIVAE.setup_anndata(tiny(), batch_key="donor")


def test_missing_layer_is_rejected():
    with pytest.raises(ValueError, match="layer 'counts' not found"):
        sivae.SIVAE.setup_anndata(tiny(), layer="counts")


@pytest.mark.parametrize("n_latent", [0, -1, 1.5])
def test_bad_n_latent_is_rejected(n_latent):
    with pytest.raises(ValueError, match="n_latent"):
        sivae.SIVAE(tiny(), n_latent=n_latent, hidden=(8,))


def test_empty_anndata_is_rejected():
    with pytest.raises(ValueError, match="empty"):
        sivae.SIVAE(tiny()[:0].copy(), **TINY)


def test_negative_counts_rejected_for_nb():
    adata = tiny()
    with pytest.raises(ValueError, match="raw counts"):
        sivae.SIVAE(adata, likelihood="nb", **TINY)


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="variance"):
        sivae.SIVAE(tiny(), variance="per-gene", **TINY)
    with pytest.raises(ValueError, match="feature_input"):
        sivae.SIVAE(tiny(), feature_input="random", **TINY)
    with pytest.raises(ValueError, match="gamma"):
        sivae.SIVAE(tiny(), gamma=-1.0, **TINY)


def test_unseen_batch_category_at_inference():
    adata = tiny()
    sivae.SIVAE.setup_anndata(adata, batch_key="batch")
    model = sivae.SIVAE(adata, **TINY)
    other = adata.copy()
    other.obs["batch"] = "c"
    with pytest.raises(ValueError, match="unseen in training"):
        model.get_latent_representation(other)


# ---------------------------------------------------------------- determinism
def test_same_seed_gives_identical_results_on_cpu():
    runs = []
    for _ in range(2):
        adata = tiny()
        model = sivae.SIVAE(adata, **TINY).train(**SCHEDULE)
        runs.append(
            (model.get_latent_representation(), model.get_loadings().to_numpy(), model.history)
        )
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    pd.testing.assert_frame_equal(
        runs[0][2].drop(columns="time_s"), runs[1][2].drop(columns="time_s")
    )
    other = sivae.SIVAE(tiny(), **{**TINY, "seed": 1}).train(**SCHEDULE)
    assert not np.array_equal(other.get_latent_representation(), runs[0][0])


def test_already_scaled_x_is_used_as_is_and_counts_are_standardised():
    adata = tiny()
    model = sivae.SIVAE(adata, **TINY)
    np.testing.assert_array_equal(model.transform.mean, 0.0)
    np.testing.assert_array_equal(model.transform.std, 1.0)
    counts = tiny()
    counts.X = np.abs(counts.X) * 3
    model = sivae.SIVAE(counts, **TINY)
    np.testing.assert_allclose(model.transform.mean, counts.X.mean(0), rtol=1e-5)
    np.testing.assert_allclose(model.transform.std, counts.X.std(0), rtol=1e-4)


# ---------------------------------------------------------------- save / load
def test_save_load_round_trip(tmp_path):
    adata = tiny()
    sivae.SIVAE.setup_anndata(adata, batch_key="batch")
    model = sivae.SIVAE(adata, **TINY).train(**SCHEDULE)
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "model.safetensors").exists()
    loaded = sivae.SIVAE.load(tmp_path / "m", tiny())
    np.testing.assert_array_equal(
        loaded.get_latent_representation(), model.get_latent_representation()
    )
    pd.testing.assert_frame_equal(loaded.get_loadings(), model.get_loadings())
    pd.testing.assert_series_equal(
        loaded.get_reconstruction_error(), model.get_reconstruction_error()
    )
    np.testing.assert_array_equal(loaded.sample(5, seed=3), model.sample(5, seed=3))
    assert len(loaded.history) == len(model.history)


def test_load_onto_other_genes_is_rejected(tmp_path):
    model = sivae.VAE(tiny(), **TINY)
    model.save(tmp_path / "m")
    other = tiny()
    other.var_names = [f"x{i}" for i in range(other.n_vars)]
    with pytest.raises(ValueError, match="genes do not match"):
        sivae.VAE.load(tmp_path / "m", other)
    with pytest.raises(ValueError, match="holds a VAE"):
        sivae.SIVAE.load(tmp_path / "m", tiny())
    with pytest.raises(FileNotFoundError):
        sivae.VAE.load(tmp_path / "nothing", tiny())


# ---------------------------------------------------------------- resume
class Interrupt(RuntimeError):
    pass


@pytest.mark.parametrize("interrupt_after", [5, 7])
def test_resume_after_interrupt_matches_uninterrupted(tmp_path, monkeypatch, interrupt_after):
    """Epochs: 3 (stage 1), 2 (stage 2), 3 (stage 3); interrupt at the stage 2→3 boundary
    and mid-stage 3 (optimizer, scheduler, early-stopping and RNG state restored)."""
    schedule = {**SCHEDULE, "checkpoint_every": 1, "early_stopping": True, "patience": 50}
    reference = sivae.SIVAE(tiny(), **TINY).train(**schedule, checkpoint_dir=tmp_path / "ref")

    calls = {"n": 0}
    original = Trainer.on_epoch_end

    def interrupting(self):
        original(self)
        calls["n"] += 1
        if calls["n"] == interrupt_after:
            raise Interrupt

    monkeypatch.setattr(Trainer, "on_epoch_end", interrupting)
    ckpt = tmp_path / "ckpt"
    with pytest.raises(Interrupt):
        sivae.SIVAE(tiny(), **TINY).train(**schedule, checkpoint_dir=ckpt)
    monkeypatch.setattr(Trainer, "on_epoch_end", original)
    resumed = sivae.SIVAE(tiny(), **TINY).train(**schedule, checkpoint_dir=ckpt, resume=True)

    ref_state, new_state = reference.module.state_dict(), resumed.module.state_dict()
    for key in ref_state:
        torch.testing.assert_close(new_state[key], ref_state[key], rtol=0, atol=0)
    drop = ["time_s"]  # wall time is the one column that may differ
    pd.testing.assert_frame_equal(
        resumed.history.drop(columns=drop), reference.history.drop(columns=drop)
    )


def test_history_has_every_term_and_plots(tmp_path):
    model = sivae.SIVAE(tiny(), **TINY).train(**SCHEDULE)
    h = model.history
    for col in (
        "stage",
        "epoch",
        "step",
        "total",
        "reconstruction",
        "kl_cell",
        "kl_feature",
        "interpretability",
    ):
        assert col in h.columns
    assert list(h.groupby("stage").size()) == [3, 2, 3]
    assert (h.loc[h.stage == 3, "interpretability"] > 0).all()
    # a term a stage does not compute is NaN (not 0), so curves do not drop to zero
    assert h.loc[h.stage == 1, "kl_feature"].isna().all()
    assert h.loc[h.stage == 2, "kl_cell"].isna().all()
    fig = sivae.model.plot_history(h, tmp_path / "history.png")
    assert (tmp_path / "history.png").stat().st_size > 1000
    assert fig.axes[0].get_xlabel() == "training step"


def test_early_stopping_waits_for_the_end_of_kl_warmup(monkeypatch):
    """A validation loss that only rises stops training after ``patience`` epochs, but
    never while β < 1 (issue #4 saw stops at 54-75 steps, inside the warm-up)."""
    monkeypatch.setattr(Trainer, "validation_loss", lambda self: float(self.step))
    adata = tiny()
    n_train = adata.n_obs - int(round(0.1 * adata.n_obs))
    steps_per_epoch = -(-n_train // SCHEDULE["batch_size"])
    model = sivae.SIVAE(adata, **TINY).train(
        **{**SCHEDULE, "max_epochs": 20},
        early_stopping=True,
        patience=1,
        kl_warmup_steps=6 * steps_per_epoch,
    )
    for stage in (1, 3):
        epochs = model.history.loc[model.history["stage"] == stage, "epoch"]
        # warm-up ends in epoch 5; the first judged epoch is the best, the next stops
        assert epochs.max() == 6


def test_construction_is_seeded_thread_safe_and_leaves_the_global_rng_alone():
    """``train_bins`` builds its models in threads: each must draw only from its own seed."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(0)
    adatas = [ad.AnnData(rng.normal(size=(40, 30)).astype(np.float32)) for _ in range(4)]
    seeds = [5, 6, 5, 7]

    def build(adata, seed):
        return sivae.SIVAE(adata.copy(), n_latent=3, seed=seed, hidden=(16, 8)).module.state_dict()

    torch.manual_seed(123)
    before = torch.get_rng_state()
    sequential = [build(a, s) for a, s in zip(adatas, seeds, strict=True)]
    assert torch.equal(torch.get_rng_state(), before)
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(build, adatas, seeds))
    for one, other in zip(sequential, threaded, strict=True):
        assert one.keys() == other.keys()
        assert all(torch.equal(one[k], other[k]) for k in one)
    # same seed on other data: same architecture, same initial kernels
    w = "cell_encoder.body.net.0.weight"
    assert torch.equal(sequential[0][w], sequential[2][w])
    assert not torch.equal(sequential[0][w], sequential[1][w])
