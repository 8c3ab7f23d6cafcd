"""requestMetadataFilters: exactly the union botocore's bedrock model defines, refused otherwise with a JSON path;
and which requestMetadata each form selects."""

from __future__ import annotations

import botocore.session
import pytest
from hypothesis import given
from hypothesis import strategies as st

from distill.invocation_logs import (
    AndAll,
    Equals,
    FilterError,
    NotEquals,
    OrAll,
    describe,
    invocation_logs_config,
    matches,
    parse_filter,
    request_metadata,
    to_api,
)


def base(index: int, op: str = "equals") -> dict:
    return {op: {f"k{index}": f"v{index}"}}


# --- the shape, checked against botocore's model itself ------------------------------------------------------
def test_given_botocores_bedrock_model_when_read_then_the_filter_shapes_are_the_ones_the_parser_enforces() -> None:
    shapes = botocore.session.get_session().get_service_model("bedrock")._shape_resolver._shape_map
    union = shapes["RequestMetadataFilters"]
    assert union["union"] is True and sorted(union["members"]) == ["andAll", "equals", "notEquals", "orAll"]
    assert shapes["RequestMetadataFiltersList"]["min"] == 1 and shapes["RequestMetadataFiltersList"]["max"] == 16
    assert sorted(shapes["RequestMetadataBaseFilters"]["members"]) == ["equals", "notEquals"]
    assert (shapes["RequestMetadataMap"]["min"], shapes["RequestMetadataMap"]["max"]) == (1, 1)
    assert shapes["RequestMetadataMapKeyString"]["pattern"] == "[a-zA-Z0-9\\s._:/=+$@-]{1,256}"
    assert shapes["RequestMetadataMapValueString"]["max"] == 256


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ({"equals": {"use-case": "support"}}, Equals("use-case", "support")),
        ({"notEquals": {"team": ""}}, NotEquals("team", "")),
        ({"andAll": [base(1), base(2, "notEquals")]}, AndAll((Equals("k1", "v1"), NotEquals("k2", "v2")))),
        ({"orAll": [base(1)]}, OrAll((Equals("k1", "v1"),))),
    ],
)
def test_given_each_form_when_parsed_then_typed_and_back_to_the_same_api_json(raw: dict, parsed: object) -> None:
    assert parse_filter(raw) == parsed
    assert to_api(parse_filter(raw)) == raw


# (id, filter, JSON path named, words in the message)
REFUSED = [
    ("empty", {}, "$.requestMetadataFilters", "exactly one of equals, notEquals, andAll, orAll; got none"),
    ("two-members", {"equals": {"a": "b"}, "orAll": [base(1)]}, "$.requestMetadataFilters", "got equals and orAll"),
    ("unknown", {"eq": {"a": "b"}}, "$.requestMetadataFilters.eq", "not part of a filter"),
    ("not-an-object", ["equals"], "$.requestMetadataFilters", "got an array"),
    ("null-member", {"equals": None}, "$.requestMetadataFilters.equals", "is null"),
    ("zero-pairs", {"equals": {}}, "$.requestMetadataFilters.equals", "exactly one key-value pair, got 0"),
    ("two-keys", {"equals": {"a": "b", "c": "d"}}, "$.requestMetadataFilters.equals", "got 2; to test several"),
    ("map-is-a-list", {"notEquals": [["a", "b"]]}, "$.requestMetadataFilters.notEquals", "got an array"),
    ("no-filters", {"andAll": []}, "$.requestMetadataFilters.andAll", "needs 1 to 16 filters, got 0"),
    ("17-filters", {"orAll": [base(i) for i in range(17)]}, "$.requestMetadataFilters.orAll", "got 17"),
    ("list-is-a-map", {"andAll": base(1)}, "$.requestMetadataFilters.andAll", "expected an array"),
    ("nested", {"andAll": [base(0), base(1), {"orAll": [base(2)]}]}, "$.requestMetadataFilters.andAll[2]",
     "cannot be nested"),
    ("both-in-a-base", {"andAll": [{"equals": {"a": "b"}, "notEquals": {"a": "c"}}]},
     "$.requestMetadataFilters.andAll[0]", "got equals and notEquals"),
    ("empty-base", {"orAll": [base(0), {}]}, "$.requestMetadataFilters.orAll[1]", "got none"),
    ("two-keys-in-a-base", {"andAll": [base(0), base(1), {"equals": {"a": "1", "b": "2"}}]},
     "$.requestMetadataFilters.andAll[2].equals", "got 2"),
    ("value-number", {"equals": {"priority": 1}}, "$.requestMetadataFilters.equals.priority", "got a number"),
    ("value-hash", {"andAll": [{"equals": {"use-case": "a#b"}}]}, "$.requestMetadataFilters.andAll[0].equals['use-case']",
     "character outside"),
    ("key-comma", {"equals": {"a,b": "c"}}, "$.requestMetadataFilters.equals", "character outside"),
    ("key-empty", {"equals": {"": "c"}}, "$.requestMetadataFilters.equals", "1 to 256 characters, got 0"),
    ("key-257", {"equals": {"k" * 257: "c"}}, "$.requestMetadataFilters.equals", "got 257"),
    ("value-257", {"equals": {"k": "v" * 257}}, "$.requestMetadataFilters.equals.k", "at most 256 characters, got 257"),
    ("non-ascii", {"equals": {"team": "café"}}, "$.requestMetadataFilters.equals.team", "character outside"),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "path", "words"), [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED])
def test_given_a_filter_bedrock_would_refuse_when_parsed_then_the_error_names_the_json_path(
    raw: object, path: str, words: str
) -> None:
    with pytest.raises(FilterError) as refused:
        parse_filter(raw)
    assert refused.value.path == path
    assert words in refused.value.message
    assert str(refused.value).startswith(f"{path}: ")


def test_given_the_limits_exactly_when_parsed_then_accepted() -> None:
    sixteen = {"andAll": [base(i) for i in range(16)]}
    assert len(parse_filter(sixteen).filters) == 16  # type: ignore[union-attr]
    assert parse_filter({"equals": {"k" * 256: "v" * 256}}) == Equals("k" * 256, "v" * 256)
    assert parse_filter({"equals": {"a b\t_.:/=+$@-Z9": ""}}).key == "a b\t_.:/=+$@-Z9"  # type: ignore[union-attr]


def test_given_a_run_input_path_when_parsing_then_errors_name_it() -> None:
    with pytest.raises(FilterError, match=r"^\$\.invocationLogs\.requestMetadataFilters\.equals: "):
        parse_filter({"equals": {}}, path="$.invocationLogs.requestMetadataFilters")


# --- semantics -----------------------------------------------------------------------------------------------
SUPPORT = {"use-case": "support", "team": "emea"}
BILLING = {"use-case": "billing"}
MATCHES = [
    # (filter, requestMetadata, selected?)
    ({"equals": {"use-case": "support"}}, SUPPORT, True),
    ({"equals": {"use-case": "support"}}, BILLING, False),
    ({"equals": {"use-case": "support"}}, {"team": "emea"}, False),  # key missing: equals never matches
    ({"equals": {"use-case": "support"}}, None, False),  # no requestMetadata at all
    ({"equals": {"use-case": "Support"}}, SUPPORT, False),  # case-sensitive
    ({"equals": {"team": ""}}, {"team": ""}, True),
    ({"notEquals": {"use-case": "billing"}}, SUPPORT, True),
    ({"notEquals": {"use-case": "billing"}}, BILLING, False),
    ({"notEquals": {"use-case": "billing"}}, {"team": "emea"}, True),  # assumption: a missing key is not equal
    ({"notEquals": {"use-case": "billing"}}, None, True),
    ({"andAll": [{"equals": {"use-case": "support"}}, {"equals": {"team": "emea"}}]}, SUPPORT, True),
    ({"andAll": [{"equals": {"use-case": "support"}}, {"equals": {"team": "us"}}]}, SUPPORT, False),
    ({"andAll": [{"equals": {"use-case": "support"}}, {"notEquals": {"team": "us"}}]}, SUPPORT, True),
    ({"orAll": [{"equals": {"use-case": "billing"}}, {"equals": {"team": "emea"}}]}, SUPPORT, True),
    ({"orAll": [{"equals": {"use-case": "billing"}}, {"equals": {"team": "us"}}]}, SUPPORT, False),
    ({"orAll": [{"equals": {"use-case": "billing"}}, {"notEquals": {"team": "x"}}]}, None, True),
]


@pytest.mark.parametrize(("raw", "metadata", "expected"), MATCHES)
def test_given_a_filter_and_request_metadata_when_matched_then_selected_as_documented(
    raw: dict, metadata: dict | None, expected: bool
) -> None:
    assert matches(parse_filter(raw), metadata) is expected


def test_given_no_filter_when_matched_then_every_record_is_selected() -> None:
    assert matches(None, None) and matches(None, BILLING)
    assert describe(None) == "every record (no filter)"


def test_given_a_compound_filter_when_described_then_one_readable_line() -> None:
    raw = {"andAll": [{"equals": {"use-case": "support"}}, {"notEquals": {"priority": "low"}}]}
    assert describe(parse_filter(raw)) == "use-case = 'support' AND priority != 'low'"


KEYS = st.text(alphabet="abcz09-_.:/", min_size=1, max_size=12)
VALUES = st.text(alphabet="abcz09-_ ", max_size=8)
BASES = st.builds(lambda op, k, v: {op: {k: v}}, st.sampled_from(["equals", "notEquals"]), KEYS, VALUES)
FILTERS = st.one_of(
    BASES,
    st.builds(lambda op, items: {op: items}, st.sampled_from(["andAll", "orAll"]), st.lists(BASES, min_size=1, max_size=16)),
)  # fmt: skip


@given(raw=FILTERS, metadata=st.one_of(st.none(), st.dictionaries(KEYS, VALUES, max_size=4)))
def test_given_any_valid_filter_when_round_tripped_and_matched_then_it_agrees_with_a_direct_reading(
    raw: dict, metadata: dict | None
) -> None:
    parsed = parse_filter(raw)
    assert to_api(parsed) == raw and parse_filter(to_api(parsed)) == parsed

    def one(item: dict) -> bool:
        ((op, pair),) = item.items()
        ((key, value),) = pair.items()
        present = metadata is not None and key in metadata
        return (present and metadata[key] == value) if op == "equals" else not (present and metadata[key] == value)

    ((op, inner),) = raw.items()
    expected = one(raw) if op in ("equals", "notEquals") else (all if op == "andAll" else any)(map(one, inner))
    assert matches(parsed, metadata) is expected


# --- tagging live traffic -------------------------------------------------------------------------------------
def test_given_valid_pairs_when_building_request_metadata_then_a_plain_dict_converse_accepts() -> None:
    built = request_metadata({"use-case": "support"}, team="support-emea", priority="high")
    assert built == {"use-case": "support", "team": "support-emea", "priority": "high"}
    # botocore validates it against the Converse model without complaint.
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("bedrock-runtime").operation_model("Converse")
    request = {"modelId": "amazon.nova-pro-v1:0", "messages": [], "requestMetadata": built}
    assert not ParamValidator().validate(request, model.input_shape).has_errors()


@pytest.mark.parametrize(
    ("pairs", "words"),
    [
        ({}, "1 to 16 entries, got 0"),
        ({f"k{i}": "v" for i in range(17)}, "got 17"),
        ({"": "v"}, "1 to 256 characters"),
        ({"k" * 257: "v"}, "1 to 256 characters"),
        ({"k": "v" * 257}, "at most 256"),
        ({"team": "café"}, "only letters, digits"),
        ({"ticket#": "1"}, "requestMetadataFilters cannot match"),
        ({"teams": "a,b"}, "requestMetadataFilters cannot match"),
        ({"n": 5}, "are strings"),
    ],
)
def test_given_metadata_converse_or_a_filter_would_refuse_when_building_then_value_error(
    pairs: dict, words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        request_metadata(pairs)


def test_given_sixteen_pairs_and_empty_values_when_building_then_accepted() -> None:
    assert len(request_metadata({f"k{i}": "" for i in range(16)})) == 16


def test_given_a_filter_when_building_the_job_config_then_it_is_the_api_shape() -> None:
    config = invocation_logs_config("s3://logs-bucket/AWSLogs/", True, {"equals": {"use-case": "support"}})
    assert config == {
        "invocationLogSource": {"s3Uri": "s3://logs-bucket/AWSLogs/"},
        "usePromptResponse": True,
        "requestMetadataFilters": {"equals": {"use-case": "support"}},
    }
    model = botocore.session.get_session().get_service_model("bedrock")
    shape = model.operation_model("CreateModelCustomizationJob").input_shape.members["trainingDataConfig"]
    from botocore.validate import ParamValidator

    assert not ParamValidator().validate({"invocationLogsConfig": config}, shape).has_errors()
    with pytest.raises(ValueError, match="not an s3:// URI"):
        invocation_logs_config("logs-bucket/AWSLogs/")


def test_given_a_cold_start_when_request_metadata_is_imported_then_nothing_heavy_is_loaded() -> None:
    import subprocess
    import sys
    from pathlib import Path

    lambdas = Path(__file__).resolve().parents[3] / "lambdas"
    probe = (
        "import json, sys\n"
        "from distill.invocation_logs import request_metadata\n"
        "request_metadata(team='support')\n"
        "heavy = ('msgspec', 'boto3', 'distill.dataset.engine', 'distill.invocation_logs.reader')\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], env={"PYTHONPATH": str(lambdas)}, capture_output=True,
                          text=True, check=True)  # fmt: skip
    assert done.stdout.strip() == "[]"


def test_given_every_submodule_loaded_when_the_public_names_are_read_then_none_is_shadowed_by_a_module() -> None:
    import importlib
    import types

    import distill.invocation_logs as package

    for module in ("conversation", "counting", "exporter", "filters", "profiler", "reader", "records", "report",
                   "responses", "streams"):  # fmt: skip
        importlib.import_module(f"distill.invocation_logs.{module}")
    for name in package.__all__:
        assert not isinstance(getattr(package, name), types.ModuleType), name


def test_given_botocores_runtime_model_when_compared_then_request_metadata_accepts_exactly_its_characters() -> None:
    import re

    from distill.invocation_logs import _CONVERSE_CHARS

    shapes = botocore.session.get_session().get_service_model("bedrock-runtime")._shape_resolver._shape_map
    assert shapes["RequestMetadata"]["min"] == 1 and shapes["RequestMetadata"]["max"] == 16
    for operation in ("ConverseRequest", "ConverseStreamRequest"):
        assert shapes[operation]["members"]["requestMetadata"]["shape"] == "RequestMetadata"
    key = re.compile(shapes["RequestMetadataKeyString"]["pattern"], re.ASCII)
    for code in range(128):
        char = chr(code)
        assert bool(key.fullmatch(char)) == bool(_CONVERSE_CHARS.fullmatch(char)), repr(char)
