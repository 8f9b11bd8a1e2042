"""Simulated multi-group study (cell lines or donors) for the cohort analyses of Fig. 6.

Each group (an iPSC line in NeurDiff, a donor in the DementiaDataset) gets its
own population of cells. Genes belong to co-expression modules driven by shared
latent factors; one planted module of ``MT-`` genes loses CO-EXPRESSION as the
group's phenotype ("efficiency") rises, while each MT gene's marginal
distribution (mean and variance on the log scale) stays the same. A network
method therefore has something to find that a mean-expression test cannot.

Generative model, per cell ``c`` of group ``g`` sequenced in pool ``p`` and
gene ``j`` of module ``m`` (background genes have no module, ``rho = 0``)::

    eta_cj = mu_j + delta_gj + shift_pj + s_j * (sqrt(rho_gm) f_cm + sqrt(1 - rho_gm) e_cj)
    counts_cj ~ Poisson(L_c * exp(eta_cj));  X = log1p(1e4 * counts / total counts)

with ``f, e ~ N(0, 1)``, ``delta`` a per-line baseline offset (lines differ in
mean expression for reasons unrelated to the phenotype), ``shift`` a pool batch
effect and ``L`` a log-normal library size. Within-module correlation on the
log scale is ``rho``; the MT module's ``rho`` falls linearly with efficiency,
other modules' ``rho`` jitter around their own level independently of it. One
"mean-shift" module is the control of the opposite kind: its mean rises with
efficiency while its co-expression stays fixed.
"""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

__all__ = ["cohort", "MT_GENE_NAMES"]

#: The 13 protein-coding genes of the human mitochondrial genome.
MT_GENE_NAMES = (
    "MT-ND1",
    "MT-ND2",
    "MT-CO1",
    "MT-CO2",
    "MT-ATP8",
    "MT-ATP6",
    "MT-CO3",
    "MT-ND3",
    "MT-ND4L",
    "MT-ND4",
    "MT-ND5",
    "MT-ND6",
    "MT-CYB",
)


def _check_args(n_groups, cells_per_group, n_genes, n_modules, module_size, n_mt_genes, n_pools):
    lo, hi = cells_per_group
    if n_groups < 4:
        raise ValueError(f"cohort: n_groups must be >= 4 for a cohort analysis, got {n_groups}")
    if not 1 <= lo <= hi:
        raise ValueError(f"cohort: cells_per_group must satisfy 1 <= low <= high, got {(lo, hi)}")
    if not 2 <= n_mt_genes <= len(MT_GENE_NAMES):
        raise ValueError(
            f"cohort: n_mt_genes must lie in [2, {len(MT_GENE_NAMES)}] (the mitochondrial "
            f"protein-coding genes), got {n_mt_genes}"
        )
    if n_modules < 1 or module_size < 2:
        raise ValueError(
            f"cohort: need n_modules >= 1 and module_size >= 2, got {n_modules}, {module_size}"
        )
    if n_mt_genes + n_modules * module_size > n_genes:
        raise ValueError(
            f"cohort: n_genes={n_genes} is smaller than the {n_mt_genes} MT genes plus "
            f"{n_modules}×{module_size} module genes"
        )
    if not 1 <= n_pools:
        raise ValueError(f"cohort: n_pools must be >= 1, got {n_pools}")


def cohort(
    n_groups: int = 16,
    cells_per_group: tuple[int, int] = (1000, 4000),
    n_genes: int = 200,
    n_modules: int = 5,
    module_size: int = 20,
    n_mt_genes: int = 13,
    n_pools: int = 4,
    mt_corr: tuple[float, float] = (0.8, 0.2),
    module_corr: tuple[float, float] = (0.25, 0.5),
    corr_jitter: float = 0.05,
    line_offset_sd: float = 0.15,
    pool_effect_sd: float = 0.2,
    mean_shift: float = 0.7,
    seed: int = 0,
) -> ad.AnnData:
    """Simulate a multi-group single-cell study with a planted MT co-expression signal.

    Parameters
    ----------
    n_groups
        Number of groups (cell lines / donors); at least 4. Default 16.
    cells_per_group
        ``(low, high)``: each group's cell count is drawn uniformly in this
        closed range. Default ``(1000, 4000)`` as in NeurDiff; tests use less.
    n_genes
        Total genes (MT + module + independent background genes). Default 200.
    n_modules
        Number of non-MT co-expression modules (the first is the mean-shift
        control module). Default 5.
    module_size
        Genes per non-MT module. Default 20.
    n_mt_genes
        Number of ``MT-`` genes forming the planted module (at most 13). Default 13.
    n_pools
        Number of sequencing pools; each group's cells are split over two pools
        (one if ``n_pools == 1``). Default 4.
    mt_corr
        Within-MT-module correlation (log scale) at efficiency 0 and at
        efficiency 1; linear in between. Default ``(0.8, 0.2)``: MT genes are
        transcribed together (polycistronic), so they are strongly co-expressed.
    module_corr
        Range from which each other module's base correlation is drawn.
    corr_jitter
        SD of the per-group, per-gene jitter added to each module gene's
        correlation with its module (MT included), so groups differ beyond the
        phenotype without a second module-wide signal.
    line_offset_sd
        SD of the per-group, per-gene baseline offset of log expression.
    pool_effect_sd
        SD of the per-pool, per-gene shift of log expression (batch effect).
    mean_shift
        Log-scale rise of the mean-shift module's expression from efficiency 0 to 1.
    seed
        Seed of the NumPy generator; the result is a deterministic function of
        all arguments.

    Returns
    -------
    AnnData
        ``n_cells × n_genes``; ``X`` log-normalised (``log1p`` of counts per
        10,000, the total including an unobserved rest of the transcriptome nine
        times the simulated genes' expected counts) dense float32, ``layers["counts"]`` float32 counts.
        ``obs``: ``group``, ``pool`` (categorical), ``efficiency`` (float, per
        group), ``status`` (``"case"`` for groups whose efficiency is below the
        median, else ``"control"``). ``var``: ``module`` (``"MT"``,
        ``"module1"``.., or ``"none"``), ``is_mt``. ``uns["cohort"]``: ground
        truth with ``mt_genes``, ``modules`` (name → genes, MT excluded),
        ``mean_shift_module``, ``gene_sets`` (modules plus random decoy sets, a
        stand-in for KEGG; MT is left out because the analysis adds it by
        prefix), ``phenotype`` (a DataFrame-like dict of per-group
        ``efficiency``, ``status``, ``mt_corr``) and ``params``.
    """
    _check_args(n_groups, cells_per_group, n_genes, n_modules, module_size, n_mt_genes, n_pools)
    rng = np.random.default_rng(seed)

    # --- genes: MT module, other modules, background -------------------------------------
    mt_genes = list(MT_GENE_NAMES[:n_mt_genes])
    n_other = n_genes - n_mt_genes
    other_names = [f"G{i:04d}" for i in range(1, n_other + 1)]
    module_of = np.array(["MT"] * n_mt_genes + ["none"] * n_other, dtype=object)
    order = rng.permutation(n_other)  # module membership scattered over the gene names
    modules = {}
    for m in range(n_modules):
        idx = np.sort(order[m * module_size : (m + 1) * module_size]) + n_mt_genes
        name = f"module{m + 1}"
        module_of[idx] = name
        modules[name] = [other_names[i - n_mt_genes] for i in idx]
    var_names = mt_genes + other_names
    module_names = ["MT", *modules]
    module_index = {name: k for k, name in enumerate(module_names)}
    gene_module = np.array([module_index.get(m, -1) for m in module_of])

    # Baseline log-rates: MT genes are highly expressed, as in real data.
    mu = np.log(rng.uniform(1.0, 8.0, n_genes))
    mu[gene_module == 0] = np.log(20.0)
    # The mean-shift module is highly expressed (like pluripotency markers in iPSCs): its
    # rise then barely changes its Poisson noise share, so its co-expression stays flat
    # and it is a clean "mean changes, connectivity does not" control.
    mu[gene_module == 1] = np.log(30.0)
    scale = rng.uniform(0.4, 0.6, n_genes)  # log-scale SD of each gene within a line

    # --- groups: phenotypes and per-group correlations ---------------------------------
    efficiency = np.clip(
        rng.permutation(np.linspace(0.03, 0.97, n_groups)) + rng.normal(0, 0.02, n_groups), 0, 1
    )
    status = np.where(efficiency < np.median(efficiency), "case", "control")
    base_corr = rng.uniform(*module_corr, n_modules)
    rho = np.empty((n_groups, len(module_names)))
    rho[:, 0] = mt_corr[0] + (mt_corr[1] - mt_corr[0]) * efficiency
    rho[:, 1:] = base_corr
    # Lines differ gene by gene in how tightly each gene follows its module (not module by
    # module: a whole module drifting with the line would be a second, unplanted signal).
    gene_rho = np.where(gene_module >= 0, rho[:, np.maximum(gene_module, 0)], 0.0)
    gene_rho = np.where(
        gene_module >= 0, gene_rho + rng.normal(0, corr_jitter, gene_rho.shape), 0.0
    )
    gene_rho = np.clip(gene_rho, 0.0, 0.95)
    group_names = [f"line{g:02d}" for g in range(n_groups)]
    n_cells = rng.integers(cells_per_group[0], cells_per_group[1] + 1, n_groups)

    line_offset = rng.normal(0, line_offset_sd, (n_groups, n_genes))
    shift_genes = gene_module == 1  # module1 is the mean-shift control
    line_offset[:, shift_genes] += mean_shift * efficiency[:, None]
    pool_shift = rng.normal(0, pool_effect_sd, (n_pools, n_genes))

    counts_blocks, totals, pools, groups = [], [], [], []
    # Expected counts of the observed genes in an average cell, times 9.
    rest_of_transcriptome = 9.0 * float(np.exp(mu + scale**2 / 2).sum())
    module_col = np.maximum(gene_module, 0)
    for g in range(n_groups):
        n = int(n_cells[g])
        pair = rng.choice(n_pools, size=min(2, n_pools), replace=False)
        pool = pair[(rng.random(n) < rng.uniform(0.3, 0.7)).astype(int) % len(pair)]
        r = gene_rho[g]
        shared_coef = (scale * np.sqrt(r)).astype(np.float32)
        noise_coef = (scale * np.sqrt(1.0 - r)).astype(np.float32)
        factors = rng.standard_normal((n, len(module_names)), dtype=np.float32)
        eta = rng.standard_normal((n, n_genes), dtype=np.float32)
        eta *= noise_coef
        eta += factors[:, module_col] * shared_coef
        eta += (mu + line_offset[g]).astype(np.float32) + pool_shift[pool].astype(np.float32)
        library = rng.lognormal(0.0, 0.2, (n, 1)).astype(np.float32)
        counts = rng.poisson(library * np.exp(eta)).astype(np.float32)
        # The simulated genes stand for a selected subset (like HVGs) of a transcriptome
        # ten times larger; its unobserved rest enters the library size, so a module's
        # mean shift does not move every other gene's normalised level (no artefactual
        # compositional effect from a 200-gene "transcriptome").
        rest = rng.poisson(library[:, 0] * rest_of_transcriptome).astype(np.float32)
        totals.append(counts.sum(1) + rest)
        counts_blocks.append(counts)
        pools.append(pool)
        groups.append(np.full(n, g))

    counts = np.concatenate(counts_blocks)
    total = np.concatenate(totals)[:, None]
    X = np.log1p(counts / np.maximum(total, 1.0) * 1e4).astype(np.float32)
    group_idx = np.concatenate(groups)
    obs = pd.DataFrame(
        {
            "group": pd.Categorical.from_codes(group_idx, group_names),
            "pool": pd.Categorical.from_codes(
                np.concatenate(pools), [f"pool{p}" for p in range(n_pools)]
            ),
            "efficiency": efficiency[group_idx].astype(np.float64),
            "status": pd.Categorical(status[group_idx], categories=["control", "case"]),
        },
        index=[f"cell{i}" for i in range(len(group_idx))],
    )
    var = pd.DataFrame(
        {"module": module_of.astype(str), "is_mt": gene_module == 0}, index=var_names
    )

    decoys = {}
    for d in range(8):
        size = int(rng.integers(15, 31))
        decoys[f"decoy{d + 1}"] = [var_names[i] for i in np.sort(rng.choice(n_genes, size, False))]
    adata = ad.AnnData(X=X, obs=obs, var=var, layers={"counts": counts})
    adata.uns["cohort"] = {
        "mt_genes": np.array(mt_genes),
        "modules": {k: np.array(v) for k, v in modules.items()},
        "mean_shift_module": "module1",
        "gene_sets": {k: np.array(v) for k, v in {**modules, **decoys}.items()},
        "phenotype": {
            "group": np.array(group_names),
            "efficiency": efficiency,
            "status": status.astype(str),
            "mt_corr": rho[:, 0],
            "n_cells": n_cells,
        },
        "params": {
            "n_groups": n_groups,
            "cells_per_group": np.array(cells_per_group),
            "mt_corr": np.array(mt_corr),
            "seed": seed,
        },
    }
    logger.info(
        "cohort: simulated %d cells in %d groups, %d genes (%d MT)",
        adata.n_obs,
        n_groups,
        n_genes,
        n_mt_genes,
    )
    return adata
