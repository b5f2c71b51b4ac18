#!/usr/bin/env python3
"""One wall per third-party library: fails when a source file includes a library's
headers outside the one place that wraps it (docs/architecture.md, "Principles we hold to", 9).

Usage: wall_test.py SOURCE_DIR. Prints every breach as `path:line: what` and exits 1
when there is one.
"""
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')

# (what, matches an included path, may a file at this path include it?)
WALLS = [
    ("RocksDB", lambda inc: inc.startswith("rocksdb/"),
     lambda p: (p.startswith("engine/storage/") and
                (p.endswith(".cc") or p == "engine/storage/rocks_util.h"))
     or p.startswith("tests/")),
    ("engine/storage/rocks_util.h (RocksDB's side of the storage types)",
     lambda inc: inc == "engine/storage/rocks_util.h",
     lambda p: (p.startswith("engine/storage/") and p.endswith(".cc"))
     or p.startswith("tests/")),
    # bench/consume_limits.cc measures librdkafka itself (the consume ceiling the engine
    # is compared with), so it talks to the library directly.
    ("librdkafka", lambda inc: inc.startswith("librdkafka/") or inc == "rdkafka.h",
     lambda p: p == "engine/kafka/kafka.cc" or p == "bench/consume_limits.cc"),
    # OpenSSL's ciphers and random generator: only the sealing of personal data
    # (crypto-shredding) encrypts; SHA-256 goes through EVP for the hash chain in
    # engine/storage/digest.cc (the digest fetched once) and through openssl/sha.h's
    # one-shot for dead letters, where it is computed. The HTTP server is cpp-httplib's wall and its
    # TLS is OpenSSL's: it loads the key pair (EVP_PKEY) and digests bearer tokens there.
    ("OpenSSL EVP/RAND", lambda inc: inc in ("openssl/evp.h", "openssl/rand.h"),
     lambda p: p in ("engine/storage/sealing.cc", "engine/storage/digest.cc",
                     "engine/query/http_server.cc")),
    ("cpp-httplib", lambda inc: inc == "httplib.h",
     lambda p: p == "engine/query/http_server.cc" or p.startswith("tests/")),
]

SOURCE_DIRS = ["app", "bench", "common", "connectors", "engine", "fuzz", "projections", "tests"]


def breaches(root: pathlib.Path):
    for top in SOURCE_DIRS:
        for path in sorted((root / top).rglob("*")):
            if path.suffix not in (".h", ".cc", ".cpp", ".hpp"):
                continue
            rel = path.relative_to(root).as_posix()
            text = path.read_text(encoding="utf-8", errors="replace")
            for number, line in enumerate(text.splitlines(), start=1):
                match = INCLUDE.match(line)
                if not match:
                    continue
                for what, matches, allowed in WALLS:
                    if matches(match.group(1)) and not allowed(rel):
                        yield f"{rel}:{number}: includes {what} outside its wall"


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = pathlib.Path(sys.argv[1])
    if not (root / "engine").is_dir():
        print(f"{root} is not the source directory (no engine/)", file=sys.stderr)
        return 2
    found = list(breaches(root))
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} include(s) outside their wall")
        return 1
    print("every third-party include is inside its wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
