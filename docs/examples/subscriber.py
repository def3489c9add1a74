#!/usr/bin/env python3
"""Minimal Vigil subscriber: prints every event. Debian: python3-zmq python3-msgpack."""
import sys, zmq, msgpack

sub = zmq.Context().socket(zmq.SUB)
sub.connect(sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:5555")
sub.setsockopt_string(zmq.SUBSCRIBE, sys.argv[2] if len(sys.argv) > 2 else "vigil/")
while True:
    topic, payload = sub.recv_multipart()
    event = msgpack.unpackb(payload, raw=False, max_bin_len=1 << 20, max_str_len=1 << 16)
    print(topic.decode(), event["kind"], event["seq"], {k: v for k, v in event.items() if k in ("state", "count", "zones", "objects")}, flush=True)
