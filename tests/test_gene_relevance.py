"""Gene Relevance: exact cases, a literal loop port of destiny as reference, synthetic slopes."""

import numpy as np
import pytest
from scipy import sparse, stats
from sivae.attribution import gene_relevance
from sivae.attribution._gene_relevance import smooth_gaussian
from sklearn.neighbors import NearestNeighbors


def _smth_gaussian_loop(x, window, alpha):
    """Line-by-line port of smoother::smth.gaussian(tails = TRUE), 1-based indices kept."""
    n = len(x)
    w_len = int(max(abs(window * n if 0 < window < 1 else window), 1))
    hw = abs(w_len / 2)
    w = np.array([np.exp(-0.5 * (abs(alpha) * (i - int(hw)) / hw) ** 2) for i in range(w_len)])
    w = w / w.sum()
    hkw_l = int(w_len / 2)
    hkw_r = w_len - hkw_l
    out = np.empty(n)
    for i in range(1, n + 1):
        ix_d = np.arange(i - hkw_l, i + hkw_r)
        ix_w = np.nonzero((ix_d >= 1) & (ix_d <= n))[0]
        ix_d = ix_d[ix_w]
        weights = w[ix_w] / w[ix_w].sum() if len(ix_w) != w_len else w
        out[i - 1] = x[ix_d - 1] @ weights
    return out


def _gene_relevance_loop(coords, exprs, k):
    """Unsmoothed destiny gene_relevance, cell by cell (reference for the vectorised code)."""
    n, g = exprs.shape
    idx = NearestNeighbors(n_neighbors=k + 1).fit(exprs).kneighbors(exprs, return_distance=False)
    nn_index = np.array([[j for j in row if j != c][:k] for c, row in enumerate(idx)])
    small = exprs[exprs != 0].min() / (exprs == 0).sum()
    partials = np.full((n, g, coords.shape[1]), np.nan)
    for d in range(coords.shape[1]):
        for gene in range(g):
            for c in range(n):
                ref = exprs[c, gene] if exprs[c, gene] != 0 else small
                quotients = []
                for j in nn_index[c]:
                    diff = exprs[j, gene] - ref
                    if diff != 0:
                        quotients.append(diff / (coords[j, d] - coords[c, d]))
                if len(quotients) >= 2:
                    partials[c, gene, d] = np.median(quotients)
    return partials


@pytest.mark.parametrize(("n", "window", "alpha"), [(50, 0.1, 2.5), (41, 0.2, 1.0), (30, 7, 3.0)])
def test_smoothing_matches_smoother_port(n, window, alpha):
    x = np.random.default_rng(n).normal(size=n)
    np.testing.assert_allclose(
        smooth_gaussian(x, window, alpha), _smth_gaussian_loop(x, window, alpha)
    )
    # A NaN poisons exactly the windows that contain it, as R's %*% does.
    x[10] = np.nan
    expected = _smth_gaussian_loop(x, window, alpha)
    got = smooth_gaussian(np.column_stack([x, x]), window, alpha)
    np.testing.assert_allclose(got[:, 1], expected)
    assert np.array_equal(np.isnan(got[:, 0]), np.isnan(expected))


def test_matches_loop_port_on_counts_with_zeros_and_ties():
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(60, 2))
    # Low Poisson counts: many zeros (drop-out rule) and equal neighbours (NaN rule).
    rates = np.exp(coords @ rng.normal(size=(2, 6)) * 0.7 - 0.5)
    exprs = rng.poisson(rates).astype(float)
    exprs += rng.normal(scale=1e-3, size=exprs.shape) * (exprs > 3)  # break kNN distance ties
    got = gene_relevance(coords, exprs, k=8, smooth=False)
    expected = _gene_relevance_loop(coords, exprs, k=8)
    assert np.isnan(expected).any()  # the case is exercised
    np.testing.assert_allclose(got, expected, equal_nan=True)
    from_sparse = gene_relevance(coords, sparse.csr_matrix(exprs), k=8, smooth=False)
    np.testing.assert_array_equal(from_sparse, got)
    smoothed = gene_relevance(coords, exprs, k=8, smooth=(0.2, 2.5), dims=[1])
    assert smoothed.shape == (60, 6, 1)
    order = np.argsort(coords[:, 1], kind="stable")
    for gene in range(6):
        np.testing.assert_allclose(
            smoothed[order, gene, 0], _smth_gaussian_loop(expected[order, gene, 1], 0.2, 2.5)
        )


def test_one_dimensional_linear_map_gives_exact_slopes():
    rng = np.random.default_rng(1)
    z = rng.uniform(1, 3, size=(200, 1))
    slopes = np.array([2.0, -1.5, 0.3, -4.0])
    expr = z * slopes + 10.0  # no zeros, every neighbour quotient is the slope
    partials = gene_relevance(z, expr, k=10)
    np.testing.assert_allclose(partials[:, :, 0], np.broadcast_to(slopes, (200, 4)), rtol=1e-9)


def test_two_dimensional_linear_map_recovers_slope_signs_and_ranks():
    rng = np.random.default_rng(0)
    z = rng.uniform(-2, 2, size=(400, 2))
    slopes = np.array(
        [[3, 0.5], [-2, 1], [1, -3], [0.2, 2], [-0.5, -0.7], [1.5, 0.1], [-1, 2.5], [0.8, -1.2]]
    )
    expr = z @ slopes.T + 0.01 * rng.normal(size=(400, 8))
    partials = gene_relevance(z, expr, k=20)
    estimate = np.median(partials, axis=0)  # (genes, dims)
    assert np.array_equal(np.sign(estimate), np.sign(slopes))
    # Neighbours are found in expression space, so the other slope leaks into each
    # quotient: ranks are recovered (0.88 / 0.93 here), values are biased.
    for d in range(2):
        assert stats.spearmanr(estimate[:, d], slopes[:, d]).statistic >= 0.85


def test_bad_inputs():
    z = np.zeros((10, 2))
    with pytest.raises(ValueError, match="embedding has 10 cells but expression has 9"):
        gene_relevance(z, np.ones((9, 3)))
    with pytest.raises(ValueError, match="k must be"):
        gene_relevance(z, np.ones((10, 3)), k=10)
    with pytest.raises(ValueError, match="dims"):
        gene_relevance(z, np.ones((10, 3)), k=3, dims=[2])
    with pytest.raises(ValueError, match="smooth must be"):
        gene_relevance(z, np.ones((10, 3)), k=3, smooth="yes")
    with pytest.raises(ValueError, match="window"):
        gene_relevance(np.arange(20.0)[:, None], np.arange(20.0)[:, None] ** 2, k=3, smooth=(30, 2))
