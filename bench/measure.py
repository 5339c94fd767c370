"""Runs a command and prints its wall time (s) and its peak resident memory (MB) as JSON, with
the command's stdout under "stdout"."""
import json
import resource
import subprocess
import sys
import time

start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
wall = time.perf_counter() - start
if done.returncode not in (0,):
    sys.stderr.write(done.stderr)
    sys.exit(done.returncode)
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"wall": wall, "peak_mb": peak_kb / 1024, "stdout": done.stdout}))
