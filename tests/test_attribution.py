"""Reverse- and forward-mode attribution, and loadings from attributions."""

import logging

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from sivae import attribution as at
from sklearn.decomposition import PCA

torch.set_num_threads(1)

K, F, C = 3, 12, 40


def _mlp(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(K, 16),
        torch.nn.Tanh(),
        torch.nn.Linear(16, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, F),
    ).double()


def _linear(seed: int = 0) -> torch.nn.Linear:
    torch.manual_seed(seed)
    return torch.nn.Linear(K, F).double()


@pytest.fixture
def z():
    return np.random.default_rng(0).normal(size=(C, K))


def _finite_difference_jacobian(module, x, eps=1e-6):
    """Central differences in float64: (C, n_out, n_in)."""
    x = torch.as_tensor(x, dtype=torch.float64)
    cols = []
    with torch.no_grad():
        for i in range(x.shape[1]):
            step = torch.zeros_like(x)
            step[:, i] = eps
            cols.append((module(x + step) - module(x - step)) / (2 * eps))
    return torch.stack(cols, dim=2).numpy()


def test_forward_jacobian_matches_captum_saliency_and_finite_differences(z):
    net = _mlp()
    jac = at.jacobian(net, z, chunk_size=7)  # chunks that do not divide C
    assert jac.shape == (C, F, K) and jac.dtype == np.float64
    saliency = at.attribute(net, z, "saliency", batch_size=16, progress=False)
    assert saliency.shape == (F, C, K)
    # Every output node: forward mode equals the captum reverse pass.
    assert np.abs(jac.transpose(1, 0, 2) - saliency).max() <= 1e-5
    assert np.abs(jac - _finite_difference_jacobian(net, z)).max() <= 1e-6
    np.testing.assert_allclose(
        at.forward_attribute(net, z, "saliency"), jac.transpose(1, 0, 2), atol=1e-14
    )
    # abs_saliency gives DeepExplain's |gradient|.
    np.testing.assert_allclose(
        at.attribute(net, z, "saliency", progress=False, abs_saliency=True), np.abs(saliency)
    )


def test_grad_x_input_is_jacobian_times_input(z):
    net = _mlp(1)
    jac = at.jacobian(net, z)
    expected = (jac * z[:, None, :]).transpose(1, 0, 2)
    np.testing.assert_allclose(
        at.attribute(net, z, "grad_x_input", progress=False), expected, atol=1e-12
    )
    np.testing.assert_allclose(at.forward_attribute(net, z, "grad_x_input"), expected, atol=1e-12)


def test_subset_of_targets_and_training_flag_restored(z):
    net = _mlp(2).train()
    full = at.attribute(net, z, "deeplift", progress=False)
    part = at.attribute(net, z, "deeplift", targets=[5, 0], progress=False)
    np.testing.assert_allclose(part, full[[5, 0]])
    assert net.training


def test_deeplift_and_integrated_gradients_complete_to_output_difference(z):
    """Summation-to-delta: attributions over inputs add up to f(x) - f(0)."""
    net = _mlp(3)
    with torch.no_grad():
        x = torch.as_tensor(z)
        delta = (net(x) - net(torch.zeros_like(x))).numpy().T  # (F, C)
    deeplift = at.attribute(net, z, "deeplift", progress=False)
    np.testing.assert_allclose(deeplift.sum(axis=2), delta, atol=1e-10)
    # Gauss-Legendre quadrature is exact only up to its order on a smooth path, so
    # integrated gradients is checked on a smooth (Tanh) network.
    torch.manual_seed(3)
    smooth = torch.nn.Sequential(
        torch.nn.Linear(K, 16), torch.nn.Tanh(), torch.nn.Linear(16, F)
    ).double()
    with torch.no_grad():
        delta = (smooth(x) - smooth(torch.zeros_like(x))).numpy().T
    ig = at.attribute(smooth, z, "integrated_gradients", n_steps=64, progress=False)
    np.testing.assert_allclose(ig.sum(axis=2), delta, atol=1e-10)


def test_linear_decoder_all_methods_equal_closed_form(z):
    net = _linear()
    w = net.weight.detach().numpy()  # (F, K)
    closed_form = w[:, None, :] * z[None, :, :]  # W_fd * z_cd, baseline 0
    for method in ("grad_x_input", "deeplift", "integrated_gradients", "shapley"):
        got = at.attribute(net, z, method, n_samples=3, progress=False)
        np.testing.assert_allclose(got, closed_form, atol=1e-10, err_msg=method)
    np.testing.assert_allclose(
        at.attribute(net, z, "saliency", progress=False),
        np.broadcast_to(w[:, None, :], (F, C, K)),
        atol=1e-12,
    )


def test_shapley_is_seeded(z):
    net = _mlp(4)
    a = at.attribute(net, z[:5], "shapley", n_samples=2, seed=3, progress=False)
    b = at.attribute(net, z[:5], "shapley", n_samples=2, seed=3, progress=False)
    np.testing.assert_array_equal(a, b)


def test_linear_decoder_loadings_recover_weights(z, caplog):
    net = _linear(5)
    w = net.weight.detach().numpy()
    mean_gradient = at.jacobian(net, z).mean(axis=0)  # (F, K)
    for method in ("grad_x_input", "deeplift", "integrated_gradients"):
        a = at.attribute(net, z, method, progress=False)
        u = at.attribution_loadings(a, "decoder", sign_reference=mean_gradient)
        for d in range(K):
            rho = stats.spearmanr(u[:, d], w[:, d]).statistic
            assert rho > 0.999, (method, d, rho)
            # the scale is the PC's: |W_fd| * std(z_d)
            np.testing.assert_allclose(np.abs(u[:, d]), np.abs(w[:, d]) * z[:, d].std(ddof=1))
        # default orientation (mean attribution) may flip a column, never the ranks
        u_default = at.attribution_loadings(a, "decoder")
        for d in range(K):
            assert abs(stats.spearmanr(u_default[:, d], w[:, d]).statistic) > 0.999
    # The saliency of a linear decoder is constant over cells: no first component.
    with caplog.at_level(logging.WARNING):
        u_sal = at.attribution_loadings(at.attribute(net, z, "saliency", progress=False))
    assert np.all(u_sal == 0)
    assert "no variation over cells" in caplog.text
    # Uncentred, the constant saliency is the component: its loadings are W itself.
    a = at.attribute(net, z, "saliency", progress=False)
    u_unc = at.attribution_loadings(a, "decoder", sign_reference=mean_gradient, center=False)
    np.testing.assert_allclose(u_unc, w * np.sqrt(C / (C - 1)), atol=1e-10)


@pytest.mark.parametrize("shape", [(30, 8), (6, 20)])
def test_pca_loading_matches_sklearn(shape):
    x = np.random.default_rng(1).normal(size=shape) @ np.diag(np.linspace(3, 0.5, shape[1]))
    x += 2.0  # a mean that the centred rule must ignore
    pca = PCA(n_components=1, svd_solver="full").fit(x)
    expected = pca.components_[0] * np.sqrt(pca.explained_variance_[0])
    got, variance = at.pca_loading(x)
    assert variance == pytest.approx(pca.explained_variance_[0], rel=1e-10)
    sign = np.sign(got @ expected)
    np.testing.assert_allclose(sign * got, expected, atol=1e-10)
    # Uncentred: first right singular vector scaled by s_1 / sqrt(C - 1).
    _, sv, vt = np.linalg.svd(x, full_matrices=False)
    got_unc, second_moment = at.pca_loading(x, center=False)
    assert second_moment == pytest.approx(sv[0] ** 2 / (shape[0] - 1), rel=1e-10)
    expected_unc = vt[0] * sv[0] / np.sqrt(shape[0] - 1)
    np.testing.assert_allclose(np.sign(got_unc @ expected_unc) * got_unc, expected_unc, atol=1e-10)


def test_loadings_layouts_agree_and_sign_follows_mean():
    rng = np.random.default_rng(2)
    cgd = rng.normal(size=(25, 10, 3)) + rng.normal(size=(1, 10, 3))  # (C, F, K)
    u = at.attribution_loadings(cgd, "cell_gene_dim")
    np.testing.assert_allclose(at.attribution_loadings(cgd.transpose(1, 0, 2), "decoder"), u)
    np.testing.assert_allclose(at.attribution_loadings(cgd.transpose(2, 0, 1), "encoder"), u)
    for d in range(3):
        assert u[:, d] @ cgd[:, :, d].mean(axis=0) > 0
        expected, _ = at.pca_loading(cgd[:, :, d])
        np.testing.assert_allclose(np.abs(u[:, d]), np.abs(expected))
    flipped = at.attribution_loadings(cgd, "cell_gene_dim", sign_reference=-u)
    np.testing.assert_allclose(flipped, -u)


def test_nonfinite_attributions_zeroed_with_warning(caplog):
    a = np.random.default_rng(3).normal(size=(20, 6, 2))
    a[0, 0, 0] = np.nan
    with caplog.at_level(logging.WARNING):
        u = at.attribution_loadings(a, "cell_gene_dim")
    assert np.isfinite(u).all()
    assert "non-finite" in caplog.text


def test_agreement_matrix_symmetric_unit_diagonal_and_medians():
    rng = np.random.default_rng(4)
    base = rng.normal(size=(50, 3))
    loadings = {
        "siVAE": base,
        "DeepLIFT": base + 0.3 * rng.normal(size=base.shape),
        "GeneRelevance": rng.normal(size=base.shape),
    }
    table = at.agreement_table(loadings)
    assert list(table.columns) == ["method_a", "method_b", "dimension", "spearman", "p"]
    assert len(table) == 3 * 3  # 3 pairs x 3 dimensions
    mat = at.agreement_matrix(loadings)
    assert list(mat.index) == list(loadings) and list(mat.columns) == list(loadings)
    np.testing.assert_allclose(mat.to_numpy(), mat.to_numpy().T)
    np.testing.assert_allclose(np.diag(mat.to_numpy()), 1.0)
    # Off-diagonal = median over dimensions of scipy's Spearman.
    rhos = [stats.spearmanr(base[:, d], loadings["DeepLIFT"][:, d]).statistic for d in range(3)]
    assert mat.loc["siVAE", "DeepLIFT"] == pytest.approx(np.median(rhos))
    assert mat.loc["siVAE", "DeepLIFT"] > mat.loc["siVAE", "GeneRelevance"]
    pmat = at.agreement_matrix(loadings, value="p")
    np.testing.assert_allclose(np.diag(pmat.to_numpy()), 0.0)
    assert pmat.loc["siVAE", "DeepLIFT"] < 1e-6
    # DataFrames (e.g. model.get_loadings()) are accepted.
    framed = {k: pd.DataFrame(v) for k, v in loadings.items()}
    pd.testing.assert_frame_equal(at.agreement_matrix(framed), mat)


def test_bad_inputs_raise_clear_errors(z):
    net = _mlp()
    with pytest.raises(ValueError, match="unknown attribution method 'lrp'"):
        at.attribute(net, z, "lrp")
    with pytest.raises(ValueError, match="no forward mode"):
        at.forward_attribute(net, z, "deeplift")
    with pytest.raises(ValueError, match="2-D"):
        at.attribute(net, z[:, 0], "saliency")
    with pytest.raises(ValueError, match="does not accept inputs of shape"):
        at.jacobian(net, np.zeros((4, K + 1)))
    with pytest.raises(ValueError, match="out of range"):
        at.attribute(net, z, "saliency", targets=[F])
    with pytest.raises(ValueError, match="NaN"):
        at.attribute(net, np.full((2, K), np.nan), "saliency")
    with pytest.raises(ValueError, match="unknown layout"):
        at.attribution_loadings(np.zeros((2, 3, 4)), "genes")
    with pytest.raises(ValueError, match="3-D"):
        at.attribution_loadings(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="sign_reference"):
        at.attribution_loadings(np.ones((5, 4, 2)), "decoder", sign_reference=np.ones((4, 2)))
    with pytest.raises(ValueError, match="'b' have shape"):
        at.agreement_matrix({"a": np.zeros((5, 2)), "b": np.zeros((4, 2))})
    with pytest.raises(ValueError, match="non-empty dict"):
        at.agreement_table({})


def test_jacobian_chunks_stream_the_same_jacobian():
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 4))
    z = torch.randn(10, 3)
    whole = at.jacobian(net, z, chunk_size=4)
    starts, parts = zip(*at.jacobian_chunks(net, z, 4), strict=True)
    assert starts == (0, 4, 8) and [p.shape[0] for p in parts] == [4, 4, 2]
    np.testing.assert_array_equal(torch.cat(parts).numpy(), whole)
    grad_x_input = at.forward_attribute(net, z, "grad_x_input", chunk_size=4)
    np.testing.assert_allclose(
        grad_x_input, (whole * z.numpy()[:, None, :]).transpose(1, 0, 2), rtol=1e-6, atol=1e-7
    )
