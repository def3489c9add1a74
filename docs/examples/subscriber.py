#!/usr/bin/env python3
"""Minimal Vigil subscriber: prints one JSON line per event (see docs/EVENTS.md).

Usage: subscriber.py [ENDPOINT] [COUNT]   e.g. subscriber.py tcp://127.0.0.1:5555
Exits after COUNT events when given. Debian 12: apt install python3-zmq python3-msgpack
"""
import json, sys, msgpack, zmq

endpoint = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:5555"
count = int(sys.argv[2]) if len(sys.argv) > 2 else 0  # 0: run until interrupted
sub = zmq.Context().socket(zmq.SUB)
sub.connect(endpoint)  # the pipeline binds; subscribers connect
sub.setsockopt(zmq.SUBSCRIBE, b"vigil/")  # topic prefix, e.g. b"vigil/faces/" for faces only
printed = 0
while count == 0 or printed < count:
    topic, body = sub.recv_multipart()  # two frames: topic, msgpack map (anything else raises)
    event = msgpack.unpackb(body, raw=False)  # string/array/map lengths are capped by len(body)
    if event.get("v") == 1:  # a newer schema version is skipped, never misread
        print(json.dumps({"topic": topic.decode(), **event}), flush=True)
        printed += 1
