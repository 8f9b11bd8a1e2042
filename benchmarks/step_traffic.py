"""Memory traffic and kernel count of one eager siVAE training step, without a GPU.

At atlas sizes an eager step is not bound by its matmuls but by the element-wise
passes over the ``(cells, genes)`` matrices (H200, LargeBrainAtlas shape, batch
4096: eager 23.5 ms against 8.7 ms for ``torch.compile``, which fuses them).
This script counts those passes. It runs one joint (stage-3) step — minibatch
standardisation, loss, backward — under ``FakeTensorMode`` (shapes and dtypes
only: no memory, no arithmetic, so the full shape runs on a laptop), with bf16
autocast as on CUDA, and records every ATen call:

* bytes: the sizes of each call's tensor inputs and outputs (views excluded), a
  lower bound on what the kernel reads and writes;
* matmul FLOPs, and the bytes of matmul operands separately;
* kernels: calls that are not views or metadata (what an eager step launches;
  at the small shape each costs more in launch overhead than in arithmetic).

Adam (fused on CUDA) is counted analytically: 28 bytes per trained parameter
(read parameter, gradient and both moments; write parameter and moments).

A time for a card follows from a roofline: ``FLOPs / peak + bytes / bandwidth``
(``--card``), a lower bound on the step, to compare code versions with each other,
not with a measurement.

Usage::

    python benchmarks/step_traffic.py [--shapes large,small] [--results benchmarks/results.md]
"""

import argparse
import collections
import datetime
import sys

import numpy as np
import torch
from _stamp import commit, machine, report
from sivae.model._data import InputTransform
from sivae.model._module import PresampledNoise, SIVAEModule
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

SHAPES = {
    # LargeBrainAtlas architecture (issue #8), batch 4096 as on the GPU
    "large": {"batch": 4096, "F": 27998, "K": 20, "C": 1000, "hidden": (2048, 1024, 512)},
    # fetal liver atlas architecture, batch 1024
    "small": {"batch": 1024, "F": 2000, "K": 2, "C": 1000, "hidden": (1024, 512, 128)},
}
# dense bf16 tensor-core peak and memory bandwidth (vendor figures, SXM parts)
CARDS = {"H100": (989e12, 3.35e12), "H200": (989e12, 4.8e12)}
MATMULS = {"aten.mm.default", "aten.addmm.default", "aten.bmm.default", "aten.baddbmm.default"}
# calls that launch no kernel: views, metadata and the device query of fake tensors
NO_KERNEL = {
    "prim.device.default",
    "aten.view.default",
    "aten._unsafe_view.default",
    "aten.t.default",
    "aten.transpose.int",
    "aten.permute.default",
    "aten.expand.default",
    "aten.unsqueeze.default",
    "aten.squeeze.dim",
    "aten.reshape.default",
    "aten.slice.Tensor",
    "aten.select.int",
    "aten.as_strided.default",
    "aten.alias.default",
    "aten.detach.default",
    "aten.lift_fresh.default",
    "aten.empty.memory_format",
    "aten.empty_like.default",
    "aten._local_scalar_dense.default",
}
# allocations: they write nothing we count (their inputs only give a shape)
ALLOCATIONS = {"aten.new_zeros.default", "aten.zeros.default", "aten.ones_like.default"}


class TrafficCounter(TorchDispatchMode):
    """Records bytes, matmul FLOPs and kernels of every ATen call made under it."""

    def __init__(self) -> None:
        super().__init__()
        self.by_op: dict[tuple, list] = collections.defaultdict(lambda: [0, 0])
        self.flops = 0
        self.matmul_bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = str(func)
        if name in NO_KERNEL:
            return out
        # an out= tensor is written, not read: it counts once, as the output
        read_kwargs = {k: v for k, v in (kwargs or {}).items() if k != "out"}
        inputs = [t for t in tree_flatten((args, read_kwargs))[0] if isinstance(t, torch.Tensor)]
        outputs = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
        if name in ALLOCATIONS:
            inputs = []
        nbytes = sum(t.numel() * t.element_size() for t in inputs + outputs)
        if name in MATMULS:
            a, b = [t for t in inputs if t.dim() >= 2][:2]
            batch = a.shape[0] if a.dim() == 3 else 1
            self.flops += 2 * batch * a.shape[-2] * a.shape[-1] * b.shape[-1]
            self.matmul_bytes += nbytes
        key = (
            name,
            tuple(outputs[0].shape) if outputs else (),
            str(outputs[0].dtype)[6:] if outputs else "",
        )
        self.by_op[key][0] += 1
        self.by_op[key][1] += nbytes
        return out

    @property
    def kernels(self) -> int:
        return sum(n for n, _ in self.by_op.values())

    @property
    def elementwise_bytes(self) -> int:
        return sum(b for (name, _, _), (_, b) in self.by_op.items() if name not in MATMULS)


def count_step(shape: dict) -> tuple[TrafficCounter, int]:
    """One joint step of ``shape`` under fake tensors: (counter, trained parameters)."""
    n, f, k = shape["batch"], shape["F"], shape["K"]
    with FakeTensorMode():
        module = SIVAEModule(f, k, n_feature_input=shape["C"], hidden=shape["hidden"])
        transform = InputTransform(np.zeros(f), np.ones(f), log1p=False)
        raw = torch.randn(n, f)
        s = raw.new_zeros((n, 0))
        eps = (torch.randn(n, k, dtype=torch.bfloat16), torch.randn(f, k, dtype=torch.bfloat16))
        counter = TrafficCounter()
        with counter:
            x = transform.torch(raw)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                losses = module.cell_loss(
                    x, x, s, None, torch.ones(()), joint=True, generator=PresampledNoise(eps)
                )
            losses["total"].backward()
    n_params = sum(p.numel() for p in module.stage_parameters(3))
    return counter, n_params


def summarise(name: str, shape: dict, top: int) -> tuple[dict, list[str]]:
    counter, n_params = count_step(shape)
    adam = 28 * n_params
    row = {
        "shape": name,
        "batch": shape["batch"],
        "tflop": counter.flops / 1e12,
        "elementwise_gb": counter.elementwise_bytes / 1e9,
        "matmul_gb": counter.matmul_bytes / 1e9,
        "adam_gb": adam / 1e9,
        "kernels": counter.kernels,
    }
    total_bytes = counter.elementwise_bytes + counter.matmul_bytes + adam
    for card, (peak, bandwidth) in CARDS.items():
        row[card] = 1e3 * (counter.flops / peak + total_bytes / bandwidth)
    lines = [
        f"Largest element-wise calls at the {name} shape (bytes in + out, summed over calls):",
        "",
        "| op | output shape | dtype | calls | GB |",
        "|---|---|---|---|---|",
    ]
    ranked = sorted(counter.by_op.items(), key=lambda kv: -kv[1][1])
    ranked = [(key, v) for key, v in ranked if key[0] not in MATMULS][:top]
    for (op, out_shape, dtype), (calls, nbytes) in ranked:
        lines.append(f"| {op[5:]} | {out_shape} | {dtype} | {calls} | {nbytes / 1e9:.3f} |")
    return row, lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", default="large,small", help="comma list of " + ",".join(SHAPES))
    parser.add_argument("--top", type=int, default=8, help="element-wise calls listed per shape")
    parser.add_argument("--results", default=None, help="append the table to this markdown file")
    args = parser.parse_args(argv)
    names = [s for s in args.shapes.split(",") if s]
    unknown = sorted(set(names) - set(SHAPES))
    if unknown:
        parser.error(f"unknown shape(s) {unknown}; choose from {sorted(SHAPES)}")
    rows, details = [], []
    for name in names:
        row, lines = summarise(name, SHAPES[name], args.top)
        rows.append(row)
        details += ["", *lines]
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    cards = " | ".join(f"roofline {c} ms" for c in CARDS)
    text = [
        f"## step_traffic — {stamp} — commit {commit()}",
        "",
        f"Machine: {machine()} (counted under FakeTensorMode; nothing is timed).",
        "",
        "One eager joint step (standardise, loss, backward; bf16 autocast) plus fused Adam.",
        "",
        f"| shape | batch | matmul TFLOP | element-wise GB | matmul operands GB | Adam GB | kernels | {cards} |",
        "|---|---|---|---|---|---|---|" + "---|" * len(CARDS),
    ]
    for r in rows:
        times = " | ".join(f"{r[c]:.2f}" for c in CARDS)
        text.append(
            f"| {r['shape']} | {r['batch']} | {r['tflop']:.3f} | {r['elementwise_gb']:.2f} | "
            f"{r['matmul_gb']:.2f} | {r['adam_gb']:.2f} | {r['kernels']} | {times} |"
        )
    report("\n".join(text + details) + "\n", args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
