"""House style of the report figures: palette, fonts, figure sizes and deterministic PNG output.

Okabe-Ito colour-blind-safe palette (Okabe & Ito, "Color Universal Design", 2008) plus line styles
so that nothing relies on colour alone; fixed size, dpi and fonts, and no ``Software``/date metadata
in the PNG, so identical inputs give identical bytes.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


#: Okabe-Ito colour-blind-safe palette (Okabe M, Ito K. Color Universal Design, 2008).
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}

#: Colour and line style of each isodose level (percentage of the prescription dose). Levels not
#: listed cycle through the remaining palette.
ISODOSE_STYLE = {
    100: (OKABE_ITO["vermillion"], "-"),
    80: (OKABE_ITO["yellow"], "-"),
    50: (OKABE_ITO["sky_blue"], "-"),
}

LESION_STYLE = (OKABE_ITO["green"], "--")

#: Resolution of every PNG (dots per inch). Figures are sized in inches for an A4 page width.
DPI = 110

_RC = {
    "font.size": 13,
    "axes.titlesize": 14,
    "axes.labelsize": 13,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 12,
    "figure.titlesize": 16,
    "font.family": "DejaVu Sans",
    "svg.hashsalt": "radnec",
    "path.simplify": True,
}

LINESTYLES = ("-", "--", "-.", ":")


def new_figure(width_in: float, height_in: float, *, constrained: bool = True) -> Figure:
    """A figure of fixed size; ``constrained=False`` for the image grids, which are laid out by
    :func:`grid_axes` with fixed margins (constrained layout costs ~1 s per image grid)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained" if constrained else None)


def grid_axes(fig: Figure, nrows: int, *, top_in: float = 0.95, bottom_in: float = 1.0,
               gap_in: float = 0.95) -> Any:
    """``nrows`` x 3 image panels with fixed margins (inches): room for the title above, the
    legend below and the x labels/titles between rows."""
    width, height = fig.get_size_inches()
    panel_h = (height - top_in - bottom_in - gap_in * (nrows - 1)) / nrows
    return fig.subplots(nrows, 3, squeeze=False, gridspec_kw={
        "left": 0.7 / width, "right": 1 - 0.1 / width, "top": 1 - top_in / height, "bottom": bottom_in / height,
        "wspace": 0.9 / ((width - 0.8) / 3 - 0.6), "hspace": gap_in / panel_h,
    })


def png_bytes(fig: Figure) -> bytes:
    """Serialise ``fig`` as PNG without any metadata that varies between runs or versions."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None}, facecolor="white")
    return buf.getvalue()


def style_context():  # noqa: ANN202 - matplotlib imported lazily
    import matplotlib

    return matplotlib.rc_context(_RC)


__all__ = ["OKABE_ITO", "ISODOSE_STYLE", "LESION_STYLE", "DPI", "LINESTYLES", "new_figure", "grid_axes", "png_bytes", "style_context"]
