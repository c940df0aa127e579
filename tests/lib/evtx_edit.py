#!/usr/bin/env python3
"""Makes damaged or edited copies of a real .evtx log at test time (the logs stay outside the repository).

usage: evtx_edit.py SRC DST OPERATION...
  truncate:N          keep the first N bytes
  corrupt-chunk:I     overwrite the records of chunk I (0-based) with 0xA5 bytes, checksums left stale
  host:OLD:NEW        replace the UTF-16 text OLD by NEW (same length) everywhere and fix every checksum
  recover-after:I:K   in chunk I, end the records in use after the K-th (1-based): the records after it
                      lie in free space, where only libevtx's recovery finds them; checksums fixed

The layout (file header of 4096 bytes, 64 KiB chunks with a 512-byte header, CRC-32 of the chunk
header's bytes 0-120 and 128-512 at 124, CRC-32 of the record area up to the free-space offset at 52)
is libevtx's documentation of the format (Windows XML Event Log format, libyal).
"""
import struct
import sys
import zlib

FILE_HEADER = 4096
CHUNK = 65536


def chunk_fix(data, i):
    base = FILE_HEADER + i * CHUNK
    free = struct.unpack_from("<I", data, base + 48)[0]
    struct.pack_into("<I", data, base + 52, zlib.crc32(bytes(data[base + 512:base + free])))
    crc = zlib.crc32(bytes(data[base + 128:base + 512]), zlib.crc32(bytes(data[base:base + 120])))
    struct.pack_into("<I", data, base + 124, crc)


def chunks(data):
    return max(0, (len(data) - FILE_HEADER) // CHUNK)


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    data = bytearray(open(argv[1], "rb").read())
    for op in argv[3:]:
        name, _, arg = op.partition(":")
        if name == "truncate":
            del data[int(arg):]
        elif name == "corrupt-chunk":
            base = FILE_HEADER + int(arg) * CHUNK
            free = struct.unpack_from("<I", data, base + 48)[0]
            data[base + 512:base + free] = b"\xa5" * (free - 512)
        elif name == "host":
            old, new = (s.encode("utf-16-le") for s in arg.split(":"))
            if len(old) != len(new) or old not in data:
                sys.stderr.write("host: OLD missing or lengths differ\n")
                return 1
            data = bytearray(bytes(data).replace(old, new))
            for i in range(chunks(data)):
                if data[FILE_HEADER + i * CHUNK:FILE_HEADER + i * CHUNK + 8] == b"ElfChnk\0":
                    chunk_fix(data, i)
        elif name == "recover-after":
            i, k = (int(x) for x in arg.split(":"))
            base = FILE_HEADER + i * CHUNK
            off, n = 512, 0
            first_number, first_id = struct.unpack_from("<Q", data, base + 8)[0], struct.unpack_from("<Q", data, base + 24)[0]
            while n < k:
                last = off
                off += struct.unpack_from("<I", data, base + off + 4)[0]
                n += 1
            # Last record number and identifier, and the offset of the last record in use.
            struct.pack_into("<Q", data, base + 16, first_number + k - 1)
            struct.pack_into("<Q", data, base + 32, first_id + k - 1)
            struct.pack_into("<I", data, base + 44, last)
            chunk_fix(data, i)
        else:
            sys.stderr.write("unknown operation %s\n" % op)
            return 2
    open(argv[2], "wb").write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
