"""S3: sources that stream objects, and a sink that makes its object appear only when complete.

Only the client passed in talks to AWS (made by distill.aws in the Lambda, by the CLI, or by moto in tests).
"""

from __future__ import annotations

from typing import Any

from distill.dataset.local import DATASET_SUFFIXES
from distill.locations import S3Location
from distill.s3objects import listed

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last
DEFAULT_PART_SIZE = 8 * 1024 * 1024


class S3ObjectSource:
    def __init__(self, s3: Any, bucket: str, key: str, size: int | None = None) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.key = key
        self.size = size
        self.name = f"s3://{bucket}/{key}"

    def open(self) -> Any:
        # The streaming body is read chunk by chunk; the object is never held in memory whole.
        return self.s3.get_object(Bucket=self.bucket, Key=self.key)["Body"]

    def __repr__(self) -> str:
        return f"S3ObjectSource({self.name!r})"


def s3_sources(s3: Any, uri: str) -> list[S3ObjectSource]:
    """One object, or every .jsonl/.jsonl.gz object under a prefix (a URI ending with '/'), in key order."""
    where = S3Location.parse(uri)
    if where.is_prefix:
        found = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=where.bucket, Prefix=where.key):
            for item in page.get("Contents", []):
                if item["Key"].endswith(DATASET_SUFFIXES):
                    found.append(S3ObjectSource(s3, where.bucket, item["Key"], item.get("Size")))
        if not found:
            raise ValueError(f"{uri}: no .jsonl or .jsonl.gz objects under this prefix")
        # S3 lists in UTF-8 byte order already; sorting makes that explicit and independent of the client.
        return sorted(found, key=lambda source: source.key.encode())
    entry = listed(s3, where.bucket, where.key)
    if entry is None:
        raise ValueError(f"{uri}: no such object (to read a folder, end the URI with '/')")
    return [S3ObjectSource(s3, where.bucket, where.key, entry.get("Size"))]


class S3MultipartSink:
    """Buffers parts of ``part_size`` bytes into a multipart upload, completed on commit, aborted on abort.

    S3 shows no object until CompleteMultipartUpload, so a failed run never leaves half a dataset, and an
    existing object is replaced only by a complete one. Output smaller than one part is sent with a single
    PutObject at commit, which is just as atomic.
    """

    def __init__(self, s3: Any, uri: str, part_size: int = DEFAULT_PART_SIZE) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum part size)")
        where = S3Location.parse(uri)
        if where.is_prefix:
            raise ValueError(f"{uri}: the output must be an object key, not a prefix")
        self.s3 = s3
        self.bucket, self.key = where.bucket, where.key
        self.part_size = part_size
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []
        self._buffer = bytearray()
        self._done = False

    def write(self, data: bytes) -> None:
        if self._done:
            raise RuntimeError(f"s3://{self.bucket}/{self.key}: sink already committed or aborted")
        self._buffer += data
        while len(self._buffer) >= self.part_size:
            part = bytes(self._buffer[: self.part_size])
            del self._buffer[: self.part_size]
            self._upload(part)

    def _upload(self, body: bytes) -> None:
        if self.upload_id is None:
            self.upload_id = self.s3.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType="application/jsonl"
            )["UploadId"]
        number = len(self.parts) + 1
        answer = self.s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=body
        )
        part = {"PartNumber": number, "ETag": answer["ETag"]}
        # Newer botocore sends a CRC32 with each part; completing then needs it back.
        if answer.get("ChecksumCRC32"):
            part["ChecksumCRC32"] = answer["ChecksumCRC32"]
        self.parts.append(part)

    def commit(self) -> None:
        if self._done:
            raise RuntimeError(f"s3://{self.bucket}/{self.key}: sink already committed or aborted")
        try:
            if self.upload_id is None:
                self.s3.put_object(
                    Bucket=self.bucket, Key=self.key, Body=bytes(self._buffer), ContentType="application/jsonl"
                )
            else:
                if self._buffer:
                    self._upload(bytes(self._buffer))
                self.s3.complete_multipart_upload(
                    Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": self.parts}
                )
        except BaseException:
            self.abort()
            raise
        self._done = True
        self._buffer = bytearray()

    def abort(self) -> None:
        self._done = True
        self._buffer = bytearray()
        if self.upload_id is not None:
            upload_id, self.upload_id = self.upload_id, None
            # Without this the parts stay stored (and billed) until a lifecycle rule removes them.
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=upload_id)
