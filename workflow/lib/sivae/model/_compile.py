"""``torch.compile`` of the siVAE loss (forward and, through AOT autograd, backward).

The eager loss draws its reparameterisation noise from a ``torch.Generator``,
which a compiled graph cannot do. Here the noise is drawn outside the graph from
the same generator, in the same order and with the same shapes and dtype as the
eager loss would, and passed in as tensors
(:class:`~sivae.model._module.PresampledNoise`), so the compiled path sees the
same random numbers and agrees with the eager path up to float rounding.

Backends: ``compile=True`` picks ``"inductor"`` on CUDA and ``"aot_eager"`` on CPU.
Inductor works on CPU too, but its first compile takes ~45 s for even a tiny
graph on the 2-core build machine (C++ codegen), against ~5 s for ``aot_eager``,
and brings little at the small CPU shapes. Pass a backend name
(``compile="inductor"``) to choose; ``torch._dynamo.list_backends`` lists them.
"""

import logging

import torch

from ._module import PresampledNoise, SIVAEModule

logger = logging.getLogger(__name__)


def resolve_backend(compile: bool | str, device: torch.device) -> str | None:
    """The ``torch.compile`` backend for ``compile`` (``None`` = do not compile)."""
    if compile is False or compile is None:
        return None
    if compile is True:
        return "inductor" if device.type == "cuda" else "aot_eager"
    if not isinstance(compile, str):
        raise ValueError(f"compile must be True, False or a backend name, got {compile!r}")
    known = torch._dynamo.list_backends(exclude_tags=())
    if compile not in known:
        raise ValueError(f"compile={compile!r} is not a torch.compile backend; choose from {known}")
    return compile


def noise_dtype(autocast_bf16: bool) -> torch.dtype:
    """dtype of the encoder outputs, hence of the eager path's noise draws."""
    return torch.bfloat16 if autocast_bf16 else torch.float32


def draw_noise(
    generator: torch.Generator,
    shapes: list[tuple[int, ...]],
    device: torch.device,
    dtype: torch.dtype,
) -> tuple[torch.Tensor, ...]:
    """``ε ~ N(0, I)`` of each shape, drawn in order as the eager loss draws them."""
    return tuple(torch.randn(s, generator=generator, device=device, dtype=dtype) for s in shapes)


def noise_shapes(module: SIVAEModule, stage: int, n_items: int) -> list[tuple[int, int]]:
    """Shapes of the noise one training loss draws: ``z``, then ``v`` (joint); ``v`` in stage 2.

    ``n_items`` is the minibatch size (cells, or genes in stage 2).
    """
    k = module.n_latent
    if stage == 2:
        return [(n_items, k)]
    if stage == 3:
        return [(n_items, k), (module.n_genes, k)]
    return [(n_items, k)]


class CompiledLoss:
    """Compiled ``cell_loss`` / ``feature_loss`` of ``module`` taking pre-drawn noise.

    ``beta`` is passed as a 0-d tensor so that the KL warm-up does not trigger a
    recompile at every step. Shapes are static (``dynamic=False``): a smaller last
    minibatch costs one extra graph per stage. Parameters are graph inputs, so
    the graphs are reused by every module of the same architecture (no recompiles
    when one process trains many models).
    """

    def __init__(self, module: SIVAEModule, backend: str) -> None:
        self.module = module
        self.backend = backend
        self.cell = torch.compile(self._cell, backend=backend, dynamic=False, fullgraph=True)
        self.feature = torch.compile(self._feature, backend=backend, dynamic=False, fullgraph=True)
        logger.info("compiling the siVAE loss with backend %r", backend)

    def _cell(self, x_in, x_obs, s, library, beta, eps, joint: bool):
        return self.module.cell_loss(
            x_in, x_obs, s, library, beta, joint=joint, generator=PresampledNoise(eps)
        )

    def _feature(self, idx, target, beta, eps):
        return self.module.feature_loss(idx, target, beta, generator=PresampledNoise(eps))
