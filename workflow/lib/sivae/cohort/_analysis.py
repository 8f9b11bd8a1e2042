"""The whole cohort analysis of Fig. 6 from per-bin gene embeddings and centralities.

Steps (paper Methods, NeurDiff and DementiaDataset):

1. one gene network per bin: the closest gene pairs in the bin's embedding;
2. WL kernel between bin networks, averaged into a group × group kernel;
   PCA of it → group embedding; each PC tested against the phenotype;
3. degree centrality averaged over each group's bins; per gene, Spearman
   with the phenotype across groups (BH), and the same for mean expression;
4. GSEA prerank of the centrality correlations (local gene sets + ``MT-`` set);
5. edges touching a chosen gene set tested between case and control groups.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ._gsea import gsea_prerank, resolve_gene_sets
from ._networks import gene_network, group_kernel, wl_kernel
from ._stats import (
    edge_association,
    embedding_association,
    encode_phenotype,
    group_embedding,
    phenotype_association,
)

logger = logging.getLogger(__name__)

__all__ = ["centrality_table", "run_cohort_analysis"]


def centrality_table(
    centralities: Mapping[str, pd.Series], bin_groups: Mapping | pd.Series
) -> pd.DataFrame:
    """Mean degree centrality over each group's bins.

    Parameters
    ----------
    centralities
        Bin name → Series of centrality per gene (same genes in every bin).
    bin_groups
        Bin name → group.

    Returns
    -------
    pd.DataFrame
        ``(n_groups, n_genes)``, index = groups (sorted), columns = genes.
    """
    bin_groups = pd.Series(bin_groups)
    frame = pd.DataFrame({b: pd.Series(c) for b, c in centralities.items()}).T
    return frame.groupby(bin_groups.reindex(frame.index).to_numpy()).mean().sort_index()


def _check_bins(gene_embeddings, centralities, bin_groups):
    if bin_groups is None:
        raise ValueError("run_cohort_analysis: bin_groups (bin name -> group) is required")
    bin_groups = pd.Series(bin_groups).astype(str)
    bins = list(gene_embeddings)
    missing = [b for b in bins if b not in centralities or b not in bin_groups.index]
    if missing:
        raise ValueError(
            f"run_cohort_analysis: bins {missing[:5]} lack a centrality or a group "
            f"({len(missing)} in all)"
        )
    genes = pd.Index(pd.DataFrame(gene_embeddings[bins[0]]).index.astype(str))
    for b in bins:
        if not pd.Index(pd.DataFrame(gene_embeddings[b]).index.astype(str)).equals(genes) or not (
            pd.Index(pd.Series(centralities[b]).index.astype(str)).equals(genes)
        ):
            raise ValueError(
                f"run_cohort_analysis: bin {b!r} does not list the same genes in the same order "
                "as the first bin (embeddings and centralities must share one gene index)"
            )
    return bins, bin_groups, genes


def run_cohort_analysis(
    gene_embeddings: Mapping[str, pd.DataFrame],
    centralities: Mapping[str, pd.Series],
    bin_groups: Mapping[str, str] | pd.Series,
    phenotype: pd.Series,
    mean_expression: pd.DataFrame | None = None,
    gene_sets: Mapping | str | os.PathLike | None = None,
    edge_gene_set: str | Sequence[str] = "MT",
    edge_scope: str = "within",
    top_fraction: float = 0.01,
    threshold: float | None = None,
    metric: str = "euclidean",
    node_label: str = "degree",
    n_iter: int = 5,
    n_components: int = 2,
    mt_prefix: str | None = "MT-",
    case_label=None,
    min_size: int = 5,
    max_size: int = 500,
    permutation_num: int = 1000,
    min_edge_fraction: float = 0.2,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """Run the cohort analysis (Fig. 6) and return its tables.

    Parameters
    ----------
    gene_embeddings
        Bin name → ``(n_genes, K)`` DataFrame indexed by gene (e.g. siVAE
        loadings of the bin); every bin has the same genes in the same order.
    centralities
        Bin name → Series of degree centrality per gene.
    bin_groups
        Bin name → group (cell line / donor).
    phenotype
        Phenotype per group (index = group): continuous (e.g. efficiency) or
        binary (case/control).
    mean_expression
        Optional ``(n_groups, n_genes)`` mean expression per group (the control
        test). ``None`` leaves the ``mean_*`` columns NaN.
    gene_sets
        Dict or local ``.gmt`` path (never downloaded); the ``MT-`` prefix set
        is added as ``"MT"`` (see ``mt_prefix``).
    edge_gene_set
        Name of a gene set (after resolution, e.g. ``"MT"``) or a list of genes
        whose edges are tested.
    edge_scope
        ``"within"`` (edges inside the set) or ``"incident"`` (set and neighbours).
    top_fraction, threshold, metric
        Network construction, see :func:`gene_network`. ``metric="euclidean"``
        (default) is the paper's closest pairs; ``"cosine"`` is what made the
        group embedding follow the phenotype with siVAE bins on the simulated
        cohort (see ``tests/test_cohort_science.py``).
    node_label, n_iter
        WL kernel options, see :func:`wl_kernel`.
    n_components
        PCs of the group embedding. Default 2.
    mt_prefix
        Prefix of the automatic MT set; ``None`` adds none.
    case_label
        Case value of a binary phenotype (see :func:`encode_phenotype`).
    min_size, max_size, permutation_num
        GSEA options, see :func:`gsea_prerank`.
    min_edge_fraction
        Edge prevalence filter for the edge test. Default 0.2.
    seed
        GSEA permutation seed.

    Returns
    -------
    dict of pd.DataFrame
        ``group_embedding`` (group, PC1, PC2, phenotype), ``pc_association``
        (component, test, statistic, p), ``group_kernel`` (groups × groups),
        ``centrality`` (groups × genes), ``centrality_phenotype`` (gene, rho, p,
        q, mean_rho, mean_p, mean_q), ``gsea`` (Term, NES, NOM p-val, FDR q-val,
        Lead_genes, n_genes, n_overlap, status), ``edges`` (gene_a, gene_b,
        statistic, p, q, frac_case, frac_control).

    Raises
    ------
    ValueError
        Fewer than 4 groups with bins and a phenotype, a constant phenotype,
        or inconsistent bins.
    """
    bins, bin_groups, genes = _check_bins(gene_embeddings, centralities, bin_groups)
    phenotype = pd.Series(phenotype)
    phenotype.index = phenotype.index.astype(str)
    with_bins = set(bin_groups.loc[bins])
    no_bins = [g for g in phenotype.index if g not in with_bins]
    if no_bins:
        logger.warning(
            "cohort: %d group(s) have no bin (fewer cells than one bin?) and are dropped: %s",
            len(no_bins),
            no_bins[:10],
        )
    no_pheno = sorted(with_bins - set(phenotype.dropna().index))
    if no_pheno:
        logger.warning(
            "cohort: %d group(s) have bins but no phenotype, dropped: %s",
            len(no_pheno),
            no_pheno[:10],
        )
    phenotype = phenotype.loc[[g for g in phenotype.index if g in with_bins]]
    coded, kind = encode_phenotype(phenotype, case_label=case_label)
    phenotype = phenotype.loc[coded.index]
    bins = [b for b in bins if bin_groups[b] in coded.index]
    groups_of_bins = bin_groups.loc[bins].to_numpy()
    logger.info("cohort: %d bins of %d groups, %s phenotype", len(bins), coded.size, kind)

    # 1-2. networks, kernel, group embedding
    networks = [
        gene_network(
            gene_embeddings[b], top_fraction=top_fraction, threshold=threshold, metric=metric
        )
        for b in bins
    ]
    kernel = wl_kernel(networks, node_label=node_label, n_iter=n_iter, normalize=True)
    kernel_groups = group_kernel(kernel, groups_of_bins)
    embedding = group_embedding(kernel_groups, phenotype, n_components=n_components)
    pc_association = embedding_association(embedding, coded, kind)

    # 3. per-gene association of centrality (and of mean expression, the control)
    centrality = centrality_table({b: centralities[b] for b in bins}, bin_groups.loc[bins])
    assoc = phenotype_association(centrality, coded)
    if mean_expression is not None:
        mean_expression = pd.DataFrame(mean_expression)
        mean_expression.index = mean_expression.index.astype(str)
        absent = [g for g in coded.index if g not in mean_expression.index]
        if absent:
            raise ValueError(f"run_cohort_analysis: mean_expression lacks groups {absent[:10]}")
        mean_assoc = phenotype_association(mean_expression.reindex(columns=genes), coded)
    else:
        logger.info("cohort: no mean expression given; mean_* columns left NaN")
        mean_assoc = pd.DataFrame(np.nan, index=genes, columns=["rho", "p", "q"])
    table = assoc.join(mean_assoc.add_prefix("mean_"))
    table.insert(0, "gene", table.index.to_numpy())
    table = table.reset_index(drop=True)

    # 4. GSEA on the centrality correlations
    sets = resolve_gene_sets(gene_sets, genes, mt_prefix=mt_prefix)
    gsea = gsea_prerank(
        assoc["rho"],
        sets,
        min_size=min_size,
        max_size=max_size,
        permutation_num=permutation_num,
        seed=seed,
    )

    # 5. edges of the chosen gene set
    if isinstance(edge_gene_set, str):
        if edge_gene_set not in sets:
            raise ValueError(
                f"run_cohort_analysis: edge_gene_set {edge_gene_set!r} is not a gene set; "
                f"available: {sorted(sets)[:20]}"
            )
        subset = sets[edge_gene_set]
    else:
        subset = [str(g) for g in edge_gene_set]
    edges = edge_association(
        networks,
        groups_of_bins,
        coded,
        kind,
        genes,
        subset,
        scope=edge_scope,
        min_fraction=min_edge_fraction,
    )
    return {
        "group_embedding": embedding,
        "pc_association": pc_association,
        "group_kernel": kernel_groups,
        "centrality": centrality,
        "centrality_phenotype": table,
        "gsea": gsea,
        "edges": edges,
    }
