"""The drawing kit of the book's diagrams: one visual style for every chapter.

The chapters import it (`from diagrams import Diagram`) to draw the ideas they teach:
boxes for tensors and layers, arrows for data flow, labels for shapes. It is not part
of gptcore: it draws pictures of the model; it computes nothing of it.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

COLORS = {  # one meaning per colour, in every diagram
    "tensor": "#dbe9f6",  # activations: what flows
    "weight": "#fde2c7",  # learned layers
    "attention": "#d9f0d3",  # talking: attention and its scores
    "think": "#f3d9ef",  # thinking: the feed-forward network
    "norm": "#fff3b0",  # normalisation
    "cache": "#e6e6e6",  # stored, not recomputed
    "edge": "#33415c",
}


class Diagram:
    """A blank canvas in data coordinates (0..width, 0..height)."""

    def __init__(self, width: float, height: float, title: str, figsize=(9, 4)):
        self.fig, self.ax = plt.subplots(figsize=figsize)
        self.ax.set_xlim(0, width)
        self.ax.set_ylim(0, height)
        self.ax.set_aspect("equal")
        self.ax.axis("off")
        self.ax.set_title(title, fontsize=12)

    def box(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        text: str,
        kind: str = "tensor",
        fontsize: float = 10,
        **kwargs,
    ) -> tuple[float, float, float, float]:
        """A rounded box with its lower-left corner at (x, y); returns (x, y, w, h)."""
        patch = FancyBboxPatch(
            (x, y),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.08",
            facecolor=COLORS[kind],
            edgecolor=COLORS["edge"],
            linewidth=1.2,
            **kwargs,
        )
        self.ax.add_patch(patch)
        self.ax.text(
            x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize
        )
        return x, y, w, h

    def arrow(
        self,
        start: tuple[float, float],
        end: tuple[float, float],
        text: str = "",
        style: str = "-|>",
        **kwargs,
    ) -> None:
        """An arrow from start to end, with an optional label beside its middle."""
        self.ax.add_patch(
            FancyArrowPatch(
                start,
                end,
                arrowstyle=style,
                mutation_scale=12,
                color=COLORS["edge"],
                linewidth=1.2,
                **kwargs,
            )
        )
        if text:
            mid = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
            self.ax.text(
                mid[0] + 0.08,
                mid[1],
                text,
                fontsize=9,
                color=COLORS["edge"],
                va="center",
            )

    def note(self, x: float, y: float, text: str, **kwargs) -> None:
        """Free text, such as a shape: (B, T, 64)."""
        kwargs.setdefault("fontsize", 9)
        kwargs.setdefault("color", COLORS["edge"])
        self.ax.text(x, y, text, **kwargs)

    def show(self) -> None:
        """Lay out and show the figure."""
        self.fig.tight_layout()
        plt.show()
