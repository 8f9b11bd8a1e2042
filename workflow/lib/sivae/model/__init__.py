"""siVAE and VAE models (PyTorch).

:class:`SIVAE` and :class:`VAE` share one torch module
(:class:`~sivae.model._module.SIVAEModule`) and one trainer; see their docstrings
for the paper variants each option gives.
"""

from ._plot import plot_history
from ._sivae import SIVAE
from ._vae import VAE

__all__ = ["SIVAE", "VAE", "plot_history"]
