"""The report's charts: matplotlib on the Agg canvas (no pyplot state, safe in a server)."""
from __future__ import annotations

import io
import textwrap
import warnings
from typing import Any

import pandas as pd
from flask_babel import gettext as _

from .labels import method_label
from .snapshot import Snapshot

# Drawn at print size and inserted at this width, so the point sizes below are the printed ones.
WIDTH_CM = 16.0
LABEL_PT = 9
TITLE_PT = 11
_INCH = 2.54


def _short(text: str, limit: int = 45) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _label(text: str, width: int = 30, limit: int = 90) -> str:
    """A long title on up to three lines instead of cut short."""
    return "\n".join(textwrap.wrap(_short(str(text), limit), width)) or " "


def _lines(labels: list[str]) -> int:
    return sum(label.count("\n") + 1 for label in labels)


def results_png(snap: Snapshot, top: int = 15) -> bytes | None:
    """Horizontal bars of score and helix-balanced score."""
    ranking = snap.results["ranking"][:top]
    if not ranking:
        return None
    names = [_label(e["title"], 28) for e in ranking][::-1]
    score = [e["score"] for e in ranking][::-1]
    balanced = [e["balanced_score"] for e in ranking][::-1]
    with warnings.catch_warnings():
        # A missing glyph (emoji in a title) must not stop the report.
        warnings.simplefilter("ignore")
        fig = _figure(1.2 + 0.17 * _lines(names) + 0.12 * len(names))
        ax1, ax2 = fig.subplots(1, 2, sharey=True)
        # Numeric positions: two domains with the same title must keep two bars.
        ys = list(range(len(names)))
        ax1.barh(ys, score, color="#1f6f8b")
        ax1.set_yticks(ys, names)
        ax1.set_title(_label(_("Score"), 26), fontsize=LABEL_PT + 1)
        ax2.barh(ys, balanced, color="#99a8b2")
        ax2.set_title(_label(_("Helix-balanced score"), 26), fontsize=LABEL_PT + 1)
        for ax in (ax1, ax2):
            _style(ax)
        fig.suptitle(_("Results: %(method)s", method=method_label(snap.ws.method)),
                     fontsize=TITLE_PT)
        return _png(fig)


def _figure(height: float):
    """A matplotlib Figure on the Agg canvas (no pyplot state, safe in a server)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # Constrained layout fits long labels inside the figure, which keeps its print width.
    fig = Figure(figsize=(WIDTH_CM / _INCH, height), dpi=150, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _style(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.tick_params(labelsize=LABEL_PT)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def participation_png(snap: Snapshot, part: pd.DataFrame) -> bytes | None:
    """Participants who joined and voters, per helix."""
    if not len(part):
        return None
    from matplotlib.ticker import MaxNLocator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = _figure(1.0 + 0.4 * len(part))
        ax = fig.subplots()
        ys = list(range(len(part)))[::-1]
        ax.barh([y + 0.2 for y in ys], part["participants"].astype(int), height=0.4,
                color="#1f6f8b", label=_("Participants"))
        ax.barh([y - 0.2 for y in ys], part["voters"].astype(int), height=0.4,
                color="#99a8b2", label=_("Voters"))
        ax.set_yticks(ys, [_label(x) for x in part["label"]])
        _style(ax)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        fig.legend(fontsize=LABEL_PT, frameon=False, loc="outside lower center", ncols=2)
        ax.set_title(_("Participation by helix"), fontsize=TITLE_PT)
        return _png(fig)


def split_png(snap: Snapshot, items: list[dict[str, Any]]) -> bytes | None:
    """Each priority's support by helix (grouped bars)."""
    shown = [i for i in items if i["result"] and i["result"]["by_helix"]]
    if not shown:
        return None
    helices = list(dict.fromkeys(h for i in shown for h in i["result"]["by_helix"]))
    labels = snap.helix_labels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = _figure(1.6 + 0.1 * len(shown) * (len(helices) + 2))
        ax = fig.subplots()
        width = 0.8 / len(helices)
        ys = list(range(len(shown)))[::-1]
        colors = ["#1f6f8b", "#99a8b2", "#e9a23b", "#5b8e7d", "#bc4b51", "#6d597a", "#355070"]
        for k, h in enumerate(helices):
            ax.barh([y + 0.4 - width * (k + 0.5) for y in ys],
                    [i["result"]["by_helix"].get(h, 0.0) for i in shown], height=width,
                    color=colors[k % len(colors)], label=_short(labels.get(h, h), 34))
        ax.set_yticks(ys, [_label(f"{i['rank']}. {i['title']}") for i in shown])
        _style(ax)
        fig.legend(fontsize=LABEL_PT, frameon=False, loc="outside lower center",
                   ncols=min(2, len(helices)))
        ax.set_title(_("Support by helix"), fontsize=TITLE_PT)
        return _png(fig)
