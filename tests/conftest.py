"""Suite-wide set-up: no test may reach AWS, and Powertools stays quiet."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from distill_cli.offline.synthesis import SynthesizedApp

# Set before any boto3 client exists, so nothing can find real credentials or a real region.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "distill-pipeline",
        "POWERTOOLS_METRICS_NAMESPACE": "DistillPipeline",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        # The CDK's built-in CloudFormation validator (about 2.5 s of each synth) stays off in the suite: `make
        # lint`'s synth runs it as an error gate (validateAgainstDefaultRules in cdk.json).
        "CDK_VALIDATION": "false",
    }
)
os.environ.pop("AWS_PROFILE", None)


def _reuse_one_default_session() -> None:
    """moto starts each mock with no boto3 default session, so every test would build a session and load the
    service models and endpoint rules again (most of a moto test's set-up time). Once moto is imported (its
    handler is then in every new session), the default session is one shared session: the credentials and region
    are the fake ones above in every test. Before moto is imported, and with arguments, boto3 behaves as usual.
    moto's URL tables are memoized then too (distill_cli/offline/moto_urls.py), as the offline world does."""
    import sys

    import boto3

    original = boto3.setup_default_session

    def setup_default_session(**kwargs: object) -> None:
        if kwargs or "moto" not in sys.modules:
            original(**kwargs)  # type: ignore[arg-type]
            return
        from distill_cli.offline.client_pool import shared_session
        from distill_cli.offline.moto_urls import memoize_moto_urls

        memoize_moto_urls()
        boto3.DEFAULT_SESSION = shared_session()  # the offline world's session too: models loaded once

    boto3.setup_default_session = setup_default_session  # type: ignore[assignment]


_reuse_one_default_session()


def _skip_a_workers_teardown() -> None:
    """An xdist worker's results are with the controller once it exits; freeing its objects one by one (moto's
    backends, botocore's models, hypothesis) then takes the interpreter 1-2 s that the whole run waits for. This
    runs after every exit handler registered later than this module (jsii's, pytest's temporary directories)."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if "PYTEST_XDIST_WORKER" in os.environ:
    import atexit

    atexit.register(_skip_a_workers_teardown)


def pytest_configure(config: pytest.Config) -> None:
    if "PYTEST_XDIST_WORKER" not in os.environ:  # the run's owner: xdist's controller, or pytest alone
        from tests.support import shared_run

        shared_run.own_run()


def pytest_unconfigure(config: pytest.Config) -> None:
    if "PYTEST_XDIST_WORKER" not in os.environ:
        from tests.support import pinned_cli, shared_run

        pinned_cli.stop()
        shared_run.clean()


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """The file of the pinned CLI's test goes last (under xdist's --dist loadfile, to the first worker free at the
    end), so the background synth has had the whole run to finish before the test waits for it."""
    from tests.support import pinned_cli

    last = [item for item in items if item.nodeid.startswith(pinned_cli.TEST.split("::")[0])]
    items[:] = [item for item in items if item not in last] + last


def pytest_collection_finish(session: pytest.Session) -> None:
    """The pinned CLI's synth (test_infra_bundling.py) runs in the background from here, if that test was
    collected and not deselected: tests/support/pinned_cli.py."""
    from tests.support import pinned_cli

    if not session.config.option.collectonly and any(item.nodeid.startswith(pinned_cli.TEST) for item in session.items):
        pinned_cli.start()


@pytest.fixture(scope="session")
def synthesized() -> SynthesizedApp:
    """The app synthesized once per test run (bundling skipped): the offline world's templates, and the
    infrastructure tests' (tests/infrastructure/conftest.py). Under xdist the first worker to need it synthesizes
    into the run's shared directory and the others read that (tests/support/shared_run.py): one jsii synth, not one
    per worker."""
    import dataclasses

    from distill_cli.offline.synthesis import SynthesizedApp, synthesize
    from tests.support import shared_run

    def make() -> dict[str, object]:
        return dataclasses.asdict(synthesize(outdir=str(shared_run.directory() / "default-synth")))

    return SynthesizedApp(**shared_run.once("default-synth", make))
