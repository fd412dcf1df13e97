"""Reading generated PDFs in tests."""

from __future__ import annotations

import io

from pypdf import PdfReader


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def assert_only_embedded_cjk_font(pdf: bytes) -> None:
    """Every font the PDF uses is the embedded WenQuanYi TrueType font."""
    fonts = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            fonts[str(font["/BaseFont"])] = font
    assert fonts
    for name, font in fonts.items():
        assert "WenQuanYi" in name
        assert "/FontFile2" in font["/FontDescriptor"].get_object()
