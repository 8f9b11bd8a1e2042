"""Group-level statistics: phenotype checks, per-gene correlations, group embedding, edge tests.

A "group" is one cell line or donor; its phenotype is one value (a continuous
one such as differentiation efficiency, or a binary case/control status).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

logger = logging.getLogger(__name__)

__all__ = [
    "benjamini_hochberg",
    "encode_phenotype",
    "phenotype_association",
    "group_embedding",
    "embedding_association",
    "edge_association",
]

MIN_GROUPS = 4
_CASE_WORDS = ("case", "true", "yes", "disease", "dementia", "1")


def benjamini_hochberg(pvalues) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN entries stay NaN.

    Parameters
    ----------
    pvalues
        Array-like of p-values in ``[0, 1]`` (any shape; NaN = not tested).

    Returns
    -------
    np.ndarray
        Same shape; ``q_(i) = min_{j >= i} p_(j) m / j`` over the ``m`` finite p-values.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    values = p[finite]
    if values.size == 0:
        return q
    if values.min() < 0 or values.max() > 1:
        raise ValueError("benjamini_hochberg: p-values must lie in [0, 1]")
    order = np.argsort(values)
    ranked = values[order] * values.size / np.arange(1, values.size + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]  # enforce monotonicity from the top
    out = np.empty_like(values)
    out[order] = np.minimum(adjusted, 1.0)
    q[finite] = out
    return q


def encode_phenotype(
    phenotype: pd.Series, case_label=None, name: str = "phenotype"
) -> tuple[pd.Series, str]:
    """Validate a per-group phenotype and code it numerically.

    Parameters
    ----------
    phenotype
        One value per group (index = group names). Missing values are dropped
        with a log line.
    case_label
        For a binary phenotype: the value meaning "case" (coded 1). ``None``:
        guessed from common words (``case``, ``True``, ``1``, ...), else the
        larger of the two sorted values, with a log line.
    name
        Used in messages.

    Returns
    -------
    values : pd.Series
        float64 per group: the phenotype itself (continuous) or 1 = case, 0 = control.
    kind : str
        ``"continuous"`` or ``"binary"``.

    Raises
    ------
    ValueError
        With fewer than 4 groups, or when the phenotype is constant across groups.
    """
    phenotype = pd.Series(phenotype)
    missing = phenotype.isna()
    if missing.any():
        logger.warning(
            "%s: dropping %d group(s) with no phenotype value: %s",
            name,
            int(missing.sum()),
            list(phenotype.index[missing])[:10],
        )
        phenotype = phenotype[~missing]
    if phenotype.size < MIN_GROUPS:
        raise ValueError(
            f"{name}: a cohort analysis needs at least {MIN_GROUPS} groups with a phenotype "
            f"value, got {phenotype.size} ({list(phenotype.index)})"
        )
    levels = pd.unique(phenotype.to_numpy())
    if levels.size < 2:
        raise ValueError(
            f"{name}: the phenotype is constant across all {phenotype.size} groups "
            f"(value {levels[0]!r}); nothing to associate with"
        )
    numeric = pd.api.types.is_numeric_dtype(phenotype) and not pd.api.types.is_bool_dtype(phenotype)
    if numeric and levels.size > 2:
        return phenotype.astype(np.float64), "continuous"
    if not numeric and levels.size > 2:
        raise ValueError(
            f"{name}: a non-numeric phenotype must have exactly two values (case/control), "
            f"got {levels.size}: {list(levels)[:10]}"
        )
    if case_label is None:
        by_word = [v for v in levels if str(v).lower() in _CASE_WORDS]
        case_label = by_word[0] if len(by_word) == 1 else sorted(levels, key=str)[-1]
        logger.info("%s: binary phenotype, treating %r as case", name, case_label)
    elif case_label not in set(levels):
        raise ValueError(
            f"{name}: case_label {case_label!r} is not one of the values {list(levels)}"
        )
    return (phenotype == case_label).astype(np.float64), "binary"


def phenotype_association(table: pd.DataFrame, phenotype: pd.Series) -> pd.DataFrame:
    """Spearman correlation of every column of a group × gene table with the phenotype.

    Parameters
    ----------
    table
        ``(n_groups, n_genes)``, index = groups (e.g. mean degree centrality or
        mean expression per group).
    phenotype
        Numeric phenotype per group (binary coded 0/1); only groups present in
        both are used.

    Returns
    -------
    pd.DataFrame
        Index = genes; ``rho``, ``p`` (two-sided, t approximation as
        ``scipy.stats.spearmanr``), ``q`` (Benjamini-Hochberg over the genes
        with a defined correlation). Genes constant across groups get NaN (logged).
    """
    groups = table.index.intersection(phenotype.index)
    values = table.loc[groups].to_numpy(dtype=np.float64)
    n = groups.size
    ranks = stats.rankdata(values, axis=0)
    target = stats.rankdata(phenotype.loc[groups].to_numpy(dtype=np.float64))
    ranks -= ranks.mean(0)
    target -= target.mean()
    denom = np.sqrt((ranks**2).sum(0) * (target**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.clip((ranks * target[:, None]).sum(0) / denom, -1.0, 1.0)
        t = rho * np.sqrt((n - 2) / np.maximum(1.0 - rho**2, 1e-300))
    p = 2.0 * stats.t.sf(np.abs(t), n - 2)
    undefined = denom == 0
    rho[undefined] = np.nan
    p[undefined] = np.nan
    if undefined.any():
        logger.info(
            "phenotype_association: %d gene(s) constant across groups, no correlation",
            int(undefined.sum()),
        )
    return pd.DataFrame({"rho": rho, "p": p, "q": benjamini_hochberg(p)}, index=table.columns)


def group_embedding(
    group_kernel: pd.DataFrame, phenotype: pd.Series, n_components: int = 2
) -> pd.DataFrame:
    """PCA of the group × group kernel: one point per group (Fig. 6b, e).

    Each group is described by its row of similarities to all groups; PCA of
    these rows (centred, scikit-learn) gives the coordinates.

    Parameters
    ----------
    group_kernel
        Symmetric ``(n_groups, n_groups)`` similarity (e.g. :func:`group_kernel`).
    phenotype
        Phenotype per group, copied into the output (as given, not coded).
    n_components
        Number of PCs. Default 2.

    Returns
    -------
    pd.DataFrame
        Columns ``group``, ``PC1``..``PC{n}``, ``phenotype``.
    """
    from sklearn.decomposition import PCA

    n_components = min(n_components, group_kernel.shape[0])
    coords = PCA(n_components=n_components).fit_transform(group_kernel.to_numpy(dtype=np.float64))
    out = pd.DataFrame(coords, columns=[f"PC{i + 1}" for i in range(n_components)])
    out.insert(0, "group", group_kernel.index.to_numpy())
    out["phenotype"] = phenotype.reindex(group_kernel.index).to_numpy()
    return out


def embedding_association(
    embedding: pd.DataFrame, coded_phenotype: pd.Series, kind: str
) -> pd.DataFrame:
    """Association of each PC of the group embedding with the phenotype.

    Spearman correlation for a continuous phenotype; two-sided Mann-Whitney U
    (case vs control) for a binary one.

    Parameters
    ----------
    embedding
        Output of :func:`group_embedding`.
    coded_phenotype
        Numeric phenotype per group (from :func:`encode_phenotype`).
    kind
        ``"continuous"`` or ``"binary"``.

    Returns
    -------
    pd.DataFrame
        One row per PC: ``component``, ``test``, ``statistic``, ``p``.
    """
    y = coded_phenotype.reindex(embedding["group"]).to_numpy(dtype=np.float64)
    rows = []
    for column in [c for c in embedding.columns if c.startswith("PC")]:
        x = embedding[column].to_numpy(dtype=np.float64)
        if kind == "binary":
            res = stats.mannwhitneyu(x[y == 1], x[y == 0], alternative="two-sided")
            rows.append((column, "mannwhitneyu", float(res.statistic), float(res.pvalue)))
        else:
            res = stats.spearmanr(x, y)
            rows.append((column, "spearman", float(res.statistic), float(res.pvalue)))
    return pd.DataFrame(rows, columns=["component", "test", "statistic", "p"])


def _split_groups(coded: pd.Series, kind: str) -> pd.Series:
    """1 = case (or above-median phenotype), 0 = control, per group."""
    if kind == "binary":
        return coded
    high = coded > coded.median()
    if high.all() or not high.any():
        raise ValueError("edge_association: the median split leaves one side empty")
    return high.astype(np.float64)


def edge_association(
    networks: Sequence,
    bin_groups: Sequence | Mapping | pd.Series,
    coded_phenotype: pd.Series,
    kind: str,
    genes: Sequence[str],
    gene_subset: Sequence[str],
    scope: str = "within",
    min_fraction: float = 0.2,
) -> pd.DataFrame:
    """Test each edge touching a gene set for association with the phenotype (Fig. 6d, f).

    Each group's weight for an edge is the fraction of its bins whose network
    contains it. Groups are split into case and control (a continuous
    phenotype is split at its median: above = "case"), and each edge's group
    weights are compared with a two-sided Wilcoxon rank-sum (Mann-Whitney U)
    test, Benjamini-Hochberg over the edges kept.

    Parameters
    ----------
    networks
        Adjacency matrices, one per bin, over ``genes`` (binarised).
    bin_groups
        Group of each bin, in the order of ``networks``.
    coded_phenotype
        Numeric phenotype per group (from :func:`encode_phenotype`).
    kind
        ``"continuous"`` or ``"binary"``.
    genes
        Gene names, the networks' node order.
    gene_subset
        Genes of the set of interest (e.g. the MT genes); names not in
        ``genes`` are ignored with a log line.
    scope
        ``"within"``: edges between two genes of the set; ``"incident"``:
        edges with at least one end in the set (the set and its neighbours).
    min_fraction
        Keep edges whose mean group weight is at least this in the case or in
        the control groups. Default 0.2 (the paper's 20%).

    Returns
    -------
    pd.DataFrame
        ``gene_a``, ``gene_b``, ``statistic`` (U of case vs control), ``p``,
        ``q``, ``frac_case``, ``frac_control``; sorted by ``p``.
    """
    if scope not in ("within", "incident"):
        raise ValueError(f"edge_association: scope must be 'within' or 'incident', got {scope!r}")
    genes = pd.Index(genes)
    present = [g for g in gene_subset if g in genes]
    if len(present) < len(gene_subset):
        logger.info(
            "edge_association: %d of %d set genes absent from the networks",
            len(gene_subset) - len(present),
            len(gene_subset),
        )
    columns = ["gene_a", "gene_b", "statistic", "p", "q", "frac_case", "frac_control"]
    if len(present) < (2 if scope == "within" else 1):
        logger.warning("edge_association: too few set genes in the data (%d)", len(present))
        return pd.DataFrame(columns=columns)
    rows_idx = np.sort(genes.get_indexer(present))
    groups = np.asarray(
        list(bin_groups.values()) if isinstance(bin_groups, Mapping) else bin_groups
    )
    group_names = [g for g in coded_phenotype.index if g in set(groups.astype(str))]
    side = _split_groups(coded_phenotype.loc[group_names], kind)

    # Group weight of each candidate edge: mean over the group's bins of the 0/1 entry.
    weights = np.zeros((len(group_names), rows_idx.size, genes.size))
    for k, name in enumerate(group_names):
        members = [i for i, g in enumerate(groups.astype(str)) if g == name]
        for i in members:
            block = sp.csr_matrix(networks[i])[rows_idx].toarray() != 0
            weights[k] += block
        weights[k] /= len(members)
    if scope == "within":
        a, b = np.triu_indices(rows_idx.size, k=1)
        pairs = np.column_stack([rows_idx[a], rows_idx[b]])
        values = weights[:, a, rows_idx[b]]
    else:
        # Every (set gene, other gene) pair once: set-set pairs only with a < b.
        r, c = np.nonzero(np.ones((rows_idx.size, genes.size), dtype=bool))
        keep = (c != rows_idx[r]) & ~(np.isin(c, rows_idx) & (c < rows_idx[r]))
        r, c = r[keep], c[keep]
        pairs = np.column_stack([rows_idx[r], c])
        values = weights[:, r, c]
    case = side.to_numpy() == 1
    frac_case = values[case].mean(0)
    frac_control = values[~case].mean(0)
    kept = np.maximum(frac_case, frac_control) >= min_fraction
    logger.info(
        "edge_association: %d of %d candidate edges present in >= %.0f%% of case or control "
        "networks",
        int(kept.sum()),
        kept.size,
        100 * min_fraction,
    )
    if not kept.any():
        return pd.DataFrame(columns=columns)
    values, pairs = values[:, kept], pairs[kept]
    res = stats.mannwhitneyu(values[case], values[~case], alternative="two-sided", axis=0)
    p = np.asarray(res.pvalue, dtype=np.float64)
    p[np.all(values == values[:1], axis=0)] = 1.0  # identical everywhere: no evidence at all
    out = pd.DataFrame(
        {
            "gene_a": genes[pairs[:, 0]],
            "gene_b": genes[pairs[:, 1]],
            "statistic": np.asarray(res.statistic, dtype=np.float64),
            "p": p,
            "q": benjamini_hochberg(p),
            "frac_case": frac_case[kept],
            "frac_control": frac_control[kept],
        }
    )
    return out.sort_values(["p", "gene_a", "gene_b"], kind="stable").reset_index(drop=True)
