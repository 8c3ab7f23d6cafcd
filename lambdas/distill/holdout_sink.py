"""Keep the evaluation prompts out of training while the dataset is written, in the same streaming pass.

The converter writes converted JSONL lines to a sink; this sink offers each line to the one-pass hold-out
(distill.evaluation.holdout.Selector) under the hash of its first user text, and passes on at once every line
that can no longer be held out. On commit the held-out lines go to their own file beside the training set
(``train.holdout.jsonl``) and the rest to training. Memory: the lines of at most ``maximum`` distinct prompts.
"""

from __future__ import annotations

from typing import Any

import msgspec

from distill.evaluation.holdout import HoldoutPolicy, Selection, Selector
from distill.evaluation.prompts import prompt_text

_DECODER = msgspec.json.Decoder()


class HoldoutSink:
    """A dataset Sink (write / commit / abort) that splits the converted lines between two sinks."""

    def __init__(self, training: Any, holdout: Any, policy: HoldoutPolicy) -> None:
        self.training, self.holdout = training, holdout
        self.selector: Selector[bytes] = Selector(policy)
        self.selection: Selection[bytes] | None = None
        self._rest = b""  # an unfinished line (the converter writes whole lines; this keeps it safe anyway)

    def write(self, data: bytes) -> None:
        lines = (self._rest + bytes(data)).split(b"\n")
        self._rest = lines.pop()
        out = []
        for line in lines:
            if line:
                out += self.selector.offer(prompt_text(_DECODER.decode(line)), line)
        if out:
            self.training.write(b"".join(line + b"\n" for line in out))

    def commit(self) -> None:
        if self._rest:
            self.write(b"\n")
        self.selection = selection = self.selector.finish()
        if selection.released:
            self.training.write(b"".join(line + b"\n" for line in selection.released))
        self.training.commit()
        held = [line for group in selection.held_out for line in group.payloads]
        if held:
            self.holdout.write(b"".join(line + b"\n" for line in held))
            self.holdout.commit()
        else:
            self.holdout.abort()

    def abort(self) -> None:
        self.training.abort()
        self.holdout.abort()
