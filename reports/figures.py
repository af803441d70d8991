"""Figures as inline images (base64 PNG), drawn with matplotlib's Agg backend: no display,
no file beside the report."""

from __future__ import annotations

import base64
import io
from html import escape


def new_figure(width: float = 9, height: float = 3.4):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), dpi=100)


def embed(fig, alt: str) -> str:
    """The figure as an <img> holding its PNG; the figure is closed."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'
