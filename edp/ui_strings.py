"""Strings the page scripts show, translated on the server (the scripts have no gettext)."""
from flask_babel import gettext as _


def ui_strings() -> dict[str, str]:
    return {
        "connecting": _("Connecting…"),
        "offline": _("Offline — reconnecting…"),
        "saving": _("Saving…"),
        "saved": _("Saved"),
    }
