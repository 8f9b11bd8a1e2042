"""Pure PyTorch building blocks: MLPs, Gaussian encoders and the "y" decoders.

Nothing here knows about AnnData. Layer sizes follow the original siVAE code:
an encoder ``in → 1024 → 512 → 128 → (mean, std)`` and a decoder
``K → 128 → 512 → y`` whose last layer (width ``y_dim``, 1024 by default) is
linear. The cell decoder's ``y_c`` is combined with a per-gene vector ``W_g`` of
the same width (a free parameter in a VAE, the feature decoder's output in
siVAE) to give the mean ``x̂_cg = y_c · W_g + b_g``.
"""

from collections.abc import Sequence

import torch
from torch import nn

from ._likelihoods import positive


class _UninitialisedLinear(nn.Linear):
    """``nn.Linear`` without its default (Kaiming-uniform) initialisation."""

    def reset_parameters(self) -> None:
        """Left to :func:`xavier_linear`, which draws from a given generator."""


def xavier_linear(
    n_in: int, n_out: int, zero: bool = False, generator: torch.Generator | None = None
) -> nn.Linear:
    """A ``nn.Linear`` with Xavier-normal kernel (or all zeros) and zero bias.

    The kernel is drawn from ``generator`` (the global RNG when ``None``), and
    nothing else is: ``nn.Linear``'s own initialisation is skipped, so models can
    be built in parallel threads, each from its own seeded generator.
    """
    layer = _UninitialisedLinear(n_in, n_out)
    with torch.no_grad():
        if zero:
            layer.weight.zero_()
        else:
            nn.init.xavier_normal_(layer.weight, generator=generator)
        layer.bias.zero_()
    return layer


class MLP(nn.Module):
    """Stack of ReLU layers ``n_in → hidden[0] → ... → hidden[-1]``.

    With an empty ``hidden`` the module is the identity and ``n_out == n_in``.
    """

    def __init__(self, n_in: int, hidden: Sequence[int], generator: torch.Generator | None = None):
        super().__init__()
        layers: list[nn.Module] = []
        for n_out in hidden:
            layers += [xavier_linear(n_in, n_out, generator=generator), nn.ReLU()]
            n_in = n_out
        self.net = nn.Sequential(*layers)
        self.n_out = n_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class GaussianEncoder(nn.Module):
    """Amortised Gaussian posterior ``q(z | x) = N(mean(x), std(x)²)`` (eqs. 10–11).

    Parameters
    ----------
    n_in
        Input width (genes for cells, ``C_red`` for features).
    hidden
        Hidden ReLU layer sizes, e.g. ``(1024, 512, 128)``.
    n_latent
        Latent dimension ``K``.
    generator
        Source of the initial weights (the global RNG when ``None``).
    """

    def __init__(
        self,
        n_in: int,
        hidden: Sequence[int],
        n_latent: int,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.body = MLP(n_in, hidden, generator)
        self.mean = xavier_linear(self.body.n_out, n_latent, generator=generator)
        self.std = xavier_linear(self.body.n_out, n_latent, generator=generator)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(mean, std)``, each of shape ``(batch, n_latent)``."""
        h = self.body(x)
        return self.mean(h), positive(self.std(h))


class YDecoder(nn.Module):
    """Decoder ``z → hidden (ReLU) → y`` with a linear last layer of width ``y_dim``.

    With ``linear=True`` the decoder is the identity on ``z`` (siVAE-linear,
    LDVAE-like VAE): ``y = z`` and ``y_dim = n_latent``; covariates are then
    handled by the caller.
    """

    def __init__(
        self,
        n_in: int,
        hidden: Sequence[int],
        y_dim: int,
        linear: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.linear = linear
        if linear:
            self.body = MLP(n_in, ())
            self.out = nn.Identity()
            self.y_dim = n_in
        else:
            self.body = MLP(n_in, hidden, generator)
            self.out = xavier_linear(self.body.n_out, y_dim, generator=generator)
            self.y_dim = y_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(z))


class ScaleHead(nn.Module):
    """Predicts the observation scale (Gaussian std or NB inverse dispersion).

    ``mode="cell"``: one value per cell, ``softplus(dense(y_c)) + 1e-5`` with the
    dense layer zero-initialised (the original default). ``"gene"``: one free
    value per gene. ``"cell_gene"``: ``softplus(dense(y_c))`` with one output per
    gene. Output broadcasts against ``(batch, n_genes)``.
    """

    MODES = ("cell", "gene", "cell_gene")

    def __init__(self, mode: str, y_dim: int, n_genes: int):
        super().__init__()
        if mode not in self.MODES:
            raise ValueError(f"variance must be one of {self.MODES}, got {mode!r}")
        self.mode = mode
        if mode == "cell":
            self.dense = xavier_linear(y_dim, 1, zero=True)
        elif mode == "cell_gene":
            self.dense = xavier_linear(y_dim, n_genes, zero=True)
        else:
            self.gene = nn.Parameter(torch.zeros(n_genes))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        if self.mode == "gene":
            return positive(self.gene).unsqueeze(0)
        return positive(self.dense(y))
