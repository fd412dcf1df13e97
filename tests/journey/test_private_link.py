"""The private link on a kept profile's results page, its QR code, the PDF that
prints both, and the PDF following the page's sections."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from http import HTTPStatus

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from PIL import Image

from programs.journey import kept, views
from programs.models import BusinessProfile
from tests.builders import STALL, keep
from tests.factories import CriterionFactory
from tests.pdfs import pdf_text

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]

WARNING = (
    "Anyone with this link can see and change your answers. "
    "Share it only with people you trust."
)


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def flat(text: str) -> str:
    return " ".join(text.split())


def link_text(page: str) -> str:
    found = re.search(r'<code [^>]*id="private-link-text"[^>]*>([^<]*)</code>', page)
    assert found, "no private link text on the page"
    return html.unescape(found.group(1))


# -- the page ------------------------------------------------------------------------------


def test_kept_page_shows_the_absolute_link_as_text_and_its_qr_code(client):
    token = keep(client)
    page = client.get(reverse("programs:results", args=[token])).content.decode()

    assert link_text(page) == f"http://testserver/r/{token}/"
    assert f'<img src="/r/{token}/qr.svg"' in page
    assert WARNING in page
    assert "reliefmatch-origin-placeholder" not in page


@override_settings(ALLOWED_HOSTS=["testserver", "relief.example.cn"])
def test_link_text_is_the_address_each_visitor_came_by_though_the_page_is_cached(
    client,
):
    token = keep(client)
    url = reverse("programs:results", args=[token])

    first = client.get(url).content.decode()
    later = client.get(url, headers={"host": "relief.example.cn"}, secure=True)

    assert link_text(first) == f"http://testserver/r/{token}/"
    assert link_text(later.content.decode()) == f"https://relief.example.cn/r/{token}/"


def test_a_signed_link_shows_itself_and_its_own_qr_code(client):
    keep(client)
    signed = kept.signed_link_token(BusinessProfile.objects.get())

    page = client.get(reverse("programs:results", args=[signed])).content.decode()

    assert link_text(page) == "http://testserver" + reverse(
        "programs:results", args=[signed]
    )
    assert f'src="{reverse("programs:results_qr", args=[signed])}"' in page


def test_copy_button_waits_for_javascript_and_the_script_is_a_static_file(client):
    token = keep(client)
    page = client.get(reverse("programs:results", args=[token])).content.decode()

    button = re.search(r"<button [^>]*data-copy-from=\"private-link-text\"[^>]*>", page)
    assert button
    assert " hidden " in button.group(0)
    assert 'data-copied="Copied"' in button.group(0)
    assert '<script src="/static/programs/copy-link.js" defer></script>' in page
    # The Content-Security-Policy allows no inline script.
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []


def test_unsaved_results_have_no_private_link_and_no_qr_code(client):
    page = client.post(reverse("programs:profile_form"), STALL).content.decode()

    assert "qr.svg" not in page
    assert 'id="private-link-text"' not in page
    assert "copy-link.js" not in page


def test_programme_text_holding_the_origin_marker_is_shown_as_written(client):
    CriterionFactory(
        programme__slug="marker",
        programme__name_en="Loans <!-- reliefmatch-origin-placeholder -->",
        field="employees",
        operator="lte",
        value="5",
    )
    token = keep(client)

    page = client.get(reverse("programs:results", args=[token])).content.decode()

    assert "Loans &lt;!-- reliefmatch-origin-placeholder --&gt;" in page
    assert page.count("http://testserver/") == 1  # the link text only


# -- the QR code ---------------------------------------------------------------------------


def svg_modules(svg: bytes) -> set[tuple[int, int]]:
    """Return the dark modules (column, row) of segno's SVG path."""
    path = re.search(rb'<path stroke="#000" d="([^"]+)"', svg)
    assert path
    dark = set()
    x = y = 0.0
    for command, numbers in re.findall(r"([Mmh])([-\d. ]+)", path.group(1).decode()):
        values = [float(n) for n in numbers.split()]
        if command == "M":
            x, y = values
        elif command == "m":
            x, y = x + values[0], y + values[1]
        else:
            dark.update((int(x) + i, int(y)) for i in range(int(values[0])))
            x += values[0]
    return dark


def decode_qr(svg: bytes, tmp_path) -> str:
    """Draw the SVG's modules into a PNG and read it with zbarimg."""
    size = int(re.search(rb'viewBox="0 0 (\d+) ', svg).group(1))
    scale = 8
    image = Image.new("L", (size * scale, size * scale), 255)
    for column, row in svg_modules(svg):
        image.paste(
            0, (column * scale, row * scale, (column + 1) * scale, (row + 1) * scale)
        )
    png = tmp_path / "qr.png"
    image.save(png)
    result = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(png)],
        capture_output=True,
        check=True,
        text=True,
        timeout=30,
    )
    return result.stdout.strip()


def test_qr_code_is_an_svg_of_the_link_kept_out_of_shared_caches(client):
    token = keep(client)

    response = client.get(reverse("programs:results_qr", args=[token]))

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "image/svg+xml"
    assert "private" in response["Cache-Control"]
    assert "no-store" in response["Cache-Control"]
    assert response.content.startswith(b"<svg")
    assert response.content == views.qr_svg(f"http://testserver/r/{token}/")


@pytest.mark.skipif(
    shutil.which("zbarimg") is None and not os.environ.get("CI"),
    reason="zbarimg (Debian package zbar-tools) is not installed",
)
def test_qr_code_scans_to_the_private_link(client, tmp_path):
    token = keep(client)

    svg = client.get(reverse("programs:results_qr", args=[token])).content

    assert decode_qr(svg, tmp_path) == f"http://testserver/r/{token}/"


def test_each_link_has_its_own_qr_code_and_an_unknown_one_none(client):
    first, second = keep(client), keep(client)

    codes = [
        client.get(reverse("programs:results_qr", args=[token])).content
        for token in (first, second)
    ]
    unknown = client.get(reverse("programs:results_qr", args=["x" * 43]))

    assert codes[0] != codes[1]
    assert unknown.status_code == HTTPStatus.NOT_FOUND


def test_qr_code_only_reads_the_database(client):
    token = keep(client)

    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("programs:results_qr", args=[token]))

    assert len(queries) == 1
    assert queries[0]["sql"].lstrip().upper().startswith("SELECT")


# -- the PDF -------------------------------------------------------------------------------


def test_kept_pdf_prints_the_link_with_its_warning(client):
    token = keep(client)

    text = flat(
        pdf_text(
            client.get(reverse("programs:report_kept", args=[token, "pdf"])).content
        )
    )

    assert "Your private link" in text
    assert f"http://testserver/r/{token}/" in text.replace(" ", "")
    assert WARNING in text


def test_unsaved_pdf_prints_no_link(client):
    response = client.post(reverse("programs:report_unsaved", args=["pdf"]), STALL)

    text = flat(pdf_text(response.content))

    assert "Your private link" not in text
    assert "/r/" not in text
    assert WARNING not in text


@pytest.mark.skipif(
    (shutil.which("pdftoppm") is None or shutil.which("zbarimg") is None)
    and not os.environ.get("CI"),  # .ci/run installs both: never skipped there
    reason="pdftoppm (poppler-utils) or zbarimg (zbar-tools) is not installed",
)
def test_kept_pdf_qr_code_scans_to_the_link(client, tmp_path):
    token = keep(client)
    source = tmp_path / "report.pdf"
    source.write_bytes(
        client.get(reverse("programs:report_kept", args=[token, "pdf"])).content
    )

    subprocess.run(
        ["pdftoppm", "-r", "100", "-png", str(source), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    last_page = sorted(tmp_path.glob("page-*.png"))[-1]
    found = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(last_page)],
        capture_output=True,
        check=True,
        text=True,
        timeout=30,
    )

    assert found.stdout.strip() == f"http://testserver/r/{token}/"


class Outline(HTMLParser):
    """What the results page shows, in order: its section headings and its
    cards' names, unfolded or folded (behind a <details>: the might-fits you
    may also get, and the rest)."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[tuple[str, str]] = []  # ("heading" or "card", text)
        self.folded: list[str] = []
        self.depth = 0  # of <details>
        self.kind = ""
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list) -> None:
        found = dict(attrs)
        if tag == "details":
            self.depth += 1
        elif tag == "h2" and re.fullmatch(
            r"(for_needs|also|near_miss|rest)-title", found.get("id") or ""
        ):
            self.kind, self.text = "heading", ""
        elif tag == "h3" and "card-title" in (found.get("class") or ""):
            self.kind, self.text = ("folded" if self.depth else "card"), ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "details":
            self.depth -= 1
        elif tag in ("h2", "h3") and self.kind:
            if self.kind == "folded":
                self.folded.append(flat(self.text))
            else:
                self.shown.append((self.kind, flat(self.text)))
            self.kind = ""

    def handle_data(self, data: str) -> None:
        if self.kind:
            self.text += data


def no_space(text: str) -> str:
    return re.sub(r"\s", "", text)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_pdf_shows_the_pages_sections_and_cards_in_the_pages_order(client, language):
    token = keep(client)
    accept = {"accept-language": "zh-CN" if language == "zh-hans" else "en"}
    page = client.get(reverse("programs:results", args=[token]), headers=accept)
    pdf = client.get(
        reverse("programs:report_kept", args=[token, "pdf"]), headers=accept
    )
    text = no_space(pdf_text(pdf.content))
    outline = Outline()
    outline.feed(page.content.decode())

    # For what you need, you may also get, one step away, and the rest.
    assert [kind for kind, _text in outline.shown].count("heading") == 4
    assert [kind for kind, _text in outline.shown].count("card") >= 5
    # Each after the one before, from below the headline's counts (which
    # repeat some headings' words); str.index raises when one is missing.
    place = text.index("2020-06-15")
    rank = 0
    for kind, shown in outline.shown:
        if kind == "card":
            rank += 1
            shown = f"{rank}. {shown}"
        place = text.index(no_space(shown), place + 1)
    # What the page folds away gets no card in the PDF either.
    assert outline.folded
    for name in outline.folded:
        assert re.search(rf"\d+\.{re.escape(no_space(name))}", text) is None
