#!/usr/bin/env python3
"""Generates the libFuzzer seed corpora fuzz/corpus/fuzz_ep_frame/<sha256>
and fuzz/corpus/fuzz_ep_msg/<sha256>.

Maintainer tool (not used by the build or the tests); the generated files are
committed.  Seeds come from the EP test vectors in tests/vectors/ep/:

- fuzz_ep_frame: every frame, frame-prefix and stream case, prefixed with the
  mode byte of fuzz/fuzz_ep_frame.c: 0x1f (whole), and for short inputs also
  0x00 (byte by byte) and 0x62 (varied chunks, small receive buffer).
- fuzz_ep_msg: every payload (payload cases and the payloads of frame cases)
  with the selector byte for its message type, and every value case with
  selector 0x06 (unknown type: the payload is only tokenized and decoded as
  every value type).

Usage: scripts/make_corpus_ep.py
Existing files are kept; the script only adds.
"""
import hashlib
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VEC = os.path.join(ROOT, "tests", "vectors", "ep")
SELECT = {0xFFFFFFFF: 0, 0xBABA5E55: 1, 0xBABADEAD: 2, 0xDCDCF00D: 3, 0xDCDCFEED: 4,
          0xDCDCBA77: 5}


def write(target, data):
    out = os.path.join(ROOT, "fuzz", "corpus", target)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, hashlib.sha256(data).hexdigest())
    if os.path.exists(path):
        return 0
    with open(path, "wb") as f:
        f.write(data)
    return 1


def main():
    added = {"fuzz_ep_frame": 0, "fuzz_ep_msg": 0}
    for name in ("spec-examples.json", "generated-vectors.json"):
        with open(os.path.join(VEC, name), encoding="utf-8") as f:
            cases = json.load(f)["cases"]
        for c in cases:
            raw = bytes.fromhex(c["hex"])
            level = c["level"]
            ex = c.get("expect", {})
            if level in ("frame", "frame-prefix", "stream"):
                modes = [0x1F] + ([0x00, 0x62] if len(raw) < 512 else [])
                for m in modes:
                    added["fuzz_ep_frame"] += write("fuzz_ep_frame", bytes([m]) + raw)
                if "payload_hex" in ex and "message_type" in ex:
                    sel = SELECT.get(ex["message_type"], 6)
                    payload = bytes.fromhex(ex["payload_hex"])
                    added["fuzz_ep_msg"] += write("fuzz_ep_msg", bytes([sel]) + payload)
            elif level == "payload":
                sel = SELECT.get(c["message_type"], 6)
                added["fuzz_ep_msg"] += write("fuzz_ep_msg", bytes([sel]) + raw)
            elif level == "value":
                added["fuzz_ep_msg"] += write("fuzz_ep_msg", bytes([6]) + raw)
    for k, v in added.items():
        print(f"{k}: {v} files added")


if __name__ == "__main__":
    main()
