"""Deterministic Bedrock model-invocation logs, in the S3 layout Bedrock writes.

``python bench/logsgen.py`` rewrites the sample under samples/invocation-logs/ (byte for byte the same every
time: fixed seeds, gzip mtime 0); ``--check`` only compares. The benchmark (bench_invocation_logs.py) uses
``write_traffic`` for its 100,000 records. Every company, person, product and order number is invented.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "invocation-logs"
ACCOUNT = "123456789012"
REGION = "us-east-1"
PREFIX = f"AWSLogs/{ACCOUNT}/BedrockModelInvocationLogs/{REGION}"
TEACHER = "amazon.nova-pro-v1:0"
LITE = "amazon.nova-lite-v1:0"
EMBED = "amazon.titan-embed-text-v2:0"
CANVAS = "amazon.nova-canvas-v1:0"
LLAMA = "meta.llama3-1-405b-instruct-v1:0"
SYSTEM = "You are Northwind Devices' customer-support assistant. Be brief, friendly and precise."
BILLING_SYSTEM = "You answer billing questions for Northwind Devices. Never ask for full card numbers."

PRODUCTS = [
    "Atlas mesh Wi-Fi kit", "Orbit robot vacuum", "Vega 4K streaming stick", "Aurora smart thermostat",
    "Quill e-reader", "Pulse fitness band", "Ember coffee grinder", "Nimbus cloud backup plan",
]  # fmt: skip
NAMES = ["Amara", "Kenji", "Sofia", "Olu", "Priya", "Chen", "Liam", "Fatima", "Mateo", "Ingrid", "Tomasz", "Aiyana"]
OPENERS = ["", "Hi, ", "Hello! ", "Quick question: ", "Good morning, ", "Hey there. "]
CLOSERS = ["", " Thanks.", " This is urgent.", " Appreciate the help.", " Thanks in advance!"]
COUNTRIES = ["Japan", "Brazil", "Canada", "Kenya", "Norway", "Mexico"]

# (use case, prompt template, answer template): {p} product, {n} name, {o} order, {d} days, {c} country.
TOPICS = [
    ("support", "My order #{o} for the {p} still says 'processing' after {d} days. When will it ship?",
     "Hi {n}, I'm sorry for the wait. Order #{o} was held for a payment check; I've released it to the warehouse "
     "and you'll get a tracking link within 24 hours. If it hasn't shipped by then, reply here and I'll upgrade "
     "you to express shipping at no cost."),
    ("support", "How do I reset the {p} to factory settings?",
     "Hi {n}, keep the {p} powered on, hold the reset button for 10 seconds until the light blinks amber, then "
     "release it. It restarts in setup mode. A reset erases your saved settings, so note anything you want to keep."),
    ("support", "The {p} won't connect to my Wi-Fi. It worked yesterday.",
     "Hi {n}, let's get it back online. Restart your router and the {p}. If it still fails, check that a 2.4 GHz "
     "band is enabled, since the device can't join 5 GHz-only networks, and re-run setup if your password changed."),
    ("support", "The battery on the {p} drains in a few hours. Is that normal?",
     "Hi {n}, that's shorter than it should be. Please install the latest firmware from the app: last month's "
     "update fixed a background sync that drained the battery. If it still drains after a full charge, we'll "
     "replace the unit under warranty."),
    ("support", "Is the {p} covered by warranty if I dropped it?",
     "Hi {n}, the one-year warranty covers manufacturing defects, not drops or water. With the extended "
     "protection plan accidental damage is covered for a small service fee. Send a photo and the serial number "
     "and we'll tell you the options."),
    ("support", "The app keeps logging me out of my account on my {p}. What can I do?",
     "Hi {n}, a corrupted saved session usually causes that. Sign out, clear the app's cache or reinstall it, and "
     "sign in again. If you use a VPN or an autofilling password manager, try once without it."),
    ("support", "Do you ship the {p} internationally, for example to {c}?",
     "Hi {n}, yes, we ship the {p} to {c}. Delivery takes 7 to 14 business days, and checkout shows shipping and "
     "any import duties before you pay. It works on 100 to 240 V; you may need a plug adapter."),
    ("support", "The {p} makes a loud rattling noise since last week.",
     "Hi {n}, that isn't normal. Please stop using the {p} and send us a short video of the noise. If it is a "
     "loose part we'll ship a replacement with a prepaid return label, usually within two business days."),
    ("support", "How do I add a second user to my account for the {p}?",
     "Hi {n}, open the app, go to Settings > Household > Invite, and enter the other person's email. They get "
     "their own login and can use the {p}, but only you can change billing or remove devices."),
    ("support", "I forgot my account password and the reset email for my {p} account never arrives.",
     "Hi {n}, reset emails sometimes land in spam, so please check there and add support@example.com to your "
     "contacts. I can also resend the link from our side; it stays valid for one hour."),
    ("billing", "I was charged twice for the {p}. Can you refund the duplicate charge?",
     "Hi {n}, I can see two authorisations, but only one was captured; the other is a pending hold your bank "
     "releases within 3 to 5 business days. If it still shows as a charge after that, send a screenshot and we'll "
     "refund it the same day."),
    ("billing", "How do I cancel my subscription for the {p}?",
     "Hi {n}, go to Account > Subscriptions > Cancel. You keep access until the end of the billing period and "
     "won't be charged again. Cancel within 14 days of a renewal and we refund that renewal in full."),
    ("billing", "Can I use a discount code after I've already placed order #{o}?",
     "Hi {n}, codes can't be added to a placed order, but if order #{o} was placed in the last 7 days I can "
     "refund the difference as a one-off credit. Reply with the code and I'll apply it."),
    ("billing", "Why did the price of my {p} subscription go up this month?",
     "Hi {n}, the plan price changed on the 1st, as announced by email 30 days ahead. If you'd rather keep the old "
     "price, switching to yearly billing locks it for 12 months."),
    ("returns", "Can I return the {p}? I bought it {d} days ago and it isn't what I expected.",
     "Hi {n}, yes: returns are free within 30 days of delivery, even opened. Start it from Orders > Return an "
     "item and we'll email a prepaid label; the refund reaches you 5 to 7 days after the warehouse scans it."),
    ("returns", "Can I change the delivery address for order #{o}?",
     "Hi {n}, order #{o} hasn't shipped yet, so I can update the address right away; reply with the full new "
     "address. Once a parcel ships, the carrier's tracking page lets you request a redirect."),
    ("returns", "The {p} arrived with a cracked screen. What now?",
     "Hi {n}, I'm sorry it arrived damaged. I've opened a replacement for the {p} that ships today; the courier "
     "collects the damaged one when delivering the new one, so you don't need to pack anything."),
]  # fmt: skip
SEARCH_QUERIES = ["reset thermostat schedule", "mesh wifi dead zones", "e-reader font size", "grinder burr cleaning"]
IMAGE_PROMPTS = ["A cosy kitchen with the Ember coffee grinder on a wooden counter, morning light"]


@dataclass
class Call:
    """One invocation to log."""

    operation: str
    model: str
    topic: int = 0  # index in TOPICS (text calls)
    metadata: dict[str, str] = field(default_factory=dict)
    answered: bool = True
    system: str | None = SYSTEM
    multi_turn: bool = False
    extra: str = ""  # "error", "s3-body", "image-block", "embeddings", "image-generation", "llama"
    duplicate_of: int | None = None  # reuse the prompt of that call (index in the plan)
    variant: bool = False  # the duplicate differs in case and spacing only


def sample_plan() -> list[Call]:
    """The sample's calls. The README and the tests state the numbers this gives."""
    rng = random.Random(11)
    support = [i for i, topic in enumerate(TOPICS) if topic[0] == "support"]
    billing = [i for i, topic in enumerate(TOPICS) if topic[0] == "billing"]
    returns = [i for i, topic in enumerate(TOPICS) if topic[0] == "returns"]
    calls: list[Call] = []

    def support_meta(i: int, priority: str | None = None) -> dict[str, str]:
        team = "support-emea" if i % 2 else "support-us"
        return {"use-case": "support", "team": team, "priority": priority or ("high", "normal", "low")[i % 3]}

    for i in range(130):
        calls.append(Call("Converse", TEACHER, rng.choice(support), support_meta(i), multi_turn=i % 40 == 7))
    for i in range(22):
        calls.append(Call("InvokeModel", TEACHER, rng.choice(support), support_meta(i)))
    calls += [Call("ConverseStream", TEACHER, rng.choice(support), support_meta(i)) for i in range(2)]
    calls += [Call("Converse", LITE, rng.choice(support), support_meta(i, "low")) for i in range(6)]
    calls.append(Call("Converse", TEACHER, support[0], support_meta(1), answered=False, extra="error"))
    calls.append(Call("InvokeModel", TEACHER, support[1], support_meta(2), extra="s3-body"))
    calls.append(Call("Converse", TEACHER, support[7], support_meta(0), extra="image-block"))
    for i in range(38):
        meta = {"use-case": "billing", "team": "billing", "priority": ("normal", "high")[i % 2]}
        calls.append(Call("Converse", TEACHER, rng.choice(billing), meta, system=BILLING_SYSTEM))
    for _ in range(12):
        meta = {"use-case": "returns", "team": "logistics", "priority": "normal"}
        calls.append(Call("Converse", TEACHER, rng.choice(returns), meta))
    calls += [Call("Converse", TEACHER, rng.randrange(len(TOPICS)), system=None) for _ in range(60)]
    calls += [Call("InvokeModel", TEACHER, rng.randrange(len(TOPICS))) for _ in range(10)]
    calls += [Call("InvokeModel", EMBED, metadata={"use-case": "search", "team": "web"}, extra="embeddings")] * 8
    calls += [Call("InvokeModel", CANVAS, metadata={"use-case": "marketing"}, extra="image-generation")] * 2
    calls += [Call("InvokeModel", LLAMA, extra="llama")] * 2
    rng.shuffle(calls)
    # Repeats of earlier support prompts, logged later: four exact (a retried request), two typed with other
    # case and spacing. They point at a position in the order the calls are logged.
    plain = [i for i, call in enumerate(calls) if call.model == TEACHER and call.operation == "Converse"
             and call.metadata.get("use-case") == "support" and not call.extra and not call.multi_turn]  # fmt: skip
    for n, position in enumerate(plain[2:8]):
        calls.append(Call("Converse", TEACHER, metadata=dict(calls[position].metadata), duplicate_of=position,
                          variant=n >= 4))  # fmt: skip
    return calls


def traffic_plan(count: int, seed: int = 5) -> Iterator[Call]:
    """Bench traffic: mostly Converse to the teacher, some InvokeModel, Lite and embeddings, 70% tagged."""
    rng = random.Random(seed)
    for i in range(count):
        roll = rng.random()
        topic = rng.randrange(len(TOPICS))
        use_case = TOPICS[topic][0]
        meta = {
            "use-case": use_case,
            "team": f"{use_case}-{rng.choice('abc')}",
            "priority": rng.choice(("high", "normal", "low")),
        }
        meta = meta if rng.random() < 0.7 else {}
        if roll < 0.70:
            yield Call("Converse", TEACHER, topic, meta, multi_turn=i % 50 == 0)
        elif roll < 0.85:
            yield Call("InvokeModel", TEACHER, topic, meta)
        elif roll < 0.95:
            yield Call("Converse", LITE, topic, meta)
        else:
            yield Call("InvokeModel", EMBED, metadata=meta, extra="embeddings")


class Writer:
    """Records into hourly folders of gzipped NDJSON files, as Bedrock lays them out."""

    def __init__(self, root: Path, seed: int, per_file: int) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.per_file = per_file
        self.prompts: list[tuple[str | None, str]] = []
        self.files: list[Path] = []

    def render(self, calls: list[Call] | Iterator[Call], gap: tuple[int, int]) -> None:
        """Log the calls ``gap`` seconds apart (at random), 09:00 to 18:00 each day, from 2026-11-24 09:00; a
        file holds at most ``per_file`` records and never spans two hours (Bedrock's folders are hourly)."""
        batch: list[bytes] = []
        now = datetime(2026, 11, 24, 9, tzinfo=UTC)
        opened = now
        for number, call in enumerate(calls):
            if batch and (len(batch) == self.per_file or now.replace(minute=0, second=0) != opened.replace(
                    minute=0, second=0)):  # fmt: skip
                self.flush(batch, opened)
                batch = []
            if not batch:
                opened = now
            record = self.record(call, number, now.strftime("%Y-%m-%dT%H:%M:%SZ"))
            batch.append(json.dumps(record, ensure_ascii=False).encode())
            now += timedelta(seconds=self.rng.randint(*gap))
            if now.hour >= 18:
                now = (now + timedelta(days=1)).replace(hour=9, minute=0, second=0)
        if batch:
            self.flush(batch, opened)

    def flush(self, batch: list[bytes], opened: datetime) -> None:
        folder = self.root / PREFIX / opened.strftime("%Y/%m/%d/%H")
        folder.mkdir(parents=True, exist_ok=True)
        # Bedrock's file naming is not documented; nothing here depends on it but the key order.
        name = f"{opened.strftime('%Y%m%dT%H%M%SZ')}_{self.rng.getrandbits(64):016x}.json.gz"
        buffer = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as file:
            file.write(b"\n".join(batch) + b"\n")
        (folder / name).write_bytes(buffer.getvalue())
        self.files.append(folder / name)

    def record(self, call: Call, number: int, stamp: str) -> dict[str, Any]:
        rng = self.rng
        values = {"p": rng.choice(PRODUCTS), "n": rng.choice(NAMES), "o": rng.randint(100000, 999999),
                  "d": rng.randint(3, 25), "c": rng.choice(COUNTRIES)}  # fmt: skip
        _, question, answer = TOPICS[call.topic]
        prompt = rng.choice(OPENERS) + question.format(**values) + rng.choice(CLOSERS)
        system = call.system
        if call.duplicate_of is not None:
            system, prompt = self.prompts[call.duplicate_of]
            if call.variant:
                prompt = "  " + prompt.upper().replace(" ", "   ") + " "
        self.prompts.append((system, prompt))
        reply = answer.format(**values)
        record: dict[str, Any] = {
            "schemaType": "ModelInvocationLog", "schemaVersion": "1.0", "timestamp": stamp, "accountId": ACCOUNT,
            "identity": {"arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/support-bot/session-{number % 7}"},
            "region": REGION, "requestId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "operation": call.operation, "modelId": call.model,
        }  # fmt: skip
        messages = [_message("user", prompt)]
        if call.multi_turn:
            follow = f"Thanks. And if that doesn't work, can I bring the {values['p']} to a store?"
            messages += [_message("assistant", reply), _message("user", follow)]
            reply = f"Hi {values['n']}, yes: any Northwind partner store can check it while you wait."
        body: dict[str, Any] = {"messages": messages}
        if system:
            body["system"] = [{"text": system}]
        body["inferenceConfig"] = {"maxTokens": 512, "temperature": 0.3, "topP": 0.9}
        if call.extra == "image-block":
            messages[0]["content"].append({"image": {"format": "png", "source": {"s3Location": {
                "uri": "s3://northwind-uploads/tickets/cable.png"}}}})  # fmt: skip
        if call.operation.startswith("InvokeModel") and not call.extra:
            body = {"schemaVersion": "messages-v1", **body}
        output: dict[str, Any] | None = {
            "output": {"message": {"role": "assistant", "content": [{"text": reply}]}},
            "stopReason": "end_turn", "metrics": {"latencyMs": rng.randint(300, 2500)},
            "usage": {"inputTokens": _tokens(prompt, system), "outputTokens": _tokens(reply)},
        }  # fmt: skip
        if call.extra == "embeddings":
            text = rng.choice(SEARCH_QUERIES)
            body = {"inputText": text, "dimensions": 256, "normalize": True}
            output = {"embedding": [round(rng.uniform(-0.1, 0.1), 4) for _ in range(256)],
                      "inputTextTokenCount": _tokens(text)}  # fmt: skip
        elif call.extra == "image-generation":
            body = {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": IMAGE_PROMPTS[0]},
                    "imageGenerationConfig": {"numberOfImages": 1, "width": 1024, "height": 1024}}  # fmt: skip
            output = None
        elif call.extra == "llama":  # the user guide's own example shape
            body = {"prompt": "story of two dogs", "max_tokens_to_sample": 300}
            output = {"type": "completion", "completion": " Here is a story about two dogs...", "stop": None}
        record["input"] = {"inputContentType": "application/json", "inputBodyJson": body,
                           "inputTokenCount": _tokens(prompt, system)}  # fmt: skip
        if call.extra == "s3-body":
            del record["input"]["inputBodyJson"]
            record["input"]["inputBodyS3Path"] = f"s3://northwind-bedrock-logs/data/{record['requestId']}/input.json"
        if call.extra == "image-generation":
            record["output"] = {"outputContentType": "application/json", "outputBodyS3Path":
                                f"s3://northwind-bedrock-logs/data/{record['requestId']}/output.json"}  # fmt: skip
        elif call.answered and output is not None:
            record["output"] = {"outputContentType": "application/json", "outputBodyJson": output,
                                "outputTokenCount": _tokens(reply)}  # fmt: skip
        if call.extra == "error":
            record["errorCode"] = "ModelTimeoutException"
        if call.metadata:
            record["requestMetadata"] = dict(call.metadata)
        return record


def _message(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "content": [{"text": text}]}


def _tokens(*texts: str | None) -> int:
    return sum(len(text) // 4 + 1 for text in texts if text)


def write_sample(root: Path = SAMPLE) -> list[Path]:
    writer = Writer(root, seed=3, per_file=24)
    writer.render(sample_plan(), gap=(60, 240))
    return writer.files


def write_traffic(root: Path, count: int, per_file: int = 1000, seed: int = 5) -> list[Path]:
    writer = Writer(root, seed=seed, per_file=per_file)
    writer.render(traffic_plan(count, seed), gap=(1, 3))
    return writer.files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with the committed sample")
    parser.add_argument("--traffic", nargs=2, metavar=("DIR", "COUNT"), help="write COUNT bench records into DIR")
    args = parser.parse_args()
    if args.traffic:
        files = write_traffic(Path(args.traffic[0]), int(args.traffic[1]))
        print(f"wrote {len(files)} files under {args.traffic[0]}", file=sys.stderr)
        return 0
    if args.check:
        import tempfile

        with tempfile.TemporaryDirectory() as scratch:
            fresh = {p.relative_to(scratch): p.read_bytes() for p in write_sample(Path(scratch))}
        committed = {p.relative_to(SAMPLE): p.read_bytes() for p in SAMPLE.rglob("*.json.gz")}
        same = fresh == committed
        print("sample is up to date" if same else "sample differs from the generator: run python bench/logsgen.py")
        return 0 if same else 1
    for old in SAMPLE.rglob("*.json.gz"):
        old.unlink()
    files = write_sample()
    print(f"wrote {len(files)} files under {SAMPLE.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
