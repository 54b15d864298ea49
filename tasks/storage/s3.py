"""S3 (or an S3-compatible server) as storage, with the conditional writes S3 has had since 2024.

Plain operations are fsspec's (s3fs), with content types on writes. The conditional ones call PutObject
through s3fs's own client, so credentials, endpoint and region come from the standard AWS settings
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, AWS_ENDPOINT_URL) as the AWS SDK reads them:
- create:  PutObject with `If-None-Match: *`  → 412 (or 409 for a concurrent conditional write) if present;
- replace: PutObject with `If-Match: <ETag>`  → 412 if the object changed, 404 if it is gone.
A version is the object's ETag.
"""

from __future__ import annotations

from typing import Any

from fsspec.asyn import sync

from tasks.storage.remote import FsspecStorage

_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}


def _is_conflict(exc: BaseException) -> bool:
    """Whether a (translated) s3fs error is a failed precondition rather than a real failure."""
    if isinstance(exc, FileExistsError):
        return True
    cause = exc.__cause__
    response = getattr(cause, "response", None)
    if not isinstance(response, dict):
        return False
    code = str(response.get("Error", {}).get("Code", ""))
    status = str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return code in _CONFLICT_CODES or status in {"409", "412"}


class S3Storage(FsspecStorage):
    def _split(self, key: str) -> tuple[str, str]:
        bucket, _, path = self._path(key).partition("/")
        return bucket, path

    def write(self, key: str, data: bytes, *, content_type: str | None = None, durable: bool = False) -> None:
        self._put(key, data, content_type)

    def _put(self, key: str, data: bytes, content_type: str | None, **condition: str) -> str:
        bucket, path = self._split(key)
        extra: dict[str, Any] = {"ContentType": content_type} if content_type else {}
        out = self.fs.call_s3("put_object", Bucket=bucket, Key=path, Body=data, **extra, **condition)
        return str(out["ETag"])

    def delete(self, key: str) -> bool:
        if not self.exists(key):  # S3 answers a delete of a missing key with success
            return False
        self.fs.rm_file(self._path(key))
        return True

    def read_versioned(self, key: str) -> tuple[bytes, str] | None:
        bucket, path = self._split(key)
        try:
            return sync(self.fs.loop, _get_with_etag, self.fs, bucket, path)
        except FileNotFoundError:
            return None

    def create(self, key: str, data: bytes, *, content_type: str | None = None) -> str | None:
        try:
            return self._put(key, data, content_type, IfNoneMatch="*")
        except OSError as exc:
            if _is_conflict(exc):
                return None
            raise

    def replace(self, key: str, data: bytes, version: str, *, content_type: str | None = None) -> str | None:
        try:
            return self._put(key, data, content_type, IfMatch=version)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if _is_conflict(exc):
                return None
            raise


async def _get_with_etag(fs: Any, bucket: str, key: str) -> tuple[bytes, str]:
    """GetObject: the body and the ETag of the very version read (a HEAD then a GET could see two)."""
    resp = await fs._call_s3("get_object", Bucket=bucket, Key=key)
    try:
        return await resp["Body"].read(), str(resp["ETag"])
    finally:
        resp["Body"].close()
