"""Datasets: embedded simulations and small data, config-driven loading, downloads.

Embedded (no network): :func:`hub_network`, :func:`toy_network`,
:func:`pbmc68k_reduced`, :func:`digits`; multi-group study: :func:`cohort`.
Config entries: :func:`load`. Downloads and readers for the paper's datasets:
:func:`download` and the ``read_*`` functions.
"""

from ._builtin import digits, pbmc68k_reduced
from ._cohort import cohort
from ._download import DownloadError, download, sha256sum
from ._load import load
from ._readers import (
    read_cifar10,
    read_fetal_liver,
    read_large_brain_atlas,
    read_mnist,
    read_neurdiff,
    read_sea_ad,
    read_snare_seq,
)
from ._simulate import graph_to_covariance, htf_completion, hub_network, toy_network

__all__ = [
    "DownloadError",
    "cohort",
    "digits",
    "download",
    "graph_to_covariance",
    "htf_completion",
    "hub_network",
    "load",
    "pbmc68k_reduced",
    "read_cifar10",
    "read_fetal_liver",
    "read_large_brain_atlas",
    "read_mnist",
    "read_neurdiff",
    "read_sea_ad",
    "read_snare_seq",
    "sha256sum",
    "toy_network",
]
