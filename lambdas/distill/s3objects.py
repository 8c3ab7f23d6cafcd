"""Finding an object by listing its exact key.

S3 answers a GET or HEAD of a missing key with 403, not 404, when the caller may not list the bucket ("If you
don't have the s3:ListBucket permission, Amazon S3 returns an HTTP status code 403 Access Denied error",
GetObject API reference), and our functions may list only their own prefixes. Listing with the key as the
prefix is authorized by such a prefix-scoped grant and tells "missing" from "not allowed" for certain: the key
itself, if it exists, is the first one listed (keys are listed in UTF-8 binary order).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus


def listed(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """The listing entry (Key, Size, ETag, ...) of ``key``, or None when there is no such object."""
    page = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    first = (page.get("Contents") or [None])[0]
    return first if first and first.get("Key") == key else None


def delivered_key(s3: Any, bucket: str, key: str, etag: str = "") -> tuple[str, dict[str, Any]] | None:
    """The object an event names. Keys in S3 event notifications are URL-encoded ("red flower.jpg" becomes
    "red+flower.jpg"); EventBridge's may not be. Try the key as delivered, then decoded, and prefer the one whose
    ETag is the event's: the right object either way, never a look-alike."""
    found = []
    for candidate in dict.fromkeys((key, unquote_plus(key))):
        entry = listed(s3, bucket, candidate)
        if entry is not None:
            if not etag or entry.get("ETag", "").strip('"') == etag.strip('"'):
                return candidate, entry
            found.append((candidate, entry))
    return found[0] if found else None
