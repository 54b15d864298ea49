"""Where hfdaily keeps its data and its site: a local folder or an object-storage URL, behind one seam.

    open_storage("data")                 a local folder (today's behaviour and speed)
    open_storage("s3://bucket/prefix")   S3 or an S3-compatible server (AWS_* settings, read by the AWS SDK)
    check_location(value, ...)           the one-line reason a value cannot be used, before anything is written

Everything that reads or writes the day store, the caches, the leases and the site goes through a `Storage`,
so no run depends on a local disk when the locations are URLs.
"""

from tasks.storage.base import Storage, StorageUnsupported
from tasks.storage.location import check_location, open_storage

__all__ = ["Storage", "StorageUnsupported", "check_location", "open_storage"]
