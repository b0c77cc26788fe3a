"""The report's charts: matplotlib on the Agg canvas (no pyplot state, safe in a server)."""
from __future__ import annotations

import io
import warnings
from typing import Any

import pandas as pd
from flask_babel import gettext as _

from .labels import method_label
from .snapshot import Snapshot


def _short(text: str, limit: int = 45) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def results_png(snap: Snapshot, top: int = 15) -> bytes | None:
    """Horizontal bars of score and helix-balanced score."""
    ranking = snap.results["ranking"][:top]
    if not ranking:
        return None
    names = [_short(e["title"]) for e in ranking][::-1]
    score = [e["score"] for e in ranking][::-1]
    balanced = [e["balanced_score"] for e in ranking][::-1]
    with warnings.catch_warnings():
        # A missing glyph (emoji in a title) must not stop the report.
        warnings.simplefilter("ignore")
        fig = _figure(1.2 + 0.42 * len(ranking))
        ax1, ax2 = fig.subplots(1, 2, sharey=True)
        # Numeric positions: two domains with the same title must keep two bars.
        ys = list(range(len(names)))
        ax1.barh(ys, score, color="#1f6f8b")
        ax1.set_yticks(ys, names)
        ax1.set_title(_("Score"), fontsize=10)
        ax2.barh(ys, balanced, color="#99a8b2")
        ax2.set_title(_("Helix-balanced score"), fontsize=10)
        for ax in (ax1, ax2):
            ax.tick_params(labelsize=8)
            ax.spines[["top", "right"]].set_visible(False)
        fig.suptitle(_("Results: %(method)s", method=method_label(snap.ws.method)), fontsize=11)
        return _png(fig)


def _figure(height: float):
    """A matplotlib Figure on the Agg canvas (no pyplot state, safe in a server)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, height), dpi=150)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def participation_png(snap: Snapshot, part: pd.DataFrame) -> bytes | None:
    """Participants who joined and voters, per helix."""
    if not len(part):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = _figure(1.0 + 0.45 * len(part))
        ax = fig.subplots()
        ys = list(range(len(part)))[::-1]
        ax.barh([y + 0.2 for y in ys], part["participants"].astype(int), height=0.4,
                color="#1f6f8b", label=_("Participants"))
        ax.barh([y - 0.2 for y in ys], part["voters"].astype(int), height=0.4,
                color="#99a8b2", label=_("Voters"))
        ax.set_yticks(ys, [_short(str(x)) for x in part["label"]])
        ax.tick_params(labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(fontsize=8, frameon=False)
        ax.set_title(_("Participation by helix"), fontsize=11)
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
        fig = _figure(1.4 + 0.5 * len(shown) * max(1, len(helices)) / 3)
        ax = fig.subplots()
        width = 0.8 / len(helices)
        ys = list(range(len(shown)))[::-1]
        colors = ["#1f6f8b", "#99a8b2", "#e9a23b", "#5b8e7d", "#bc4b51", "#6d597a", "#355070"]
        for k, h in enumerate(helices):
            ax.barh([y + 0.4 - width * (k + 0.5) for y in ys],
                    [i["result"]["by_helix"].get(h, 0.0) for i in shown], height=width,
                    color=colors[k % len(colors)], label=_short(labels.get(h, h), 30))
        ax.set_yticks(ys, [_short(f"{i['rank']}. {i['title']}") for i in shown])
        ax.tick_params(labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(fontsize=7, frameon=False, loc="lower right")
        ax.set_title(_("Support by helix"), fontsize=11)
        return _png(fig)
