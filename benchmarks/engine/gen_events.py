"""Writes N deterministic events as CSV: ts,key,amount,price (ts advancing 1 ms per event)."""
import sys

n = int(sys.argv[1])
out = sys.argv[2]
t0 = 1704067200000
with open(out, "w") as f:
    buf = []
    for i in range(n):
        ts = t0 + i
        s, ms = divmod(ts, 1000)
        import time as _t
        d = _t.strftime("%Y-%m-%d %H:%M:%S", _t.gmtime(s))
        buf.append(f"{d}.{ms:03d},k{(i * 7919) % 1000},{i % 100},{(i % 997) * 0.5}\n")
        if len(buf) == 100000:
            f.write("".join(buf))
            buf = []
    f.write("".join(buf))
