"""Per-record jsonschema validation the way AWS's sample validator works: load the whole file, then check
each record against a JSON schema of bedrock-conversation-2024.

Usage: python jsonschema_validate.py FILE   (exit 0 valid, 1 invalid)
"""

import itertools
import json
import sys

import jsonschema

TEXT_ITEM = {
    "type": "object",
    "properties": {"text": {"type": "string", "minLength": 1}},
    "required": ["text"],
    "additionalProperties": False,
}
SCHEMA = {
    "type": "object",
    "properties": {
        "schemaVersion": {"const": "bedrock-conversation-2024"},
        "system": {"type": "array", "maxItems": 1, "items": TEXT_ITEM},
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "role": {"enum": ["user", "assistant"]},
                    "content": {"type": "array", "minItems": 1, "maxItems": 1, "items": TEXT_ITEM},
                },
                "required": ["role", "content"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["schemaVersion", "messages"],
    "additionalProperties": False,
}


def main(path):
    with open(path, encoding="utf-8") as file:
        records = [json.loads(line) for line in file.read().splitlines() if line.strip()]
    errors = 0
    for number, record in enumerate(records, 1):
        try:
            jsonschema.validate(instance=record, schema=SCHEMA)
        except jsonschema.ValidationError as error:
            errors += 1
            print(f"line {number}: {error.message}", file=sys.stderr)
        roles = [message["role"] for message in record.get("messages", [])]
        if roles[:1] != ["user"] or any(a == b for a, b in itertools.pairwise(roles)):
            errors += 1
            print(f"line {number}: roles must alternate starting with user", file=sys.stderr)
    if not 100 <= len(records) <= 15_000:
        errors += 1
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
