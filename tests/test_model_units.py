"""Unit tests of the siVAE torch pieces: likelihoods, KL, gradients, PCA input."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.stats as ss
import torch
from sivae.model._data import CellMatrix, InputTransform, pca_of_transpose, stratified_subsample
from sivae.model._likelihoods import (
    gaussian_log_prob,
    inverse_positive,
    kl_standard_normal,
    nb_log_prob,
    positive,
)
from sivae.model._module import SIVAEModule
from torch.distributions import NegativeBinomial, Normal, kl_divergence


def test_gaussian_log_prob_matches_torch_and_scipy():
    g = torch.Generator().manual_seed(0)
    x, mean = (
        torch.randn(50, 7, generator=g, dtype=torch.float64),
        torch.randn(50, 7, generator=g, dtype=torch.float64),
    )
    std = torch.rand(50, 7, generator=g, dtype=torch.float64) + 0.1
    ours = gaussian_log_prob(x, mean, std)
    torch.testing.assert_close(ours, Normal(mean, std).log_prob(x))
    ref = ss.norm.logpdf(x.numpy(), loc=mean.numpy(), scale=std.numpy())
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-10)


def test_nb_log_prob_matches_torch_and_scipy():
    rng = np.random.default_rng(1)
    mu = torch.as_tensor(rng.gamma(2.0, 5.0, size=(40, 6)))
    theta = torch.as_tensor(rng.gamma(2.0, 1.0, size=(40, 6)) + 0.05)
    x = torch.as_tensor(rng.poisson(mu.numpy()).astype(np.float64))
    ours = nb_log_prob(x, mu, theta, eps=0.0)
    ref_torch = NegativeBinomial(total_count=theta, probs=mu / (mu + theta)).log_prob(x)
    torch.testing.assert_close(ours, ref_torch, rtol=1e-9, atol=1e-9)
    p = (theta / (theta + mu)).numpy()
    ref = ss.nbinom.logpmf(x.numpy(), theta.numpy(), p)
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-8)


def test_kl_matches_closed_form_and_torch():
    g = torch.Generator().manual_seed(2)
    mean = torch.randn(30, 4, generator=g, dtype=torch.float64)
    std = torch.rand(30, 4, generator=g, dtype=torch.float64) + 0.2
    ours = kl_standard_normal(mean, std)
    # closed form for KL(N(m, s²) ‖ N(0, 1)), direction q ‖ p
    closed = np.log(1 / std.numpy()) + (std.numpy() ** 2 + mean.numpy() ** 2) / 2 - 0.5
    np.testing.assert_allclose(ours.numpy(), closed, rtol=1e-12)
    ref = kl_divergence(Normal(mean, std), Normal(torch.zeros_like(mean), torch.ones_like(std)))
    torch.testing.assert_close(ours, ref)
    # the reverse direction KL(p ‖ q) differs: guard against the PyTorch-port bug
    rev = kl_divergence(Normal(torch.zeros_like(mean), torch.ones_like(std)), Normal(mean, std))
    assert not torch.allclose(ours, rev)


def test_positive_inverse_roundtrip():
    for y in (1e-4, 0.05, 0.7, 3.0, 40.0):
        assert float(
            positive(torch.tensor(inverse_positive(y), dtype=torch.float64))
        ) == pytest.approx(y, rel=1e-9)


def _tiny_module(gamma=0.05, n_cov=0, **kw):
    torch.manual_seed(0)
    m = SIVAEModule(12, 3, n_covariates=n_cov, n_feature_input=9, hidden=(16, 8), gamma=gamma, **kw)
    m.feature_input.copy_(torch.randn(12, 9))
    return m


def test_gradients_reach_both_encoders_in_joint_loss():
    m = _tiny_module()
    x = torch.randn(5, 12)
    s = torch.zeros(5, 0)
    loss = m.cell_loss(
        x, x, s, None, beta=1.0, joint=True, generator=torch.Generator().manual_seed(0)
    )
    loss["total"].backward()
    for enc in (m.cell_encoder, m.feature_encoder, m.feature_decoder, m.cell_decoder):
        grads = [p.grad for p in enc.parameters()]
        assert all(g is not None for g in grads)
        assert sum(float(g.abs().sum()) for g in grads) > 0
    # stage 1 does not touch the feature side
    m.zero_grad(set_to_none=True)
    m.cell_loss(x, x, s, None, 1.0, joint=False)["total"].backward()
    assert all(p.grad is None for p in m.feature_encoder.parameters())


@pytest.mark.parametrize("gamma", [0.0, 0.05])
def test_interpretability_gradient_on_feature_encoder(gamma):
    """γ=0 leaves the feature side unconstrained by the linear term: the total loss's
    gradient on the feature encoder equals that of the loss without the term."""
    m = _tiny_module(gamma=gamma)
    x = torch.randn(6, 12)
    gen = torch.Generator().manual_seed(3)
    loss = m.cell_loss(x, x, torch.zeros(6, 0), None, 1.0, joint=True, generator=gen)
    rest = loss["reconstruction"] + loss["kl_cell"] + loss["kl_feature"] + m.l2 * loss["l2"]
    params = list(m.feature_encoder.parameters())
    g_total = torch.autograd.grad(loss["total"], params, retain_graph=True)
    g_rest = torch.autograd.grad(rest, params)
    diff = sum(float((a - b).abs().sum()) for a, b in zip(g_total, g_rest, strict=True))
    if gamma == 0:
        assert diff == pytest.approx(0.0, abs=1e-6)
    else:
        assert diff > 1e-4


def test_interpretability_term_is_the_linear_residual():
    m = _tiny_module()
    with torch.no_grad():
        m.interp_bias.normal_()
    x = torch.randn(4, 12)
    s = torch.zeros(4, 0)
    loss = m.cell_loss(x, x, s, None, 1.0, joint=True, sample=False)
    z = m.encode_cells(x, s)[0]
    v = m.encode_features()[0]
    expected = ((x - z @ v.T - m.interp_bias) ** 2).sum(1).mean()
    torch.testing.assert_close(loss["interpretability"], expected)


def test_stage_parameters_partition():
    m = _tiny_module(n_cov=2)
    ids = {s: {id(p) for p in m.stage_parameters(s)} for s in (1, 2, 3)}
    assert id(m.gene_weight) in ids[1] and id(m.gene_weight) not in ids[3]
    assert ids[2] <= ids[3] | {id(m.feature_noise)}
    assert not ({id(p) for p in m.cell_encoder.parameters()} & ids[2])


def test_reconstruction_term_matches_manual_gaussian_nll():
    m = _tiny_module()
    x = torch.randn(3, 12)
    s = torch.zeros(3, 0)
    loss = m.cell_loss(x, x, s, None, 1.0, joint=False, sample=False)
    z = m.encode_cells(x, s)[0]
    y = m.decode_y(z, s)
    mean = y @ m.gene_weight.T + m.gene_bias
    std = torch.nn.functional.softplus(m.scale_head.dense(y)) + 1e-5
    expected = -Normal(mean, std).log_prob(x).sum(1).mean()
    torch.testing.assert_close(loss["reconstruction"], expected)


def test_pca_of_transpose_matches_dense_svd():
    rng = np.random.default_rng(4)
    # clear spectral gaps so that randomised SVD converges to machine precision
    X = (rng.standard_normal((60, 6)) * [12, 9, 6, 4, 2, 1]) @ rng.standard_normal((6, 25))
    X += 0.01 * rng.standard_normal((60, 25))
    transform = InputTransform(X.mean(0), X.std(0), log1p=False)
    for matrix in (X, sp.csr_matrix(np.where(np.abs(X) > 1, X, 0.0))):
        dense = matrix.toarray() if sp.issparse(matrix) else matrix
        xs = transform.numpy(dense)
        m = xs.T - xs.T.mean(axis=0, keepdims=True)  # genes are samples: centre across genes
        u, s, _ = np.linalg.svd(m, full_matrices=False)
        ref = u[:, :5] * s[:5]
        ours = pca_of_transpose(
            CellMatrix(matrix), transform, 5, np.random.default_rng(0), n_iter=6
        )
        # component signs are arbitrary
        signs = np.sign((ours * ref).sum(0))
        np.testing.assert_allclose(ours * signs, ref, atol=1e-6 * np.abs(ref).max())


def test_stratified_subsample_keeps_proportions():
    labels = np.array(["a"] * 600 + ["b"] * 300 + ["c"] * 100)
    idx = stratified_subsample(1000, 100, labels, np.random.default_rng(0))
    assert idx.size == np.unique(idx).size == 100
    values, counts = np.unique(labels[idx], return_counts=True)
    assert dict(zip(values, counts, strict=True)) == {"a": 60, "b": 30, "c": 10}
