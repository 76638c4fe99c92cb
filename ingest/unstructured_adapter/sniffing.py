"""What a file really is, from its bytes: uploads are typed by content, not by their name."""

from __future__ import annotations

from pathlib import Path

from unstructured.file_utils.filetype import detect_filetype
from unstructured.file_utils.model import FileType

from core.errors import UnsupportedFormatError
from ingest.formats import SUPPORTED_EXTENSIONS, TEXT_FORMATS

# Detection of text formats leans on the name (markdown and plain text look alike), so a
# text verdict only confirms a declared text format; binary formats are told by magic bytes.
_INCONCLUSIVE = frozenset({FileType.TXT, FileType.UNK, FileType.EMPTY})


def sniff_extension(path: Path, declared_name: str) -> str:
    """The extension (``.pdf``) to ingest ``path`` as, given the name a client declared.

    Known binary content wins over the name: a PDF sent as ``notes.docx`` is parsed as a PDF.
    Content of a known type Citewise does not ingest (an image, an archive, an executable)
    raises UnsupportedFormatError. When the bytes are inconclusive (text, or unrecognisable
    binary such as a corrupt file) the declared extension stands, and the parser reports
    whatever is wrong with the file.
    """
    declared = Path(declared_name).suffix.lower()
    if declared not in SUPPORTED_EXTENSIONS:
        shown = declared or "no extension"
        raise UnsupportedFormatError(f"unsupported file type ({shown}); supported: {_names()}")
    try:
        detected = detect_filetype(file_path=str(path), metadata_file_path=declared_name)
    except Exception:  # noqa: BLE001 - detection is advisory; the parser has the last word
        return declared
    if detected in _INCONCLUSIVE or detected is None:
        return declared
    extensions = tuple(detected._extensions)
    if declared in extensions:
        return declared
    if detected in (FileType.HTML, FileType.MD, FileType.CSV, FileType.TSV):
        # Text formats are guessed from the name, so they never contradict a text name.
        return declared if declared in TEXT_FORMATS else extensions[0]
    supported = [e for e in extensions if e in SUPPORTED_EXTENSIONS]
    if supported:
        return supported[0]
    raise UnsupportedFormatError(
        f"the content is {detected.name} ({detected.mime_type}), not a supported document"
    )


def _names() -> str:
    return ", ".join(sorted(e.lstrip(".") for e in SUPPORTED_EXTENSIONS))
