"""First-page pictures on the site: copied from the data dir (`images/`) to the site (`img/`) for the cards shown.

The picture step (tasks/pdf/image_task.py) writes each picture once, into the data dir, the source of truth; a
render publishes the pictures of the papers on the pages it writes. A picture's name carries a digest of its bytes,
so one already on the site is the same picture: it is neither read nor written again (one listing of `img/` per
render). A card shows its picture only once it is on the site: a record whose picture is missing from the data
dir (lost, or a store copied without it) gets a card without one, never a broken image.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from tasks.log import get_logger
from tasks.models import PaperRecord
from tasks.site.output import write_page
from tasks.site.views import card_image
from tasks.storage import Storage

SITE_DIR = "img"  # on the site: img/<name>; in the data dir: images/<name> (tasks/pdf/image_task.py: IMAGES)
DATA_DIR = "images"
CHUNK = 200  # pictures read at once (≤ 8 MB)
WRITERS = 4  # writes in flight


def _source(key: str) -> str:
    return f"{DATA_DIR}/{key.removeprefix(SITE_DIR + '/')}"


def image_key(paper: PaperRecord) -> str | None:
    """The site key of the paper's picture (`img/<name>`), if its record holds a valid one."""
    image = card_image(paper)
    if image is None or not image.src.startswith(SITE_DIR + "/") or image.src.count("/") != 1:
        return None
    return image.src


class SiteImages:
    """The pictures on the site, listed once, and the copying of missing ones from the data dir."""

    def __init__(self, data: Storage, site: Storage) -> None:
        self.data, self.site = data, site
        self._present: set[str] | None = None
        self._lock = threading.Lock()

    def present(self) -> set[str]:
        with self._lock:
            if self._present is None:
                self._present = set(self.site.list(SITE_DIR))
            return self._present

    def shown(self, key: str) -> bool:
        return key in self.present()

    def publish(self, papers: Iterable[PaperRecord]) -> list[str]:
        """Copy the pictures of `papers` not on the site yet; returns the keys written.

        In chunks (a cold site of a year holds ~6000 pictures: never all in memory) and with a few writes in
        flight, since a bucket's PUTs wait on the network far more than on this process."""
        present = self.present()
        wanted = sorted({k for p in papers if (k := image_key(p)) and k not in present})
        written: list[str] = []
        if not wanted:
            return written
        with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="hfdaily-img") as pool:
            for i in range(0, len(wanted), CHUNK):
                found = self.data.read_many(_source(k) for k in wanted[i:i + CHUNK])
                jobs = [(k, found[_source(k)]) for k in wanted[i:i + CHUNK] if _source(k) in found]
                written += pool.map(lambda job: write_page(self.site, *job), jobs)
        with self._lock:
            present.update(written)
        if missing := len(wanted) - len(written):
            get_logger().warning("%d first-page pictures are not in %s: their cards show none",
                                 missing, self.data.describe(DATA_DIR))
        return written

    def prune(self) -> list[str]:
        """Delete pictures on the site whose source is gone from the data dir (a whole-site render). Pictures
        whose source is still there stay, referred to or not: a page other than the day pages may show them."""
        keep = {f"{SITE_DIR}/{k.rsplit('/', 1)[-1]}" for k in self.data.list(DATA_DIR)}
        removed = [k for k in sorted(self.present() - keep) if self.site.delete(k)]
        with self._lock:
            if self._present is not None:
                self._present.difference_update(removed)
        return removed
