"""A real LibreOffice (headless, French locale) opening an xlsx: what an animator would see."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

FRENCH_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Setup/L10N"><prop oor:name="ooSetupSystemLocale" oor:op="fuse"><value>fr-FR</value></prop></item>
</oor:items>
"""


def libreoffice_csv(xlsx: Path, outdir: Path) -> dict[str, list[list[str]]]:
    """Every sheet of ``xlsx`` as LibreOffice renders it (one CSV per sheet), formulas computed."""
    profile = outdir / "lo-profile"
    # A French LibreOffice, as animators have: the profile's locale decides how formats render.
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(FRENCH_PROFILE, encoding="utf-8")
    filt = "csv:Text - txt - csv (StarCalc):59,34,76,1,,1036,false,true,true,false,false,-1"
    subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", filt, "--outdir", str(outdir), str(xlsx)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    sheets = {}
    for path in outdir.glob(f"{xlsx.stem}-*.csv"):
        with open(path, encoding="utf-8") as fh:
            sheets[path.stem.removeprefix(f"{xlsx.stem}-")] = list(csv.reader(fh, delimiter=";"))
    return sheets
