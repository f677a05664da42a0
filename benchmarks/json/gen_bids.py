"""Writes ROWS Nexmark-like bids as JSON lines to PATH (the row shape of
crates/stc-connectors/benches/json_decode.rs), deterministically.

Usage: python3 benchmarks/json/gen_bids.py ROWS PATH
"""
import random
import sys

rows, path = int(sys.argv[1]), sys.argv[2]
random.seed(7)
ch = ["Google", "Facebook", "Baidu", "Apple", "channel-1234"]
with open(path, "w") as f:
    for i in range(rows):
        ms = 1000 + i * 7
        f.write('{"auction":%d,"bidder":%d,"price":%d,"channel":"%s","url":"https://www.nexmark.com/item.htm?query=1&channel_id=%d","dateTime":"2024-01-01 00:%02d:%02d.%03d"}\n'
                % (1000 + random.randrange(10000), 2000 + random.randrange(100000), random.randrange(1, 100000000),
                   ch[i % 5], random.randrange(1000000), (ms // 60000) % 60, (ms // 1000) % 60, ms % 1000))
