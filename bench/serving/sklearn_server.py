"""The peer of Tollgate's serving in bench/serving/run.sh: scikit-learn's logistic regression
(standardized inputs, as the trainer's preprocessing does) fitted on the same rows, behind a
minimal Python HTTP server answering POST /invocations with CSV rows of the features, in the
trainer contract's answer format (the label, then each class's probability). HTTP/1.1 with
keep-alive, a thread per connection: what a small team writes first.

    python sklearn_server.py TRAIN_CSV TARGET   # prints "listening on http://127.0.0.1:PORT"
"""

import io
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

train = pd.read_csv(sys.argv[1])
target = sys.argv[2]
features = [c for c in train.columns if c != target]
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=400))
model.fit(train[features].to_numpy(), train[target].astype(str))
classes = list(model.classes_)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle's algorithm and the client's
    # delayed ACK add 40 ms to every answer, which would measure TCP, not the server.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.answer(200, b"")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            x = np.loadtxt(io.StringIO(body.decode()), delimiter=",", ndmin=2)
            p = model.predict_proba(x)
        except ValueError as e:
            self.answer(400, f"{e}\n".encode())
            return
        labels = np.asarray(classes)[p.argmax(axis=1)]
        out = "".join(
            label + "," + ",".join(repr(float(v)) for v in row) + "\n"
            for label, row in zip(labels, p)
        )
        self.answer(200, out.encode(), "text/csv")

    def answer(self, status, body, content_type="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
