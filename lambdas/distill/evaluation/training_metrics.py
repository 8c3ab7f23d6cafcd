"""The training loss Bedrock writes for a customization job: ``step_wise_training_metrics.csv``.

Columns ``step_number``, ``epoch_number``, ``training_loss`` (found by name, in any order, case-insensitive;
other columns are ignored). Tolerated: a UTF-8 BOM, CRLF, blank lines, spaces around values, steps written as
``10.0``. A row whose step or loss is missing, not a number, NaN or infinite is skipped and counted.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

FILE_NAME = "step_wise_training_metrics.csv"
MAX_BYTES = 16 * 1024 * 1024  # far more than any job writes; a larger file is read up to here


@dataclass(frozen=True)
class LossPoint:
    step: int
    epoch: int | None
    loss: float


@dataclass(frozen=True)
class TrainingCurve:
    points: tuple[LossPoint, ...]  # sorted by step (stable)
    skipped_rows: int = 0
    problem: str = ""  # non-empty when the file could not be read at all

    @property
    def final_loss(self) -> float | None:
        return self.points[-1].loss if self.points else None


def _number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse(data: str | bytes) -> TrainingCurve:
    if isinstance(data, bytes):
        data = data[:MAX_BYTES].decode("utf-8", "replace")
    rows = [row for row in csv.reader(io.StringIO(data.removeprefix("\ufeff"))) if any(cell.strip() for cell in row)]
    if not rows:
        return TrainingCurve((), 0, "the training metrics file is empty")
    header = [cell.strip().lower() for cell in rows[0]]
    if "step_number" not in header or "training_loss" not in header:
        return TrainingCurve((), len(rows), "no step_number and training_loss columns in the header")
    step_at, loss_at = header.index("step_number"), header.index("training_loss")
    epoch_at = header.index("epoch_number") if "epoch_number" in header else None
    points, skipped = [], 0
    for row in rows[1:]:
        step = _number(row[step_at]) if step_at < len(row) else None
        loss = _number(row[loss_at]) if loss_at < len(row) else None
        if step is None or loss is None or step != int(step):
            skipped += 1
            continue
        epoch = _number(row[epoch_at]) if epoch_at is not None and epoch_at < len(row) else None
        points.append(LossPoint(int(step), int(epoch) if epoch is not None and epoch == int(epoch) else None, loss))
    points.sort(key=lambda p: p.step)
    return TrainingCurve(tuple(points), skipped)
