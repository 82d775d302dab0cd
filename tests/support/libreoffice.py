"""A real LibreOffice (headless, French locale) opening an xlsx: what an animator would see,
on screen (every sheet as CSV), on paper (the PDF it prints) or saved again (its own xlsx)."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

from PIL import Image

FRENCH_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Setup/L10N"><prop oor:name="ooSetupSystemLocale" oor:op="fuse"><value>fr-FR</value></prop></item>
</oor:items>
"""
CSV_FILTER = "csv:Text - txt - csv (StarCalc):59,34,76,1,,1036,false,true,true,false,false,-1"


def libreoffice_convert(xlsx: Path, outdir: Path, target: str) -> None:
    """``xlsx`` converted by LibreOffice to ``target`` (a --convert-to filter) in ``outdir``."""
    profile = outdir / "lo-profile"
    # A French LibreOffice, as animators have: the profile's locale decides how formats render.
    if not profile.exists():
        (profile / "user").mkdir(parents=True)
        (profile / "user" / "registrymodifications.xcu").write_text(
            FRENCH_PROFILE, encoding="utf-8"
        )
    subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", target, "--outdir", str(outdir), str(xlsx)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip


def libreoffice_csv(xlsx: Path, outdir: Path) -> dict[str, list[list[str]]]:
    """Every sheet of ``xlsx`` as LibreOffice renders it (one CSV per sheet), formulas computed."""
    libreoffice_convert(xlsx, outdir, CSV_FILTER)
    sheets = {}
    for path in outdir.glob(f"{xlsx.stem}-*.csv"):
        with open(path, encoding="utf-8") as fh:
            sheets[path.stem.removeprefix(f"{xlsx.stem}-")] = list(csv.reader(fh, delimiter=";"))
    return sheets


def libreoffice_pdf(xlsx: Path, outdir: Path) -> Path:
    """The PDF LibreOffice prints for ``xlsx``."""
    libreoffice_convert(xlsx, outdir, "pdf")
    return outdir / f"{xlsx.stem}.pdf"


def pdf_pages(pdf: Path) -> list[str]:
    """The text of each page of ``pdf`` (pdftotext: text a drawing clips away is still there)."""
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, timeout=60
    ).stdout.decode("utf-8")
    return text.split("\f")[:-1]  # pdftotext ends every page with a form feed


def pdf_page_image(pdf: Path, page: int, outdir: Path) -> Image.Image:
    """Page ``page`` (from 1) of ``pdf`` as printed, in colour, at 30 dpi."""
    prefix = outdir / f"{pdf.stem}-page"
    subprocess.run(
        ["pdftoppm", "-f", str(page), "-l", str(page), "-r", "30", "-png", "-singlefile", str(pdf), str(prefix)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    with Image.open(prefix.with_suffix(".png")) as image:
        return image.convert("RGB")


def libreoffice_resaved(xlsx: Path, outdir: Path) -> Path:
    """``xlsx`` opened and saved again by LibreOffice (its own writer, in ``outdir``)."""
    outdir.mkdir(parents=True, exist_ok=True)
    libreoffice_convert(xlsx, outdir, "xlsx:Calc MS Excel 2007 XML")
    return outdir / xlsx.name
