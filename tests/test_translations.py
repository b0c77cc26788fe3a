"""The Spanish and Portuguese catalogues are complete, keep their placeholders, and are used.

When someone adds a user-facing string, `make translations` puts it in the catalogues with an
empty msgstr and the completeness test below fails until it is translated: that is intended.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parent.parent / "edp" / "translations"
POT = TRANSLATIONS / "messages.pot"
LANGUAGES = ("es", "pt")

# `%(name)s` (Python format, also used by Jinja's `_()` keyword arguments) and `{name}`
# (filled in by the page scripts, see edp/ui_strings.py).
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|\{\w*\}")


def _read(path: Path, locale: str | None = None):
    with open(path, "rb") as fh:
        return read_po(fh, locale=locale)


def _forms(value) -> list[str]:
    """msgid/msgstr as a list: plural entries are tuples."""
    if isinstance(value, (tuple, list)):
        return list(value)
    return [value]


def _key(msgid) -> str:
    return _forms(msgid)[0]


@pytest.fixture(scope="module")
def template_ids() -> list:
    return [m.id for m in _read(POT) if m.id]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_template_string_is_translated(lang, template_ids):
    catalog = _read(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", lang)
    untranslated, fuzzy = [], []
    for msgid in template_ids:
        msg = catalog.get(msgid)
        if msg is None or not all(s.strip() for s in _forms(msg.string)):
            untranslated.append(_key(msgid))
        elif msg.fuzzy:
            fuzzy.append(_key(msgid))
    assert template_ids, "the .pot is empty; run `make translations`"
    assert not untranslated, (
        f"{len(untranslated)} string(s) not translated in {lang} "
        f"(run `make translations`, then translate): {untranslated}"
    )
    assert not fuzzy, f"fuzzy (unchecked) translations in {lang}: {fuzzy}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_placeholders_are_kept(lang):
    catalog = _read(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", lang)
    wrong = []
    for msg in catalog:
        if not msg.id:
            continue
        expected = set().union(*(PLACEHOLDER.findall(s) for s in _forms(msg.id)))
        for form in _forms(msg.string):
            if form and set(PLACEHOLDER.findall(form)) != expected:
                wrong.append((_key(msg.id), form))
    assert not wrong, f"placeholders differ between msgid and msgstr in {lang}: {wrong}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_compiled_catalogue_is_current(lang):
    """The app reads the .mo; a stale one would hide translations (`make setup` compiles)."""
    po = _read(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", lang)
    mo_path = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo"
    assert mo_path.exists(), f"{mo_path} is missing: run `pybabel compile -d edp/translations`"
    with open(mo_path, "rb") as fh:
        mo = read_mo(fh)
    stale = [_key(m.id) for m in po
             if m.id and m.string and (mo.get(m.id) is None
                                        or _forms(mo.get(m.id).string) != _forms(m.string))]
    assert not stale, f"{mo_path} is older than the .po: run `pybabel compile -d edp/translations`"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_error_messages_render_in_the_language(app, lang):
    from flask_babel import force_locale

    from edp.workshop import MESSAGES

    with app.test_request_context():
        english = str(MESSAGES["over_budget"])
        with force_locale(lang):
            translated = str(MESSAGES["over_budget"])
    assert english == "You do not have that many points left."
    assert translated and translated != english


@pytest.mark.parametrize(
    "lang, expected",
    [
        ("es", ("Unirse al taller", "¿Qué grupo representa?")),
        ("pt", ("Entrar na oficina", "Qual grupo você representa?")),
    ],
)
def test_participant_page_in_the_chosen_language(app, world, lang, expected):
    world.facilitator()
    ws = world.workshop()
    client = app.test_client()
    response = client.get(f"/w/{ws['code']}?lang={lang}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'lang="{lang}"' in html
    for text in expected:
        assert text in html
    assert "Join the workshop" not in html
