"""One pass over invocation logs: what a requestMetadataFilters selects, counted with flat memory.

Records are grouped by (operation, model, requestMetadata): one dictionary look-up per record decides the
filter and carries the counts, and the groups are folded into the bounded summaries of ``counting`` when there
are too many and at the end. Distinct prompts are counted only up to ``max_records + 1``. The counts and the
verdict are a ``report.LogProfile``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from distill.invocation_logs.conversation import Extracted, extract
from distill.invocation_logs.reader import InvalidRecords, Located, read_records
from distill.invocation_logs.records import normalized_prompt, prompt_key, same_model
from distill.invocation_logs.report import EXAMPLES, LogProfile, ProfileOptions

PROGRESS_EVERY = 5_000
GROUPS = 4_096  # distinct (operation, model, requestMetadata) kept before they are folded into the summaries

Progress = Callable[[int, int, int], None]  # (records scanned, files started, files in all)
Consumer = Callable[[Located, Extracted, bool, bytes], None]


def profile(
    files: Sequence[Any],
    options: ProfileOptions | None = None,
    on_invalid: str = "fail",
    progress: Progress | None = None,
    consumer: Consumer | None = None,
) -> LogProfile:
    """Read every record of ``files`` (sources with ``name`` and ``open()``) once and count.

    ``consumer`` (the export) is called with each selected, usable record, whether its response came from the
    teacher, and its prompt key."""
    options = options or ProfileOptions()
    result = LogProfile(options, InvalidRecords(on_invalid), files=len(files))
    started = time.perf_counter()
    selection, teacher, use_pairs = options.selection, options.teacher, options.use_prompt_response
    # Records are counted per (operation, model, requestMetadata): one look-up per record instead of a dozen
    # counters, folded into the bounded summaries when there are too many groups, and at the end.
    groups: dict[tuple[Any, ...], list[Any]] = {}
    not_usable: dict[str, int] = {}
    selected_not_usable: dict[str, int] = {}
    responses: dict[str, int] = {}
    seen: set[int] = set()
    limit = options.max_records + 1
    scanned = usable = selected = selected_usable = with_response = teacher_pairs = 0
    input_tokens = output_tokens = mismatches = 0
    first_stamp = last_stamp = ""
    source, files_started = "", 0
    for located in read_records(files, result.invalid):
        record = located.record
        scanned += 1
        if located.source != source:
            source = located.source
            files_started += 1
        if progress is not None and scanned % PROGRESS_EVERY == 0:
            progress(scanned, files_started, len(files))
        operation = record.operation if type(record.operation) is str else "(none)"
        model = record.modelId if type(record.modelId) is str else "(none)"
        metadata = record.requestMetadata
        signature = (operation, model, tuple(metadata.items()) if metadata else ())
        group = groups.get(signature)
        if group is None:
            if len(groups) >= GROUPS:
                _fold(result, groups)
            chosen = selection is None or selection.matches(metadata)
            teacher_model = teacher is not None and same_model(model, teacher)
            group = groups[signature] = [0, 0, chosen, teacher_model, operation, model, metadata]
        group[0] += 1
        found = extract(record)
        if found.usable:
            usable += 1
        else:
            not_usable[found.reason] = not_usable.get(found.reason, 0) + 1
        if not group[2]:
            continue
        # --- selected ---
        selected += 1
        input_tokens += record.input_tokens  # a count of the wrong type counts zero (records.Envelope)
        output_tokens += record.output_tokens
        stamp = record.timestamp
        if type(stamp) is str:
            if not first_stamp or stamp < first_stamp:
                first_stamp = stamp
            if stamp > last_stamp:
                last_stamp = stamp
        if not found.usable:
            selected_not_usable[found.reason] = selected_not_usable.get(found.reason, 0) + 1
            continue
        selected_usable += 1
        status = found.response_status
        responses[status] = responses.get(status, 0) + 1
        answered = status == "ok"
        from_teacher = answered and group[3]
        if answered:
            with_response += 1
            group[1] += 1
            if from_teacher:
                teacher_pairs += 1
        if use_pairs and not from_teacher:
            mismatches += 1
            if len(result.examples) < EXAMPLES:
                why = f"answered by {model}" if answered else f"no response ({status})"
                result.examples.append({"where": f"{located.source}:{located.line}", "model": model, "why": why})
        pair = from_teacher if use_pairs else answered
        if consumer is not None:
            key = prompt_key(found.system, found.turns)
            if pair and len(seen) < limit:
                seen.add(hash(key))
            consumer(located, found, from_teacher, key)
        elif pair and len(seen) < limit:
            # Only counted here: Python's own (per-process) hash of the normalized text is enough.
            seen.add(hash(normalized_prompt(found.system, found.turns)))
    _fold(result, groups)
    for reason, count in not_usable.items():
        result.not_usable.add(reason, count)
    for reason, count in selected_not_usable.items():
        result.selected_not_usable.add(reason, count)
    for status, count in responses.items():
        result.responses.add(status, count)
    result.scanned, result.usable, result.selected, result.selected_usable = scanned, usable, selected, selected_usable
    result.with_response, result.teacher_pairs, result.mismatches = with_response, teacher_pairs, mismatches
    result.input_tokens, result.output_tokens, result.distinct_prompts = input_tokens, output_tokens, len(seen)
    result.first_timestamp, result.last_timestamp = first_stamp, last_stamp
    result.elapsed_seconds = time.perf_counter() - started
    return result


def _fold(result: LogProfile, groups: dict[tuple[Any, ...], list[Any]]) -> None:
    """Add the groups' counts to the bounded summaries and forget the groups."""
    for records, answered, chosen, _, operation, model, metadata in groups.values():
        result.operations.add(operation, records)
        result.metadata.add(metadata, records)
        if chosen:
            result.selected_operations.add(operation, records)
            result.selected_metadata.add(metadata, records)
            result.models.add(model, records)
            if answered:
                result.answered.add(model, answered)
    groups.clear()
