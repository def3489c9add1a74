#!/usr/bin/env python3
"""Checks that Python's msgpack reads every golden vector exactly as the C++
decoder renders it: same keys in the same order, same values.
Usage: check_golden.py GOLDEN_DIR   (prints one line per vector; exit 1 on any mismatch)"""
import json, pathlib, sys, msgpack

failures = 0
for hex_path in sorted(pathlib.Path(sys.argv[1]).glob("*.hex")):
    body = bytes.fromhex("".join(hex_path.read_text().split()))
    event = msgpack.unpackb(body, raw=False)
    expected = json.loads(hex_path.with_suffix(".json").read_text())
    topic = hex_path.with_suffix(".topic").read_text().strip()
    same = (event == expected and list(event) == list(expected)
            and topic == f"vigil/{event['kind']}/{event['source']}")
    print(("ok " if same else "MISMATCH ") + hex_path.stem, flush=True)
    if not same:
        print(f"  python: {event}\n  json:   {expected}\n  topic:  {topic}", flush=True)
        failures += 1
sys.exit(1 if failures else 0)
