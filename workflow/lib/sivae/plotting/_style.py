"""Colours and display names shared by every panel.

One colour per method, fixed here, so that a method looks the same in Fig. 2,
Fig. 3, Fig. 5 and the supplementary panels. Methods that share a family share
a hue (siVAE variants blues, VAE variants greens, explicit network inference
warm colours, siVAE-GCN-* the light tint of the algorithm run on siVAE samples).
"""

from __future__ import annotations

import logging
import re
import zlib

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_hex

logger = logging.getLogger(__name__)

#: Colour of every method named in the results tables (hex strings, all distinct).
METHOD_COLORS: dict[str, str] = {
    # siVAE and its variants (Table 1)
    "siVAE": "#1f4e9c",
    "siVAE_gamma0": "#6b9bd8",
    "siVAE_linear": "#6a51a3",
    "siVAE_NB": "#2a9d8f",
    "siVAE-Euc": "#17becf",
    # baselines for the cell-embedding space
    "VAE": "#2ca02c",
    "VAE_linear": "#98df8a",
    "PCA": "#7f7f7f",
    # explicit gene-network inference
    "CLR": "#ff7f0e",
    "ARACNE": "#d62728",
    "MRNET": "#8c564b",
    "GRNBoost2": "#e377c2",
    # the same algorithms run on data sampled from siVAE: light tint of the algorithm
    "siVAE-GCN-CLR": "#ffbb78",
    "siVAE-GCN-ARACNE": "#ff9896",
    "siVAE-GCN-MRNET": "#c49c94",
    "siVAE-GCN-GRNBoost2": "#f7b6d2",
    # neural-network feature attribution and Gene Relevance
    "saliency": "#bcbd22",
    "grad_x_input": "#9467bd",
    "deeplift": "#e6550d",
    "integrated_gradients": "#a6761d",
    "shapley": "#ce1256",
    "jacobian_forward": "#01665e",
    "gene_relevance": "#525252",
}

#: Display names where the table's method id is not already readable.
METHOD_LABELS: dict[str, str] = {
    "siVAE_gamma0": "siVAE (γ=0)",
    "siVAE_linear": "siVAE-linear",
    "siVAE_NB": "siVAE-NB",
    "VAE_linear": "VAE-linear (LDVAE-like)",
    "grad_x_input": "grad × input",
    "deeplift": "DeepLIFT",
    "integrated_gradients": "integrated gradients",
    "shapley": "Shapley value",
    "jacobian_forward": "Jacobian (forward mode)",
    "gene_relevance": "Gene Relevance",
}

#: Methods that reduce dimension (neighbours from an embedding) versus explicit
#: network inference; used to group Fig. 5 summaries as the paper does.
DR_METHODS = frozenset(
    {"siVAE", "siVAE_gamma0", "siVAE_linear", "siVAE_NB", "siVAE-Euc", "VAE", "VAE_linear", "PCA"}
)
GCN_METHODS = frozenset({"CLR", "ARACNE", "MRNET", "GRNBoost2"})
ATTRIBUTION_METHODS = frozenset(
    {
        "saliency",
        "grad_x_input",
        "deeplift",
        "integrated_gradients",
        "shapley",
        "jacobian_forward",
    }
)

#: Colour for things that are "none of the above" (isolated genes, non-MT genes).
NEUTRAL_GREY = "#b0b0b0"

_FALLBACK = colormaps["tab20b"].colors


#: Prefix of attribution methods run on a trained VAE (timing.tsv: ``VAE+saliency``).
MODEL_PREFIX = "VAE+"
#: Other spellings of a method id in the results tables -> the id used here.
_ALIASES = {"jacobian": "jacobian_forward"}
_MODE_SUFFIX = re.compile(r"_(forward|reverse)$")
_K_SUFFIX = re.compile(r"_k(\d+)$")


def parse_method(method: str) -> tuple[str, dict]:
    """Split a method id of the results tables into its base method and qualifiers.

    Tables name variants of one method with a ``VAE+`` prefix (attribution run on a
    trained VAE), a ``_forward`` / ``_reverse`` suffix (autodiff mode) or a ``_k<N>``
    suffix (neighbours of Gene Relevance).

    Returns
    -------
    base, qualifiers
        ``base`` is the key of :data:`METHOD_COLORS` where one matches;
        ``qualifiers`` has keys ``model`` (``"VAE"``), ``mode`` and ``k`` where present.

    Examples
    --------
    >>> parse_method("VAE+grad_x_input_forward")
    ('grad_x_input', {'model': 'VAE', 'mode': 'forward'})
    >>> parse_method("gene_relevance_k5")
    ('gene_relevance', {'k': 5})
    """
    name = str(method)
    qualifiers: dict = {}
    if name.startswith(MODEL_PREFIX) and len(name) > len(MODEL_PREFIX):
        qualifiers["model"] = MODEL_PREFIX[:-1]
        name = name[len(MODEL_PREFIX) :]
    if name in METHOD_COLORS:
        return name, qualifiers
    k_match = _K_SUFFIX.search(name)
    if k_match:
        qualifiers["k"] = int(k_match.group(1))
        name = name[: k_match.start()]
    if name not in METHOD_COLORS:
        mode_match = _MODE_SUFFIX.search(name)
        if mode_match:
            qualifiers["mode"] = mode_match.group(1)
            name = name[: mode_match.start()]
    return _ALIASES.get(name, name), qualifiers


def method_base(method: str) -> str:
    """The method a table's id is a variant of (``grad_x_input_forward`` -> ``grad_x_input``)."""
    return parse_method(method)[0]


def method_color(method: str) -> str:
    """Colour of ``method``; variants (see :func:`parse_method`) share their base's colour.

    Unknown methods get a stable fallback colour chosen by a hash of the name.
    """
    method = str(method)
    if method in METHOD_COLORS:
        return METHOD_COLORS[method]
    if method.startswith("siVAE-GCN-"):
        return METHOD_COLORS["siVAE-GCN-CLR"]
    base = method_base(method)
    if base in METHOD_COLORS:
        return METHOD_COLORS[base]
    # crc32 rather than hash(): stable across processes, so reruns look identical
    colour = to_hex(_FALLBACK[zlib.crc32(method.encode()) % len(_FALLBACK)])
    logger.info("method %r has no fixed colour in METHOD_COLORS; using %s", method, colour)
    return colour


def method_label(method: str) -> str:
    """Readable display name of ``method``.

    Examples: ``VAE_linear`` -> ``VAE-linear (LDVAE-like)``, ``grad_x_input_forward`` ->
    ``grad × input (forward)``, ``gene_relevance_k5`` -> ``Gene Relevance (k=5)``,
    ``VAE+deeplift`` -> ``VAE+DeepLIFT``.
    """
    method = str(method)
    if method in METHOD_LABELS or method in METHOD_COLORS:
        return METHOD_LABELS.get(method, method)
    base, qualifiers = parse_method(method)
    if base == method:
        return method
    label = METHOD_LABELS.get(base, base)
    if "model" in qualifiers:
        label = f"{qualifiers['model']}+{label}"
    extras = [qualifiers["mode"]] if "mode" in qualifiers else []
    extras += [f"k={qualifiers['k']}"] if "k" in qualifiers else []
    return f"{label} ({', '.join(extras)})" if extras else label


def method_mode_label(method: str, mode: str | None) -> str:
    """``method_label(method)`` with the autodiff ``mode`` appended unless it names it already."""
    label = method_label(method)
    if not mode or str(mode).lower() in label.lower():
        return label
    return f"{label} ({mode})"


def method_order(methods) -> list[str]:
    """Unique methods in the order of :data:`METHOD_COLORS` (variants next to their base
    method), then unknown methods; ties keep their first appearance."""
    seen = list(dict.fromkeys(str(m) for m in methods))
    rank = {m: i for i, m in enumerate(METHOD_COLORS)}

    def key(item):
        position, method = item
        # a variant (VAE+saliency, grad_x_input_forward) sits with its base method
        return rank.get(method, rank.get(method_base(method), len(rank))), position

    return [m for _, m in sorted(enumerate(seen), key=key)]


def natural_sorted(values) -> list[str]:
    """Unique values as strings, sorted so that "type 2" comes before "type 10"."""

    def key(text: str):
        return [
            (0, int(part), "") if part.isdigit() else (1, 0, part.lower())
            for part in re.split(r"(\d+)", text)
        ]

    return sorted({str(v) for v in values}, key=key)


def category_colors(categories) -> dict:
    """Distinct colours for categorical labels (cell types, batches, communities).

    Parameters
    ----------
    categories
        Iterable of labels; order is kept (first appearance).

    Returns
    -------
    dict
        label -> hex colour. Up to 10 labels use ``tab10``, up to 20 ``tab20``,
        up to 60 ``tab20`` + ``tab20b`` + ``tab20c``, beyond that evenly spaced ``turbo``.
    """
    cats = list(dict.fromkeys(categories))
    n = len(cats)
    if n <= 10:
        colours = colormaps["tab10"].colors[:n]
    elif n <= 20:
        colours = colormaps["tab20"].colors[:n]
    elif n <= 60:
        colours = (
            colormaps["tab20"].colors + colormaps["tab20b"].colors + colormaps["tab20c"].colors
        )[:n]
    else:
        colours = colormaps["turbo"](np.linspace(0.02, 0.98, n))
    return {c: to_hex(col) for c, col in zip(cats, colours, strict=True)}
