#!/usr/bin/env python3
"""Generates the libFuzzer seed corpus fuzz/corpus/fuzz_rct_receiver/<sha256>.

Maintainer tool (not used by the build or the tests); the generated files are
committed.  Seeds come from the RCT test vectors in tests/vectors/rct/ and
the benchmark workload file bench/rct_workloads.json: every receive_frame.json
input (single[] chunks joined, stream[] inputs), every make_frame.json output,
the timeseries/event table request and response frames, and the W5/W6 frames.
Each input is prefixed with the mode byte of fuzz/fuzz_rct_receiver.c: 0x1f
(whole), and for short inputs also 0x00 (byte by byte) and 0x62 (varied
chunks, small receive buffer).

Usage: scripts/make_corpus_rct.py
Existing files are kept; the script only adds.
"""
import hashlib
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VEC = os.path.join(ROOT, "tests", "vectors", "rct")
OUT = os.path.join(ROOT, "fuzz", "corpus", "fuzz_rct_receiver")


def load(name):
    with open(os.path.join(VEC, name), encoding="utf-8") as f:
        return json.load(f)


def main():
    seeds = []
    rf = load("receive_frame.json")
    for c in rf["single"]:
        seeds.append(bytes.fromhex("".join(c["chunks_hex"])))
    for c in rf["stream"]:
        seeds.append(bytes.fromhex(c["input_hex"]))
    for c in load("make_frame.json")["cases"]:
        if c.get("output_hex"):
            seeds.append(bytes.fromhex(c["output_hex"]))
    for name in ("timeseries.json", "event_table.json"):
        for c in load(name)["cases"]:
            seeds.append(bytes.fromhex(c["request"]["wire_hex"]))
            seeds.append(bytes.fromhex(c["response"]["wire_hex"]))
    with open(os.path.join(ROOT, "bench", "rct_workloads.json"), encoding="utf-8") as f:
        w = json.load(f)
    for k in ("W4", "W5", "W6"):
        h = w[k].get("frame_hex") or w[k].get("expected_hex")
        seeds.append(bytes.fromhex(h))
    os.makedirs(OUT, exist_ok=True)
    added = 0
    for s in seeds:
        modes = [0x1F] + ([0x00, 0x62] if len(s) < 512 else [])
        for m in modes:
            data = bytes([m]) + s
            path = os.path.join(OUT, hashlib.sha256(data).hexdigest())
            if not os.path.exists(path):
                with open(path, "wb") as f:
                    f.write(data)
                added += 1
    print(f"fuzz_rct_receiver: {added} files added")


if __name__ == "__main__":
    main()
