"""PDFs handed from the text step to the picture step of the same paper, in temporary files of this process.

The text step downloads a paper's PDF and drops it; the picture step, which waits for it, needs the same bytes.
Kept in memory, a day's PDFs (up to 30 MB each) would sit in the flow's process; downloaded twice, arXiv would
serve every paper twice. So the text step leaves the file here and the picture step takes it (and deletes it).
A picture step that finds nothing (another process, a PDF read in an earlier run) downloads the PDF itself.
The spool holds at most MAX_FILES files (oldest dropped first) and is removed when the process exits.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

MAX_FILES = 64  # more than a day's papers in flight; a picture step that never comes leaves no pile behind

_lock = threading.Lock()
_files: OrderedDict[str, Path] = OrderedDict()
_dir: Path | None = None


def _folder() -> Path:
    global _dir
    if _dir is None or not _dir.is_dir():
        _dir = Path(tempfile.mkdtemp(prefix="hfdaily-pdfs-"))
        atexit.register(shutil.rmtree, _dir, True)
    return _dir


def put(arxiv_id: str, pdf: bytes) -> None:
    """Leave the PDF for the paper's picture step (replacing an earlier one)."""
    with _lock:
        path = _folder() / (arxiv_id.replace("/", "_") + ".pdf")
        path.write_bytes(pdf)
        _files[arxiv_id] = path
        _files.move_to_end(arxiv_id)
        while len(_files) > MAX_FILES:
            _, old = _files.popitem(last=False)
            old.unlink(missing_ok=True)


def take(arxiv_id: str) -> bytes | None:
    """The PDF the text step left, removed from the spool; None when there is none."""
    with _lock:
        path = _files.pop(arxiv_id, None)
        if path is None:
            return None
        with contextlib.suppress(OSError):
            data = path.read_bytes()
            path.unlink(missing_ok=True)
            return data
        return None


def held() -> list[str]:
    """The ids whose PDFs wait here (tests and diagnostics)."""
    with _lock:
        return list(_files)
