"""moto's URL tables, kept per backend class and per the settings moto builds them from."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from moto.core.base_backend import BaseBackend
from moto.s3.models import S3Backend

from distill_cli.offline import moto_urls


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the tables built: the memo wraps whatever BaseBackend.urls was when it was installed."""
    built: list[str] = []
    monkeypatch.setattr(moto_urls, "_TABLES", {})
    original = BaseBackend.urls
    build = getattr(original.fget, "__wrapped__", original.fget)

    def counting(backend: object) -> object:
        built.append(type(backend).__name__)
        return build(backend)  # type: ignore[misc]

    monkeypatch.setattr(BaseBackend, "urls", property(counting))
    moto_urls.memoize_moto_urls()
    return built


def test_given_the_memo_when_s3_is_called_many_times_then_its_table_is_built_once(builds: list[str]) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="data")
        for n in range(5):
            s3.put_object(Bucket="data", Key=f"k{n}", Body=b"x")
        assert s3.get_object(Bucket="data", Key="k4")["Body"].read() == b"x"
    assert builds.count("S3Backend") == 1


def test_given_a_custom_s3_endpoint_set_later_when_a_request_comes_then_the_table_is_built_again(
    builds: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = S3Backend("us-east-1", "123456789012")
    before = backend.urls
    monkeypatch.setenv("MOTO_S3_CUSTOM_ENDPOINTS", "https://objects.example.test")
    after = backend.urls
    assert builds == ["S3Backend", "S3Backend"]
    assert not any("objects.example.test" in url for url in before)
    assert any("objects.example.test" in url for url in after)
    assert backend.urls is after


def test_given_the_memo_installed_twice_when_used_then_it_wraps_moto_once(builds: list[str]) -> None:
    installed = BaseBackend.urls
    moto_urls.memoize_moto_urls()
    assert BaseBackend.urls is installed  # a second wrapper would hide behind the first one's memo otherwise
    assert S3Backend("us-east-1", "123456789012").urls
    assert builds == ["S3Backend"]
