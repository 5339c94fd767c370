"""Writes the demo's sample files from linfa-datasets' copy of the UCI red wine quality data
(pass the path of winequality-red.csv.gz). Seeded, so the files are always the same.

The three batches are disjoint: 800 wines, then 400 others, then the last 399 with a synthetic
drift on top, so a model retrained on the drifted batch learns from wines it has not seen."""
import csv
import gzip
import io
import random
import sys

rows = list(csv.reader(io.TextIOWrapper(gzip.open(sys.argv[1]), "utf-8")))
header = [h.replace(" ", "_") for h in rows[0]]
data = rows[1:]
random.Random(2009).shuffle(data)


def write(name, rs):
    with open(name, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rs)


write("wine-2009-a.csv", data[:800])
write("wine-2009-b.csv", data[800:1200])
ai, si = header.index("alcohol"), header.index("sulphates")
drifted = []
for r in data[1200:]:
    r = list(r)
    r[ai] = f"{float(r[ai]) + 1.2:.2f}"
    r[si] = f"{float(r[si]) * 1.3:.3f}"
    drifted.append(r)
write("wine-2010-drifted.csv", drifted)
