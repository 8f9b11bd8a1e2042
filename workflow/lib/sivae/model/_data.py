"""Data access for training: minibatches of dense, CSR or backed matrices.

The full matrix is never densified. Rows are read per minibatch (sorted, as
h5py needs), moved to the device as they are (dense or CSR) and densified,
log-transformed (NB models) and standardised there. Per-gene statistics and the
feature-side input ``X[:, f]`` (``C_red`` columns) are computed in row chunks
(sparse chunks stay sparse).

On a GPU with room for it, :class:`DeviceMatrix` holds the whole matrix on the
device (CSR stays CSR) and a minibatch is a gather there: reading random rows
of a backed ``.h5ad`` from the host costs far more than a training step.
"""

import logging
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

logger = logging.getLogger(__name__)

_CHUNK_ELEMENTS = 2**24  # dense elements per chunk when streaming over rows


class CellMatrix:
    """Row access to a cells × genes matrix (numpy, scipy sparse, or backed h5ad).

    Parameters
    ----------
    matrix
        ``adata.X`` or a layer: ``np.ndarray``, scipy sparse, ``h5py.Dataset`` or
        an anndata backed sparse dataset.
    name
        How the matrix is named in error messages (e.g. ``"layer 'counts'"``).
    """

    def __init__(self, matrix, name: str = "X") -> None:
        if sp.issparse(matrix) and not sp.isspmatrix_csr(matrix) and matrix.format != "csr":
            logger.info("converting %s from %s to CSR for row access", name, matrix.format)
            matrix = sp.csr_matrix(matrix)
        self.matrix = matrix
        self.name = name
        self.shape = tuple(int(n) for n in matrix.shape)

    @property
    def n_cells(self) -> int:
        return self.shape[0]

    def rows(self, idx: np.ndarray):
        """Rows ``idx`` in the given order, as a dense array or a CSR matrix."""
        idx = np.asarray(idx, dtype=np.int64)
        order = np.argsort(idx, kind="stable")
        if np.array_equal(order, np.arange(idx.size)):
            return self.matrix[idx]
        block = self.matrix[idx[order]]  # h5py needs increasing indices
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)
        return block[inverse]

    @property
    def is_sparse(self) -> bool:
        return sp.issparse(self.matrix) or hasattr(self.matrix, "format")  # anndata backed CSR

    def nnz(self) -> int:
        """Stored entries: non-zeros of a sparse matrix, all cells × genes of a dense one."""
        if not self.is_sparse:
            return self.shape[0] * self.shape[1]
        if sp.issparse(self.matrix):
            return int(self.matrix.nnz)
        return int(self.matrix.group["indptr"][-1])  # backed: no need to read the data

    def chunks(
        self, chunk_rows: int | None = None, keep_sparse: bool = False
    ) -> Iterator[tuple[int, np.ndarray | sp.csr_matrix]]:
        """Yield ``(start, block)`` over consecutive row blocks.

        Blocks are dense float64, or float64 CSR when ``keep_sparse`` and the
        matrix is sparse (then chunks hold about as many non-zeros as a dense
        chunk holds elements).
        """
        sparse = keep_sparse and self.is_sparse
        if chunk_rows is None:
            per_row = self.nnz() / max(1, self.n_cells) if sparse else self.shape[1]
            chunk_rows = max(1, int(_CHUNK_ELEMENTS // max(1.0, per_row)))
        for start in range(0, self.n_cells, chunk_rows):
            block = self.matrix[start : start + chunk_rows]
            if sparse:
                yield start, sp.csr_matrix(block, dtype=np.float64)
            else:
                yield start, densify(block, np.float64)


def densify(block, dtype=np.float32) -> np.ndarray:
    """Dense ``numpy`` copy of a (possibly sparse) block."""
    if sp.issparse(block):
        return block.toarray().astype(dtype, copy=False)
    return np.asarray(block, dtype=dtype)


def to_device(block, device: torch.device) -> torch.Tensor:
    """Move a dense or CSR block to ``device`` and densify it there (float32)."""
    if sp.issparse(block):
        block = sp.csr_matrix(block)
        # scatter the non-zeros into a dense tensor on the device (only nnz values travel)
        counts = torch.from_numpy(np.diff(block.indptr).astype(np.int64)).to(device)
        rows = torch.repeat_interleave(torch.arange(block.shape[0], device=device), counts)
        cols = torch.from_numpy(block.indices.astype(np.int64)).to(device)
        dense = torch.zeros(block.shape, dtype=torch.float32, device=device)
        dense[rows, cols] = torch.from_numpy(block.data.astype(np.float32)).to(device)
        return dense
    return torch.as_tensor(np.asarray(block, dtype=np.float32)).to(device)


class DeviceMatrix:
    """The whole cells × genes matrix on one device, for minibatch gathers there.

    Dense matrices become one float32 tensor; sparse ones stay CSR (float32
    values, int32 column indices, int64 row pointers), copied in row chunks so
    that neither host nor device ever holds them dense. :meth:`rows` returns the
    same float32 values as ``to_device(cells.rows(idx))``.

    Parameters
    ----------
    cells
        The matrix (in memory or backed).
    device
        Where to keep it.
    """

    def __init__(self, cells: CellMatrix, device: torch.device) -> None:
        self.shape, self.device = cells.shape, torch.device(device)
        self.sparse = cells.is_sparse
        if not self.sparse:
            self.dense = torch.empty(self.shape, dtype=torch.float32, device=self.device)
            for start, block in cells.chunks():
                stop = start + block.shape[0]
                self.dense[start:stop] = torch.as_tensor(block, dtype=torch.float32)
            return
        nnz = cells.nnz()
        self.values = torch.empty(nnz, dtype=torch.float32, device=self.device)
        self.columns = torch.empty(nnz, dtype=torch.int32, device=self.device)
        indptr = np.zeros(cells.n_cells + 1, dtype=np.int64)
        offset = 0
        for start, block in cells.chunks(keep_sparse=True):
            n = block.nnz
            self.values[offset : offset + n] = torch.as_tensor(block.data, dtype=torch.float32)
            self.columns[offset : offset + n] = torch.as_tensor(block.indices, dtype=torch.int32)
            ends = offset + block.indptr[1:].astype(np.int64)  # beyond 2^31 at atlas scale
            indptr[start + 1 : start + 1 + block.shape[0]] = ends
            offset += n
        if offset != nnz:
            raise ValueError(f"{cells.name}: read {offset} non-zeros, expected {nnz}")
        self.indptr = torch.as_tensor(indptr, device=self.device)

    @staticmethod
    def nbytes(cells: CellMatrix) -> int:
        """Device memory the matrix would take."""
        if not cells.is_sparse:
            return 4 * cells.shape[0] * cells.shape[1]
        return 8 * cells.nnz() + 8 * (cells.n_cells + 1)

    def rows(self, idx: torch.Tensor) -> torch.Tensor:
        """Dense float32 ``(len(idx), n_genes)`` rows ``idx`` (a tensor on the device)."""
        if not self.sparse:
            return self.dense[idx]
        starts = self.indptr[idx]
        counts = self.indptr[idx + 1] - starts
        ends = torch.cumsum(counts, 0)
        total = int(ends[-1]) if idx.numel() else 0  # one sync: the gather's size
        batch_row = torch.repeat_interleave(
            torch.arange(idx.numel(), device=self.device), counts, output_size=total
        )
        # position of each gathered entry in the CSR arrays: row start + offset in row
        within = torch.arange(total, device=self.device) - (ends - counts)[batch_row]
        source = starts[batch_row] + within
        dense = torch.zeros((idx.numel(), self.shape[1]), dtype=torch.float32, device=self.device)
        dense[batch_row, self.columns[source].long()] = self.values[source]
        return dense


def place_on_device(cells: CellMatrix, device: torch.device, option: bool | str) -> bool:
    """Whether to hold ``cells`` on ``device`` (:class:`DeviceMatrix`).

    ``"auto"``: on CUDA when it takes at most half of the free device memory;
    never on the CPU, where the host path reads rows in place (a backed file is
    not loaded into memory).
    """
    if option != "auto":
        return bool(option)
    if device.type != "cuda":
        return False
    free, _ = torch.cuda.mem_get_info(device)
    fits = DeviceMatrix.nbytes(cells) <= 0.5 * free
    if not fits:
        logger.info(
            "%s (%.1f GB) does not fit in half the free GPU memory: minibatches come from the host",
            cells.name,
            DeviceMatrix.nbytes(cells) / 1e9,
        )
    return fits


def device_copy(cells: CellMatrix, device: torch.device, option: bool | str) -> DeviceMatrix | None:
    """A :class:`DeviceMatrix` of ``cells`` when :func:`place_on_device` says so, else None."""
    if not place_on_device(cells, device, option):
        return None
    tic = time.perf_counter()
    copy = DeviceMatrix(cells, device)
    logger.info(
        "%s copied to %s (%.2f GB) in %.1f s",
        cells.name,
        device,
        DeviceMatrix.nbytes(cells) / 1e9,
        time.perf_counter() - tic,
    )
    return copy


class InputTransform:
    """Per-gene ``(log1p(x) − mean) / std`` applied to dense blocks (numpy or torch).

    Parameters
    ----------
    mean, std
        Per-gene statistics of the (log-transformed) data, shape ``(F,)``.
    log1p
        Apply ``log1p`` first (count data for NB models).
    """

    def __init__(self, mean: np.ndarray, std: np.ndarray, log1p: bool) -> None:
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        self.log1p = bool(log1p)
        self._cache: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def numpy(self, block: np.ndarray) -> np.ndarray:
        x = np.log1p(block) if self.log1p else block
        return (x - self.mean) / self.std

    def tensors(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """``(shift, inv_std) = (−mean/std, 1/std)`` as float32 tensors on ``device``."""
        if device not in self._cache:
            self._cache[device] = (
                torch.as_tensor(-self.mean / self.std, dtype=torch.float32, device=device),
                torch.as_tensor(1.0 / self.std, dtype=torch.float32, device=device),
            )
        return self._cache[device]

    def torch(self, x: torch.Tensor) -> torch.Tensor:
        return standardise(x, *self.tensors(x.device), self.log1p)


def standardise(
    x: torch.Tensor, shift: torch.Tensor, inv_std: torch.Tensor, log1p: bool
) -> torch.Tensor:
    """``(log1p(x) − mean) / std`` written as ``x · inv_std + shift``: one fused pass.

    ``shift`` and ``inv_std`` come from :meth:`InputTransform.tensors`; taking them
    as arguments lets ``vmap`` apply a different standardisation per model.
    """
    if log1p:
        x = torch.log1p(x)
    return torch.addcmul(shift, x, inv_std)


def gene_statistics(cells: CellMatrix, log1p: bool, scale: bool | str) -> InputTransform:
    """Check the matrix and compute the per-gene standardisation (one pass in chunks).

    ``scale="auto"`` standardises unless the matrix already looks scaled (dense with
    negative values, as after ``sc.pp.scale``), in which case it is used as is.
    Raises ``ValueError`` on NaN/Inf, on an empty matrix, and on negative counts
    when ``log1p`` (NB models).
    """
    n_cells, n_genes = cells.shape
    if n_cells == 0 or n_genes == 0:
        raise ValueError(f"{cells.name} is empty ({n_cells} cells × {n_genes} genes)")
    total = np.zeros(n_genes)
    total_sq = np.zeros(n_genes)
    minimum = np.inf
    for start, block in cells.chunks(keep_sparse=True):
        values = block.data if sp.issparse(block) else block
        if not np.isfinite(values).all():
            if sp.issparse(block):
                bad = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr))
                rows = start + bad[~np.isfinite(values)]
            else:
                rows = start + np.flatnonzero(~np.isfinite(block).all(axis=1))
            raise ValueError(
                f"{cells.name} contains NaN or Inf values (first in cell row {rows[0]})"
            )
        if values.size:
            minimum = min(minimum, float(values.min()))
        if sp.issparse(block) and block.nnz < block.shape[0] * block.shape[1]:
            minimum = min(minimum, 0.0)  # implicit zeros
        if log1p and minimum < 0:
            raise ValueError(
                f"{cells.name} has negative values; the NB likelihood needs raw counts"
            )
        if sp.issparse(block):
            # log1p(0) = 0: transform and square the stored values only
            data = np.log1p(block.data) if log1p else block.data
            total += np.bincount(block.indices, weights=data, minlength=n_genes)
            total_sq += np.bincount(block.indices, weights=data * data, minlength=n_genes)
            continue
        if log1p:
            block = np.log1p(block)
        total += block.sum(axis=0)
        total_sq += (block * block).sum(axis=0)
    mean = total / n_cells
    std = np.sqrt(np.maximum(total_sq / n_cells - mean * mean, 0.0))
    if scale == "auto":
        scale = log1p or cells.is_sparse or minimum >= 0
        if not scale:
            logger.info("%s has negative values: treated as already scaled", cells.name)
    if not scale:
        return InputTransform(np.zeros(n_genes), np.ones(n_genes), log1p)
    constant = std < 1e-8
    if constant.any():
        logger.info(
            "%d constant genes in %s are centred but not scaled", constant.sum(), cells.name
        )
        std[constant] = 1.0
    return InputTransform(mean, std, log1p)


# --------------------------------------------------------------------- covariates
def fit_covariates(obs: pd.DataFrame, batch_key: str | None, continuous_keys) -> dict:
    """Describe the covariate vector ``s_c``: batch one-hot + standardised continuous keys."""
    info: dict = {"batch_key": batch_key, "categories": [], "continuous_keys": []}
    info["continuous_mean"], info["continuous_std"] = [], []
    if batch_key is not None:
        values = _obs_column(obs, batch_key)
        if values.isna().any():
            raise ValueError(f"obs['{batch_key}'] (batch_key) has missing values")
        info["categories"] = sorted(values.astype(str).unique().tolist())
    for key in continuous_keys or ():
        values = pd.to_numeric(_obs_column(obs, key), errors="coerce").to_numpy(float)
        if not np.isfinite(values).all():
            raise ValueError(f"obs['{key}'] (continuous covariate) is not numeric and finite")
        info["continuous_keys"].append(key)
        info["continuous_mean"].append(float(values.mean()))
        info["continuous_std"].append(float(values.std()) or 1.0)
    return info


def encode_covariates(obs: pd.DataFrame, info: dict) -> np.ndarray:
    """Covariate matrix ``(n_cells, n_cov)`` float32 for ``obs`` following ``info``."""
    parts = []
    if info["batch_key"] is not None:
        values = _obs_column(obs, info["batch_key"]).astype(str)
        cats = pd.Categorical(values, categories=info["categories"])
        unknown = sorted(set(values[np.asarray(cats.codes) < 0]))
        if unknown:
            raise ValueError(
                f"obs['{info['batch_key']}'] has categories unseen in training: {unknown[:5]}"
            )
        parts.append(np.eye(len(info["categories"]), dtype=np.float32)[cats.codes])
    for key, mean, std in zip(
        info["continuous_keys"], info["continuous_mean"], info["continuous_std"], strict=True
    ):
        values = pd.to_numeric(_obs_column(obs, key), errors="coerce").to_numpy(float)
        if not np.isfinite(values).all():
            raise ValueError(f"obs['{key}'] (continuous covariate) is not numeric and finite")
        parts.append(((values - mean) / std).astype(np.float32)[:, None])
    if not parts:
        return np.zeros((len(obs), 0), dtype=np.float32)
    return np.concatenate(parts, axis=1)


def _obs_column(obs: pd.DataFrame, key: str) -> pd.Series:
    if key not in obs.columns:
        raise ValueError(f"obs has no column '{key}' (available: {list(obs.columns)[:10]})")
    return obs[key]


# --------------------------------------------------------------------- feature input
def stratified_subsample(
    n_cells: int, n: int, labels: np.ndarray | None, rng: np.random.Generator
) -> np.ndarray:
    """Sorted indices of ``n`` cells keeping the label proportions (largest remainders)."""
    if n >= n_cells:
        return np.arange(n_cells)
    if labels is None:
        return np.sort(rng.choice(n_cells, size=n, replace=False))
    codes, uniques = pd.factorize(pd.Series(labels).astype(str), sort=True)
    counts = np.bincount(codes, minlength=len(uniques))
    quota = counts * n / n_cells
    take = np.floor(quota).astype(int)
    extra = n - take.sum()
    take[np.argsort(-(quota - take), kind="stable")[:extra]] += 1
    chosen = [
        rng.choice(np.flatnonzero(codes == k), size=t, replace=False) for k, t in enumerate(take)
    ]
    return np.sort(np.concatenate(chosen))


def feature_input(
    cells: CellMatrix,
    transform: InputTransform,
    method: str,
    n_features_in: int,
    labels: np.ndarray | None,
    seed: int,
) -> np.ndarray:
    """The feature encoder's input: genes × ``C_red`` (float32).

    ``"full"`` uses every cell, ``"subsample"`` ``C_red`` cells stratified by
    ``labels``, ``"pca"`` the first ``C_red`` principal-component scores of
    ``Xᵀ`` (genes are the samples; centred across genes, not whitened).
    """
    rng = np.random.default_rng(seed)
    n_cells = cells.n_cells
    if method == "full" or (method == "subsample" and n_features_in >= n_cells):
        idx = np.arange(n_cells)
    elif method == "subsample":
        idx = stratified_subsample(n_cells, n_features_in, labels, rng)
    elif method == "pca":
        return pca_of_transpose(cells, transform, n_features_in, rng).astype(np.float32)
    else:
        raise ValueError(f"feature_input must be 'subsample', 'pca' or 'full', got {method!r}")
    block = transform.numpy(densify(cells.rows(idx), np.float64))
    return np.ascontiguousarray(block.T, dtype=np.float32)


def pca_of_transpose(
    cells: CellMatrix,
    transform: InputTransform,
    n_components: int,
    rng: np.random.Generator,
    n_iter: int = 4,
    oversample: int = 10,
) -> np.ndarray:
    """Randomised PCA of ``Mᵀ`` = standardised ``X`` transposed, in row chunks.

    ``M = Xsᵀ − 1 mᵀ`` (genes × cells) with ``m_c`` the mean of cell ``c`` over
    genes. Products with ``M`` and ``Mᵀ`` are accumulated chunk by chunk so the
    full matrix is never dense; the top eigenpairs of ``Qᵀ M Mᵀ Q`` (k × k) give
    the scores ``U S`` (genes × ``n_components``).
    """
    n_genes = cells.shape[1]
    limit = min(n_genes, cells.n_cells)
    if n_components > limit:
        logger.info("PCA feature input: %d components requested, using %d", n_components, limit)
        n_components = limit
    k = min(n_components + oversample, limit)

    def chunks():
        for _, block in cells.chunks():
            xs = transform.numpy(block)
            yield xs, xs.mean(axis=1)

    y = np.zeros((n_genes, k))
    for xs, m in chunks():
        omega = rng.standard_normal((xs.shape[0], k))
        y += xs.T @ omega - np.outer(np.ones(n_genes), m @ omega)
    q = np.linalg.qr(y)[0]
    for _ in range(n_iter):
        y = np.zeros((n_genes, k))
        col = q.sum(axis=0)
        for xs, m in chunks():
            p = xs @ q - np.outer(m, col)
            y += xs.T @ p - np.outer(np.ones(n_genes), m @ p)
        q = np.linalg.qr(y)[0]
    gram = np.zeros((k, k))
    col = q.sum(axis=0)
    for xs, m in chunks():
        p = xs @ q - np.outer(m, col)
        gram += p.T @ p
    evals, evecs = np.linalg.eigh(gram)
    top = np.argsort(evals)[::-1][:n_components]
    return q @ evecs[:, top] * np.sqrt(np.maximum(evals[top], 0.0))
