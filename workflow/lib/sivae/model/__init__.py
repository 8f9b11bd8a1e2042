"""siVAE and VAE models (PyTorch).

:class:`SIVAE` and :class:`VAE` share one torch module
(:class:`~sivae.model._module.SIVAEModule`) and one trainer; see their docstrings
for the paper variants each option gives.
"""

from ._batched import BinResult, train_bins
from ._plot import plot_history
from ._sivae import SIVAE
from ._vae import VAE

__all__ = ["SIVAE", "VAE", "BinResult", "plot_history", "train_bins"]
