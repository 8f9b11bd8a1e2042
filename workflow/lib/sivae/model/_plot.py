"""Training-convergence plot (paper Additional file 1, Fig. S25)."""

import pandas as pd

TERMS = ("total", "reconstruction", "kl_cell", "kl_feature", "interpretability", "validation_total")


def plot_history(history: pd.DataFrame, path: str | None = None):
    """Plot each loss term against training step, one panel per stage.

    Parameters
    ----------
    history
        ``model.history`` (or the ``history.tsv`` it is saved as).
    path
        If given, the figure is saved there (format from the suffix).

    Returns
    -------
    The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt  # headless sessions fall back to Agg by themselves

    if history.empty:
        raise ValueError("history is empty: train the model first")
    stages = sorted(history["stage"].unique())
    fig, axes = plt.subplots(1, len(stages), figsize=(4.5 * len(stages), 3.5), squeeze=False)
    names = {1: "cell VAE", 2: "feature VAE", 3: "joint"}
    for ax, stage in zip(axes[0], stages, strict=True):
        h = history[history["stage"] == stage]
        for term in TERMS:
            if term in h and h[term].notna().any() and (h[term] != 0).any():
                ax.plot(h["step"], h[term], label=term.replace("_", " "))
        ax.set_title(f"stage {stage}: {names.get(stage, '')}")
        ax.set_xlabel("training step")
        ax.set_ylabel("loss (per cell / per gene)")
        ax.set_yscale("symlog")
        ax.legend(fontsize=7)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig
