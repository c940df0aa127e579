#!/usr/bin/env python3
"""Writes fuzz_evtx seeds made from the real logs at test time (the logs stay outside the repository).

usage: evtx_seeds.py SAMPLES_DIR OUT_DIR
Each seed is the used part of one chunk (header and records up to the free-space offset): the fuzz
target supplies the file header and the padding. Besides each log's first chunk, the seeds include a
copy of it whose last records lie in free space, so that libevtx's record recovery is reached.
"""
import glob
import os
import struct
import sys

FILE_HEADER, CHUNK = 4096, 65536


def main(argv):
    src, out = argv[1], argv[2]
    os.makedirs(out, exist_ok=True)
    for path in sorted(glob.glob(os.path.join(src, "*.evtx"))):
        data = open(path, "rb").read()
        chunk = bytearray(data[FILE_HEADER:FILE_HEADER + CHUNK])
        if chunk[:8] != b"ElfChnk\0":
            continue
        free = struct.unpack_from("<I", chunk, 48)[0]
        name = os.path.splitext(os.path.basename(path))[0][:40]
        open(os.path.join(out, name), "wb").write(chunk[:free])
        # The same chunk with only its first record in use: the others become recovered records.
        first_number, first_id = struct.unpack_from("<Q", chunk, 8)[0], struct.unpack_from("<Q", chunk, 24)[0]
        struct.pack_into("<Q", chunk, 16, first_number)
        struct.pack_into("<Q", chunk, 32, first_id)
        struct.pack_into("<I", chunk, 44, 512)
        open(os.path.join(out, name + "-recovered"), "wb").write(chunk[:free])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
