"""Figure panels of the paper, drawn from results tables or model-output AnnData.

Every ``plot_<panel>(table(s) or adata, path_png, **opts)`` writes ``path_png``
(dpi 150) and a PDF with the same stem, and returns the matplotlib Figure. They
only read tables (the TSVs of the results layout, as DataFrames) or AnnData; they
never train or load models. A missing column or key raises a ValueError naming
the table and the column.

:data:`PANELS` maps panel ids (``"fig5a"``) to their functions, and
:func:`figures_table` builds the paper-versus-ours summary. Scripts share the
panels' colours through :func:`method_color`, :func:`category_colors` and the
label order :func:`natural_sorted`.
"""

from ._fig1 import plot_fig1b, plot_fig1c, plot_fig1d
from ._fig2 import plot_fig2a, plot_fig2b, plot_fig2cd
from ._fig3 import plot_fig3a, plot_fig3b, plot_fig3c, plot_fig3d
from ._fig4 import plot_fig4b, plot_fig4c, plot_fig4d
from ._fig5 import (
    centrality_spearman,
    plot_fig5a,
    plot_fig5b,
    plot_fig5c,
    plot_fig5d,
    plot_fig5e,
    top_hub_true_centrality,
)
from ._fig6 import plot_fig6b, plot_fig6c, plot_fig6d, plot_fig6e, plot_fig6f
from ._style import (
    METHOD_COLORS,
    METHOD_LABELS,
    category_colors,
    method_base,
    method_color,
    method_label,
    natural_sorted,
    parse_method,
)
from ._supp import plot_figS5, plot_figS11, plot_figS24, plot_figS25
from ._table import PAPER_HEADLINES, figures_table

#: panel id -> plotting function
PANELS = {
    "fig1b": plot_fig1b,
    "fig1c": plot_fig1c,
    "fig1d": plot_fig1d,
    "fig2a": plot_fig2a,
    "fig2b": plot_fig2b,
    "fig2cd": plot_fig2cd,
    "fig3a": plot_fig3a,
    "fig3b": plot_fig3b,
    "fig3c": plot_fig3c,
    "fig3d": plot_fig3d,
    "fig4b": plot_fig4b,
    "fig4c": plot_fig4c,
    "fig4d": plot_fig4d,
    "fig5a": plot_fig5a,
    "fig5b": plot_fig5b,
    "fig5c": plot_fig5c,
    "fig5d": plot_fig5d,
    "fig5e": plot_fig5e,
    "fig6b": plot_fig6b,
    "fig6c": plot_fig6c,
    "fig6d": plot_fig6d,
    "fig6e": plot_fig6e,
    "fig6f": plot_fig6f,
    "figS5": plot_figS5,
    "figS11": plot_figS11,
    "figS24": plot_figS24,
    "figS25": plot_figS25,
}

__all__ = [
    "METHOD_COLORS",
    "METHOD_LABELS",
    "PAPER_HEADLINES",
    "PANELS",
    "category_colors",
    "centrality_spearman",
    "figures_table",
    "method_base",
    "method_color",
    "method_label",
    "natural_sorted",
    "parse_method",
    "top_hub_true_centrality",
    *PANELS,
]
