"""The fused loss pieces against plain autograd: values and gradients in float64,
mixed precision (float32 data, bfloat16 mean), broadcasting and ``vmap``.

``squared_error``, ``gaussian_nll`` and ``half_squared_norm`` replace autograd
chains by hand-written backwards (fewer passes over the (cells, genes) matrix in
an eager step); each is checked here against the chain it replaces, on fresh
random inputs, and with ``torch.autograd.gradcheck`` (finite differences).
"""

import importlib
from pathlib import Path

import pytest
import torch
from sivae.model._likelihoods import (
    gaussian_log_prob,
    gaussian_nll,
    half_squared_norm,
    squared_error,
)
from sivae.model._module import SIVAEModule
from torch.autograd import gradcheck


def _randn(*shape, seed, requires_grad=True, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype).requires_grad_(requires_grad)


@pytest.mark.parametrize("mean_shape", [(7, 11), (1, 11), (11,)])
def test_squared_error_matches_autograd_and_finite_differences(mean_shape):
    x, mean = _randn(7, 11, seed=0), _randn(*mean_shape, seed=1)
    ours = squared_error(x, mean)
    ref = (x - mean).pow(2).sum(-1)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    w = _randn(7, seed=2, requires_grad=False)  # a non-uniform upstream gradient
    g_ours = torch.autograd.grad((ours * w).sum(), (x, mean))
    g_ref = torch.autograd.grad((ref * w).sum(), (x, mean))
    for a, b in zip(g_ours, g_ref, strict=True):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    assert gradcheck(squared_error, (x, mean))


def test_squared_error_gradient_only_where_asked():
    x, mean = _randn(5, 6, seed=3, requires_grad=False), _randn(5, 6, seed=4)
    (grad,) = torch.autograd.grad(squared_error(x, mean).sum(), mean)
    torch.testing.assert_close(grad, -2 * (x - mean).detach())


def test_squared_error_mixed_precision_follows_the_float32_reference():
    """float32 data and a bfloat16 mean (bf16 autocast): float32 residual, bfloat16 gradient."""
    x = _randn(64, 300, seed=5, requires_grad=False, dtype=torch.float32)
    mean = _randn(64, 300, seed=6, dtype=torch.float32).to(torch.bfloat16).detach()
    mean.requires_grad_(True)
    ours = squared_error(x, mean)
    assert ours.dtype == torch.float32
    ref = (x - mean.float()).pow(2).sum(-1)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-4)
    (grad,) = torch.autograd.grad(ours.sum(), mean)
    assert grad.dtype == torch.bfloat16
    torch.testing.assert_close(grad.float(), -2 * (x - mean.float()), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("std_shape", [(9, 1), (1, 13), (9, 13), ()])
def test_gaussian_nll_is_the_summed_log_density(std_shape):
    x, mean = _randn(9, 13, seed=7), _randn(9, 13, seed=8)
    std = (_randn(*std_shape or (1,), seed=9, requires_grad=False).abs() + 0.3).reshape(std_shape)
    std.requires_grad_(True)
    ours = gaussian_nll(x, mean, std)
    ref = -gaussian_log_prob(x, mean, std).sum(-1)
    assert ours.shape == (9,)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    g_ours = torch.autograd.grad(ours.sum(), (x, mean, std))
    g_ref = torch.autograd.grad(ref.sum(), (x, mean, std))
    for a, b in zip(g_ours, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    assert gradcheck(lambda m, s: gaussian_nll(x.detach(), m, s), (mean, std))


def test_half_squared_norm_value_and_gradient():
    p = _randn(6, 4, seed=10)
    ours = half_squared_norm(p)
    torch.testing.assert_close(ours, 0.5 * p.detach().pow(2).sum())
    assert gradcheck(half_squared_norm, (p,))
    (grad,) = torch.autograd.grad(3.0 * half_squared_norm(p), p)
    torch.testing.assert_close(grad, 3.0 * p.detach())


def test_fused_functions_under_vmap_match_a_loop():
    """The batched trainer evaluates the loss of B models with ``torch.func.vmap``."""
    x, mean = _randn(3, 5, 8, seed=11), _randn(3, 5, 8, seed=12)

    def loss(xb, mb):
        return squared_error(xb, mb).sum() + half_squared_norm(mb)

    batched = torch.func.vmap(torch.func.grad(loss, argnums=1))(x, mean)
    for b in range(3):
        (one,) = torch.autograd.grad(loss(x[b], mean[b]), mean)
        torch.testing.assert_close(batched[b], one[b], rtol=1e-12, atol=1e-12)


def _reference_cell_loss(m: SIVAEModule, x, s, eps_z, eps_v):
    """The joint loss written out with plain autograd, as the module computed it before."""
    qz_m, qz_s = m.encode_cells(x, s)
    z = qz_m + qz_s * eps_z
    y = m.decode_y(z, s)
    qv_m, qv_s = m.encode_features()
    v = qv_m + qv_s * eps_v
    weight = m.feature_decoder(v)
    out = y @ weight.T + m.gene_bias
    scale = m.scale_head(y)
    recon = -gaussian_log_prob(x, out, scale).sum(-1).mean()
    kl = lambda mu, sd: (0.5 * (sd**2 + mu**2 - 1) - sd.log()).sum(-1).mean()  # noqa: E731
    fit = z @ v.T + m.interp_bias + s @ m.interp_batch.T
    interp = (x - fit).pow(2).sum(-1).mean()
    l2 = 0.5 * sum(p.pow(2).sum() for p in m._kernels(3))
    return recon + kl(qz_m, qz_s) + kl(qv_m, qv_s) + m.gamma * interp + m.l2 * l2


def test_joint_loss_and_gradients_equal_the_plain_autograd_formula():
    torch.manual_seed(0)
    m = SIVAEModule(13, 3, n_covariates=2, n_feature_input=6, hidden=(16, 8)).double()
    with torch.no_grad():
        m.feature_input.normal_()
        m.interp_bias.normal_()
        m.interp_batch.normal_()
        m.scale_head.dense.weight.normal_(std=0.1)
    x = _randn(10, 13, seed=13, requires_grad=False)
    s = _randn(10, 2, seed=14, requires_grad=False)
    eps = (_randn(10, 3, seed=15, requires_grad=False), _randn(13, 3, seed=16, requires_grad=False))
    from sivae.model._module import PresampledNoise

    ours = m.cell_loss(x, x, s, None, 1.0, joint=True, generator=PresampledNoise(eps))["total"]
    ref = _reference_cell_loss(m, x, s, *eps)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-10)
    params = m.stage_parameters(3)
    for a, b in zip(
        torch.autograd.grad(ours, params), torch.autograd.grad(ref, params), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)


def test_eager_joint_step_stays_within_its_memory_traffic_budget(monkeypatch):
    """Bytes, not seconds: an eager step's element-wise traffic per (cell, gene) element.

    Counted by ``benchmarks/step_traffic.py`` under fake tensors (bf16 autocast, as on
    CUDA) at a shape where the (cells, genes) matrices dominate. The fused loss
    measures 73 bytes per element here; the autograd chains it replaced took 297.
    """
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    step_traffic = importlib.import_module("step_traffic")
    shape = {"batch": 256, "F": 3000, "K": 4, "C": 50, "hidden": (32, 16)}
    counter, _ = step_traffic.count_step(shape)
    per_element = counter.elementwise_bytes / (shape["batch"] * shape["F"])
    assert per_element <= 100, f"{per_element:.0f} bytes per (cell, gene) element"
