"""Gene sets (local GMT files, the automatic ``MT-`` set) and offline GSEA prerank.

gseapy treats a ``gene_sets`` string that is not an existing file as an Enrichr
library name and downloads it; this module only ever hands gseapy a dict, so
the analysis never touches the network.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

__all__ = ["read_gmt", "resolve_gene_sets", "gsea_prerank", "GSEA_COLUMNS"]

#: Columns of the GSEA table (contract), followed by bookkeeping columns.
GSEA_COLUMNS = ["Term", "NES", "NOM p-val", "FDR q-val", "Lead_genes"]


def read_gmt(path: str | os.PathLike) -> dict[str, list[str]]:
    """Read a GMT file: one set per line, ``name<TAB>description<TAB>gene<TAB>gene...``.

    Parameters
    ----------
    path
        Local ``.gmt`` file.

    Returns
    -------
    dict
        Set name → list of genes (empty fields dropped, order kept, duplicates removed).

    Raises
    ------
    FileNotFoundError
        If ``path`` is not an existing file.
    ValueError
        If a non-blank line has fewer than two tab-separated fields, or a set
        name repeats.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"gene set file {str(path)!r} does not exist")
    gene_sets: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) < 2:
                raise ValueError(
                    f"gene set file {str(path)!r}, line {line_no}: expected "
                    "'name<TAB>description<TAB>genes...', found no tab"
                )
            name = fields[0].strip()
            if name in gene_sets:
                raise ValueError(f"gene set file {str(path)!r}: set {name!r} appears twice")
            gene_sets[name] = list(dict.fromkeys(g.strip() for g in fields[2:] if g.strip()))
    logger.info("read %d gene sets from %s", len(gene_sets), path)
    return gene_sets


def resolve_gene_sets(
    gene_sets: Mapping | str | os.PathLike | None,
    genes,
    mt_prefix: str | None = "MT-",
    mt_set_name: str = "MT",
) -> dict[str, list[str]]:
    """Gene sets as a dict, plus the set of all genes starting with ``mt_prefix``.

    Parameters
    ----------
    gene_sets
        Dict name → genes, a path to a local ``.gmt`` file, or ``None``.
        A string that is not an existing file is an error (never a download).
    genes
        Genes of the data (to build the prefix set).
    mt_prefix
        Prefix of mitochondrial genes, matched case-insensitively (``MT-``
        human, ``mt-`` mouse); ``None`` adds no set.
    mt_set_name
        Name of the added set. A set of that name in ``gene_sets`` is replaced
        (logged).

    Returns
    -------
    dict
        Set name → list of genes.
    """
    if gene_sets is None:
        resolved: dict[str, list[str]] = {}
    elif isinstance(gene_sets, Mapping):
        resolved = {str(k): [str(g) for g in v] for k, v in gene_sets.items()}
    elif isinstance(gene_sets, str | os.PathLike):
        resolved = read_gmt(gene_sets)
    else:
        raise ValueError(
            f"gene_sets must be a dict, a path to a local .gmt file or None, "
            f"got {type(gene_sets).__name__}"
        )
    if mt_prefix:
        mt_genes = [str(g) for g in genes if str(g).upper().startswith(mt_prefix.upper())]
        if not mt_genes:
            logger.warning(
                "no gene starts with %r: the %s set is not added", mt_prefix, mt_set_name
            )
        else:
            if mt_set_name in resolved:
                logger.warning("gene set %r replaced by the %r prefix set", mt_set_name, mt_prefix)
            resolved[mt_set_name] = mt_genes
    return resolved


def gsea_prerank(
    scores: pd.Series,
    gene_sets: Mapping[str, list[str]],
    min_size: int = 5,
    max_size: int = 500,
    permutation_num: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """GSEA prerank (gseapy) of a per-gene score, offline; untested sets are reported.

    Parameters
    ----------
    scores
        Score per gene (index = gene), e.g. the Spearman correlation of degree
        centrality with the phenotype. NaN scores are dropped (logged).
    gene_sets
        Set name → genes (see :func:`resolve_gene_sets`).
    min_size, max_size
        Sets with fewer / more genes in the data are not tested. ``min_size``
        defaults to 5, not gseapy's 15, so that the 13-gene ``MT-`` set is tested.
    permutation_num
        Gene-set permutations for the nominal p-values. Default 1000.
    seed
        Permutation seed.

    Returns
    -------
    pd.DataFrame
        One row per gene set: ``Term``, ``NES``, ``NOM p-val``, ``FDR q-val``,
        ``Lead_genes`` (``;``-separated), then ``n_genes`` (set size),
        ``n_overlap`` (genes in the data) and ``status`` (``tested``,
        ``no overlap``, ``too small``, ``too large``). Untested sets have NaN
        statistics. Tested sets come first, by FDR q-value, NOM p-value, then
        decreasing ``|NES|`` (permutation p-values of 0 tie).
    """
    import gseapy

    scores = pd.Series(scores, dtype=np.float64)
    if scores.isna().any():
        logger.info("gsea_prerank: dropping %d genes with no score", int(scores.isna().sum()))
        scores = scores.dropna()
    scores.index = scores.index.astype(str)
    in_data = set(scores.index)
    rows = []
    tested: dict[str, list[str]] = {}
    for term, members in gene_sets.items():
        overlap = [g for g in members if g in in_data]
        if not overlap:
            status = "no overlap"
        elif len(overlap) < min_size:
            status = "too small"
        elif len(overlap) > max_size:
            status = "too large"
        else:
            status = "tested"
            tested[term] = overlap
        rows.append(
            {"Term": term, "n_genes": len(members), "n_overlap": len(overlap), "status": status}
        )
    table = pd.DataFrame(rows, columns=["Term", "n_genes", "n_overlap", "status"])
    for status in ("no overlap", "too small", "too large"):
        terms = table.loc[table["status"] == status, "Term"].tolist()
        if terms:
            logger.warning(
                "gsea_prerank: %d gene set(s) not tested (%s): %s", len(terms), status, terms[:20]
            )
    result = pd.DataFrame(columns=GSEA_COLUMNS)
    if tested:
        ranking = scores.sort_values(ascending=False, kind="stable")
        res = gseapy.prerank(
            rnk=ranking,
            gene_sets=tested,  # a dict: gseapy never looks anything up online
            min_size=1,
            max_size=max(len(v) for v in tested.values()),
            permutation_num=permutation_num,
            seed=seed,
            threads=1,
            outdir=None,
            no_plot=True,
            verbose=False,
        ).res2d
        result = res[GSEA_COLUMNS].copy()
        for column in ("NES", "NOM p-val", "FDR q-val"):
            result[column] = pd.to_numeric(result[column], errors="coerce")
    else:
        logger.warning("gsea_prerank: no gene set could be tested")
    table = table.merge(result, on="Term", how="left")
    table["tested"] = table["status"] == "tested"
    table["abs_nes"] = table["NES"].abs()
    table = table.sort_values(
        ["tested", "FDR q-val", "NOM p-val", "abs_nes"],
        ascending=[False, True, True, False],
        kind="stable",
    )
    return table[[*GSEA_COLUMNS, "n_genes", "n_overlap", "status"]].reset_index(drop=True)
