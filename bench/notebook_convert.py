"""The AWS distillation notebook's converter, reproduced as written: json, line by line.

Usage: python notebook_convert.py IN OUT SYSTEM_PROMPT
"""

import json
import sys


def notebook_line(line, system_prompt):
    """One input line as the notebook writes it (the tests compare our output with this)."""
    data = json.loads(line)
    rec = {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": system_prompt}],
        "messages": [
            {"role": "user", "content": [{"text": data["prompt"]}]},
            {"role": "assistant", "content": [{"text": data["completion"]}]},
        ],
    }
    return json.dumps(rec) + "\n"


def prepare_training_dataset(input_file, output_file, system_prompt):
    with open(input_file) as f_in, open(output_file, "w") as f_out:
        for line in f_in:
            f_out.write(notebook_line(line, system_prompt))


if __name__ == "__main__":
    prepare_training_dataset(sys.argv[1], sys.argv[2], sys.argv[3])
