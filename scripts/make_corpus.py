#!/usr/bin/env python3
"""Generates the libFuzzer seed corpora in fuzz/corpus/<target>/<sha256>.

Maintainer tool (not used by the build or the tests); the generated files are
committed.  Seeds come from the RSCP test vectors in tests/vectors/rscp/ and
the benchmark workload file bench/rscp_workloads.json:

  fuzz_rscp_frame          whole frames (with and without CRC), plus every
                           tlv_types.json value wrapped in a frame
  fuzz_rscp_stream         mode byte + ciphertext (single messages and whole
                           directions), and mode byte | 0x80 + padded
                           plaintext (see fuzz/fuzz_rscp_stream.c)
  fuzz_rscp_tlv_roundtrip  bare TLV sequences: value areas and single values
  fuzz_rscp_query          query strings, valid and invalid

Usage: scripts/make_corpus.py [--clean]
  --clean  remove the existing files of each corpus first (this also drops
           inputs added by hand, e.g. regression inputs for fixed crashes)
Existing files are otherwise kept; the script only adds.
"""
import hashlib
import json
import os
import struct
import sys
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VEC = os.path.join(ROOT, "tests", "vectors", "rscp")
OUT = os.path.join(ROOT, "fuzz", "corpus")

TS_SECONDS = 1700000000


def load(name):
    with open(os.path.join(VEC, name), encoding="utf-8") as f:
        return json.load(f)


def hx(s):
    return bytes.fromhex(s)


def pad32(b):
    return b + b"\0" * (-len(b) % 32)


def frame(data, with_crc):
    """An RSCP frame around the value area |data| (rscp.md section 2)."""
    ctrl = 0x0011 if with_crc else 0x0001
    head = b"\xe3\xdc" + struct.pack("<HqIH", ctrl, TS_SECONDS, 0, len(data))
    f = head + data
    if with_crc:
        f += struct.pack("<I", zlib.crc32(f) & 0xFFFFFFFF)
    return f


def tlv(tag, typ, value):
    return struct.pack("<IBH", tag, typ, len(value)) + value


def frame_seeds():
    seeds = []
    plain = load("frames_plain.json")
    for fr in plain["frames"]:
        seeds.append(hx(fr["with_crc"]["frame_hex"]))
        seeds.append(hx(fr["without_crc"]["frame_hex"]))
    auth = load("auth.json")
    for key in ("request_frame_hex", "response_ok_frame_hex", "response_fail_frame_hex"):
        seeds.append(hx(auth[key]))
    for fr in auth["published_frames_easy_rscp_docs"]["frames"]:
        seeds.append(hx(fr["frame_hex"]))
    for ex in load("session_pye3dc_poll.json")["exchanges"]:
        seeds.append(hx(ex["frame_hex"]))
    for direction in ("client_to_server", "server_to_client"):
        for e in load("frames_encrypted.json")[direction]:
            seeds.append(hx(e["plain_frame_hex"]))
    values = [hx(c["encoded_hex"]) for c in load("tlv_types.json")["cases"]]
    for v in values:
        seeds.append(frame(v, False))
    seeds.append(frame(b"".join(values), True))
    seeds.append(frame(b"".join(values), False))
    with open(os.path.join(ROOT, "bench", "rscp_workloads.json"), encoding="utf-8") as f:
        seeds.append(hx(json.load(f)["W2"]["plaintext_frame_hex"]))
    # Containers nested one level deeper than the default limit (16).
    inner = tlv(0x01800001, 0x06, struct.pack("<i", 4687))
    for _ in range(17):
        inner = tlv(0x03840000, 0x0E, inner)
    seeds.append(frame(inner, False))
    return seeds


def stream_seeds():
    # Mode byte: bits 0-4 chunk parameter (31 = all at once), bit 5 vary the
    # chunk sizes, bit 6 strict + validate, bit 7 plaintext input.
    few = (0x1F, 0x47)
    many = (0x1F, 0x00, 0x2C, 0x47)
    seeds = []
    enc = load("frames_encrypted.json")
    for direction in ("client_to_server", "server_to_client"):
        entries = enc[direction]
        for e in entries:
            for m in few:
                seeds.append(bytes([m]) + hx(e["ciphertext_hex"]))
        whole = b"".join(hx(e["ciphertext_hex"]) for e in entries)
        for m in many:
            seeds.append(bytes([m]) + whole)
        padded = b"".join(hx(e["padded_plain_hex"]) for e in entries)
        for m in (0x9F, 0xA5, 0xC7):
            seeds.append(bytes([m]) + padded)
    session = load("session_pye3dc_poll.json")["exchanges"]
    for direction in ("client_to_server", "server_to_client"):
        ct = b"".join(hx(x["ciphertext_hex"]) for x in session if x["direction"] == direction)
        for m in many:
            seeds.append(bytes([m]) + ct)
        pt = b"".join(pad32(hx(x["frame_hex"])) for x in session if x["direction"] == direction)
        for m in (0x9F, 0xE3):
            seeds.append(bytes([m]) + pt)
    auth = load("auth.json")
    seeds.append(bytes([0x1F]) + hx(auth["request_encrypted_hex"]))
    chain = load("crypto_rijndael256_cbc.json")["chain"]
    seeds.append(bytes([0x1F]) + hx(chain["concatenated_ciphertext_hex"]))
    seeds.append(bytes([0x25]) + hx(chain["concatenated_ciphertext_hex"]))
    for fr in load("frames_plain.json")["frames"]:
        seeds.append(bytes([0x9F]) + pad32(hx(fr["with_crc"]["frame_hex"])))
    return seeds


def tlv_seeds():
    cases = load("tlv_types.json")["cases"]
    seeds = [hx(c["encoded_hex"]) for c in cases]
    seeds.append(b"".join(seeds))
    for fr in load("frames_plain.json")["frames"]:
        seeds.append(hx(fr["with_crc"]["data_hex"]))
    for ex in load("session_pye3dc_poll.json")["exchanges"]:
        f = hx(ex["frame_hex"])
        (dlen,) = struct.unpack_from("<H", f, 16)
        seeds.append(f[18 : 18 + dlen])
    # Error in its 1-byte form, and a raw Int32 of the wrong length.
    seeds.append(tlv(0x03800001, 0xFF, b"\x06"))
    seeds.append(tlv(0x01800001, 0x06, b"\x01\x02"))
    return seeds


QUERIES = [
    "EMS_POWER_PV",
    "TAG_EMS_POWER_PV",
    "ems_power_pv",
    "0x01800001",
    "0x7F800001",
    "INFO_UTC_TIME",
    "INFO_SERIAL_NUMBER",
    "BAT_DATA(BAT_INDEX==0)/BAT_RSOC",
    "BAT_DATA( BAT_INDEX == 1 ) / BAT_DEVICE_NAME",
    "BAT_DATA(BAT_INDEX==1 && BAT_RSOC<50)/BAT_DEVICE_NAME",
    'BAT_DATA(BAT_DEVICE_NAME=="BAT-B")/BAT_CHARGE_CYCLES',
    'BAT_DATA(BAT_DEVICE_NAME!="BAT-A \\"main\\"")/BAT_INDEX',
    "BAT_DATA(BAT_RSOC>=12.25, BAT_TRAINING_MODE!=1)/BAT_DCB_INFO/BAT_DCB_SERIALNO",
    "BAT_DATA(BAT_CHARGE_CYCLES<=0x137)/BAT_DCB_INFO(BAT_DCB_INDEX==0)/BAT_DCB_CYCLE_COUNT",
    "PVI_DATA(PVI_INDEX==0)/PVI_DC_POWER(PVI_INDEX==1)/PVI_VALUE",
    "PVI_DATA(PVI_ON_GRID==true)/PVI_INDEX",
    "PVI_DATA(PVI_ON_GRID==false,PVI_INDEX>-1)/PVI_DC_POWER",
    "EMS_STATUS(EMS_STATUS==1e3)",
    "BAT_DATA(BAT_RSOC>7.75e1)/BAT_RSOC",
    "BAT_DATA(BAT_INDEX>=-0x1)",
    "/".join(["DB_HISTORY_DATA_DAY"] * 16),
    "/".join(["DB_HISTORY_DATA_DAY"] * 17),
    "BAT_DATA(BAT_INDEX==0&&BAT_INDEX!=1&&BAT_RSOC>0&&BAT_RSOC<100)",
    "BAT_DATA(BAT_INDEX==0&&BAT_INDEX!=1&&BAT_RSOC>0&&BAT_RSOC<100&&BAT_INDEX==0)",
    'BAT_DATA(BAT_DEVICE_NAME=="' + "x" * 64 + '")',
    'BAT_DATA(BAT_DEVICE_NAME=="' + "x" * 65 + '")',
    "BAT_DATA(",
    "BAT_DATA(BAT_INDEX)",
    "BAT_DATA(BAT_INDEX==)",
    'BAT_DATA(BAT_DEVICE_NAME=="unterminated',
    "NO_SUCH_TAG",
    "BAT_DATA//BAT_RSOC",
    "BAT_DATA(BAT_INDEX==99999999999999999999)",
    "",
]


def query_seeds():
    return [q.encode("utf-8") for q in QUERIES]


def write(target, seeds, clean):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if clean:
        for name in os.listdir(d):
            os.remove(os.path.join(d, name))
    added = 0
    for s in seeds:
        name = hashlib.sha256(s).hexdigest()
        path = os.path.join(d, name)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(s)
            added += 1
    print(f"{target}: {len(set(seeds))} seeds ({added} new), {len(os.listdir(d))} files")


def main(argv):
    clean = "--clean" in argv[1:]
    unknown = [a for a in argv[1:] if a != "--clean"]
    if unknown:
        print(__doc__, file=sys.stderr)
        return 2
    write("fuzz_rscp_frame", frame_seeds(), clean)
    write("fuzz_rscp_stream", stream_seeds(), clean)
    write("fuzz_rscp_tlv_roundtrip", tlv_seeds(), clean)
    write("fuzz_rscp_query", query_seeds(), clean)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
