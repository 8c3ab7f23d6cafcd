"""Clients shared across offline worlds: a world's handlers leave with it, and open worlds never share."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from distill_cli.offline.client_pool import ClientPool


@pytest.fixture
def pool() -> ClientPool:
    return ClientPool(lambda service: boto3.session.Session().client(service, region_name="us-east-1"))


def _list_topics(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_response("list_topics", {"Topics": []})
        client.list_topics()


def test_given_a_world_that_registered_a_handler_when_it_closes_then_the_next_world_gets_the_client_without_it(
    pool: ClientPool,
) -> None:
    calls: list[str] = []
    first = pool.lease()
    sns = first.client("sns")
    first.on(sns, "before-parameter-build", lambda **_: calls.append("first world"))
    _list_topics(sns)
    first.close()

    second = pool.lease()
    again = second.client("sns")
    _list_topics(again)

    assert again is sns and pool.made == 1
    assert calls == ["first world"]


def test_given_two_worlds_open_at_once_when_they_borrow_then_each_has_its_own_client(pool: ClientPool) -> None:
    one, two = pool.lease(), pool.lease()
    assert one.client("sqs") is not two.client("sqs")
    one.close()
    two.close()
    three = pool.lease()
    assert three.client("sqs") is not three.client("sqs")
    assert pool.made == 2
