"""Upload names (issue 16): NFKC first, then the last component, then invisible characters
dropped, so nothing that looks like a path or hides its extension survives."""

from __future__ import annotations

import pytest

from ingest.upload_staging import display_name

FULL_WIDTH = "..\uff0f..\uff0f\uff45\uff56\uff49\uff4c.md"  # full-width "../../evil.md"


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        (FULL_WIDTH, "evil.md"),  # normalised before the path is cut
        ("..\uff3c..\uff3cevil.md", "evil.md"),  # full-width backslash
        ("C:\\Users\\x\\report.docx", "report.docx"),
        ("/etc/passwd", "passwd"),
        ("invoice\u202efdp.exe.md", "invoicefdp.exe.md"),  # right-to-left override
        ("a\u2066b\u2069c.md", "abc.md"),  # bidi isolates
        ("zero\u200bwidth.md", "zerowidth.md"),
        ("tab\there\x00.md", "tabhere.md"),
        ("..", "upload"),
        ("\uff0e\uff0e", "upload"),  # full-width ".." is ".." after NFKC
        ("", "upload"),
        ("\u202e", "upload"),
        ("caf\u0065\u0301.md", "caf\u00e9.md"),  # composed
    ],
)
def test_names_are_normalised_then_cut_then_stripped(sent: str, shown: str) -> None:
    assert display_name(sent) == shown
