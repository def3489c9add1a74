#!/usr/bin/env python3
"""Minimal Vigil subscriber: prints one JSON line per event (see docs/EVENTS.md).

Usage: subscriber.py [--curve-key NAME.key --server-key SERVER.pub] [ENDPOINT] [COUNT] [SNAPSHOT-ENDPOINT]
  e.g. subscriber.py tcp://127.0.0.1:5555
Exits after COUNT events when given. With the publisher's SNAPSHOT-ENDPOINT it
catches up: what it missed (before it joined, or in a gap) is replayed from the
publisher's history and printed first, in order, marked "replayed".
On a CURVE bus (docs/EVENTS.md section 10) give this subscriber's secret key
(`vigil keygen NAME`; NAME.pub must be in the publisher's authorized keys)
and the publisher's public key.
Debian 12: apt install python3-zmq python3-msgpack
"""
import json, sys, msgpack, zmq


def read_key(path):
    """The Z85 key of a `vigil keygen` file: the first line that is not a # comment."""
    with open(path, "rb") as key_file:
        for line in key_file:
            line = line.strip()
            if line and not line.startswith(b"#"):
                return line
    sys.exit(f"{path}: no key in it")


args, curve = sys.argv[1:], {}
for option in ("--curve-key", "--server-key"):
    if option in args:
        at = args.index(option)
        curve[option] = read_key(args[at + 1])
        del args[at:at + 2]
if len(curve) == 1:
    sys.exit("--curve-key and --server-key go together")
endpoint = args[0] if len(args) > 0 else "tcp://127.0.0.1:5555"
count = int(args[1]) if len(args) > 1 else 0  # 0: run until interrupted
context = zmq.Context()


def connect(socket, address):
    if curve:  # before connect: the handshake uses them
        socket.curve_secretkey = curve["--curve-key"]
        socket.curve_publickey = zmq.curve_public(curve["--curve-key"])
        socket.curve_serverkey = curve["--server-key"]
    socket.connect(address)


sub = context.socket(zmq.SUB)
connect(sub, endpoint)  # the pipeline binds; subscribers connect
sub.setsockopt(zmq.SUBSCRIBE, b"vigil/")  # topic prefix, e.g. b"vigil/faces/" for faces only
dealer = None
if len(args) > 2:
    dealer = context.socket(zmq.DEALER)  # not REQ: the reply has no empty delimiter frame
    connect(dealer, args[2])
last = {}  # topic -> (run, seq) of the newest event printed
printed = 0


def replay(topic, run, first, seq):
    """Events first..seq-1 of `run` the publisher still holds; None if it never sent `seq` in `run`."""
    events = []
    while first < seq:
        dealer.send_multipart([b"REPLAY", b"1", topic, run.encode(), b"%d" % first, b"%d" % (seq - 1)])
        if not dealer.poll(1000):  # ms; no answer: carry on with what we have
            return events
        reply = dealer.recv_multipart()  # REPLAY-REPLY, 1, topic, status, run, oldest, newest, events...
        if reply[3] != b"ok" or seq > int(reply[6]):
            return None  # unknown run, or a seq beyond the newest it sent: a forgery
        events += [msgpack.unpackb(body, raw=False) for body in reply[7:]]
        if len(reply) - 7 < 1000:  # at most 1000 per reply: ask again for the rest
            return events
        first = events[-1]["seq"] + 1
    return events


def show(topic, event, replayed=False):
    global printed
    print(json.dumps({"topic": topic.decode(), **event, **({"replayed": True} if replayed else {})}), flush=True)
    last[topic] = (event["run"], event["seq"])
    printed += 1


while count == 0 or printed < count:
    topic, body = sub.recv_multipart()  # two frames: topic, msgpack map (anything else raises)
    event = msgpack.unpackb(body, raw=False)  # string/array/map lengths are capped by len(body)
    if event.get("v") != 1:
        continue  # a newer schema version is skipped, never misread
    run, seq = event["run"], event["seq"]
    seen_run, seen_seq = last.get(topic, (None, 0))
    if run == seen_run and seq <= seen_seq:
        continue  # printed already (it was replayed)
    first = seen_seq + 1 if run == seen_run else 1
    if dealer and seq > first:  # a gap, or a topic or run we did not see from seq 1
        missed = replay(topic, run, first, seq)
        if missed is None:
            continue
        for old in missed:
            show(topic, old, replayed=True)
    show(topic, event)
