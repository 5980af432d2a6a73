"""Writes fixed-seed minute bars (a random walk) as CSV with the standard library only (the
benches that need no venv): walk_csv.py PATH N."""
import random
import sys

path, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
p = 100.0
with open(path, "w") as f:
    f.write("timestamp,Open,High,Low,Close,Volume\n")
    for i in range(n):
        o = p
        p = max(p * (1 + (rnd.random() - 0.5) * 0.004), 1.0)
        h = max(o, p) * (1 + rnd.random() * 0.001)
        l = min(o, p) * (1 - rnd.random() * 0.001)
        f.write(f"{1600000000 + 60 * i},{o:.6f},{h:.6f},{l:.6f},{p:.6f},{int(rnd.random() * 1000)}\n")
