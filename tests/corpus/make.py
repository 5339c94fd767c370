"""Writes the corpus of malformed (and some valid but awkward) uploads the tests run through the
data gate. Run from this folder: python3 make.py. The files are committed; this is how they were made."""
import gzip
import random

rng = random.Random(7)
segments = ["retail", "sme", "corporate"]


def good_rows(n, start=1):
    rows = []
    for i in range(start, start + n):
        rows.append([str(i), str(rng.randint(18, 80)), f"{rng.uniform(10_000, 150_000):.2f}", rng.choice(segments), str(rng.randint(0, 1))])
    return rows


HEADER = ["id", "age", "income", "segment", "target"]


def csv(rows, header=HEADER, sep=",", eol="\n"):
    return eol.join(sep.join(r) for r in [header] + rows) + eol


def write(name, data, mode="w"):
    with open(name, mode + ("b" if isinstance(data, bytes) else ""), **({} if isinstance(data, bytes) else {"newline": ""})) as f:
        f.write(data)


# Valid: the baseline every contract-dependent case is checked against.
write("good.csv", csv(good_rows(40)))
write("good_next.csv", csv(good_rows(40, start=41)))
write("bom_crlf.csv", b"\xef\xbb\xbf" + csv(good_rows(30, start=200), eol="\r\n").encode())
write("good.jsonl", "\n".join('{"id": %s, "age": %s, "income": %s, "segment": "%s", "target": %s}' % tuple(r) for r in good_rows(25, start=300)) + "\n")
with gzip.open("good.csv.gz", "wt", newline="") as f:
    f.write(csv(good_rows(35, start=400)))

# Malformed.
write("empty.csv", "")
write("header_only.csv", ",".join(HEADER) + "\n")
rows = good_rows(10, start=500)
rows[4] = rows[4] + ["surplus"]
rows[7] = rows[7][:3]
write("ragged_rows.csv", csv(rows))
write("semicolon_delimited.csv", csv(good_rows(10, start=600), sep=";"))
write("latin1.csv", ("name,city\nJosé,Málaga\nRenée,Besançon\n").encode("latin-1"))
write("binary.dat", bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) + bytes(rng.randrange(256) for _ in range(2048)))
write("duplicate_header.csv", csv(good_rows(10, start=700), header=["id", "age", "income", "age", "target"]))
write("all_null_column.csv", "id,age,notes\n" + "".join(f"{i},{20 + i},\n" for i in range(1, 11)))
write("nan_inf.csv", "id,score\n1,0.5\n2,NaN\n3,inf\n4,-inf\n5,1.5\n")
rows = good_rows(12, start=800)
rows[2][2] = "abc"
write("text_in_numeric.csv", csv(rows))
with gzip.open("multi_megabyte_field.csv.gz", "wt", newline="") as f:
    f.write("id,age,income,segment,target,notes\n")
    f.write('1,30,1000.0,retail,0,"' + "lorem ipsum " * 400_000 + '"\n')
    f.write("2,31,2000.0,sme,1,short\n")
write("unterminated_quote.csv", 'id,age,income,segment,target\n1,30,100.0,retail,0\n2,31,"200.0,sme,1\n3,32,300.0,retail,0\n')
good_gz = gzip.compress(csv(good_rows(20, start=900)).encode())
write("corrupt.csv.gz", good_gz[: len(good_gz) // 2] + b"\x00garbage")
write("corrupt.parquet", b"PAR1" + bytes(rng.randrange(256) for _ in range(512)) + b"PAR1")
write("missing_target.csv", csv([r[:4] for r in good_rows(10, start=1000)], header=HEADER[:4]))
with gzip.open("wide_20000_columns.csv.gz", "wt", newline="") as f:
    f.write(",".join(f"c{i}" for i in range(20_000)) + "\n")
    for r in range(3):
        f.write(",".join(str((i * 7 + r) % 100) for i in range(20_000)) + "\n")
write("control_chars.csv", "id,name\n1,alpha\n2,be\x01ta\n3,gamma\n")
