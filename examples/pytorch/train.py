"""A PyTorch training script under Tollgate's training contract (SageMaker's, as the bundled
trainer follows it), for GPU instances on SageMaker and a CPU on a laptop.

Where everything is, from the variables SageMaker's training toolkit sets (and Tollgate's local
backend sets the same way), with the container paths as defaults:

- hyperparameters: SM_HPS (JSON; values are strings): `target`, `task` (classification or
  regression), `features` (a JSON list of column names), `metric`, `seed`, and this script's
  own: `hidden` (units per layer, default 64), `layers` (default 2), `lr` (default 1e-3),
  `epochs` (default 50), `batch_size` (default 256), `weight_decay` (default 0);
- channels: SM_CHANNEL_TRAIN, SM_CHANNEL_VALIDATION, SM_CHANNEL_TEST (the test rows come
  without the target: the script predicts them, Tollgate scores them), each `.parquet` or
  `.csv` files;
- out: SM_MODEL_DIR (model.pt and preprocessing.json), SM_OUTPUT_DATA_DIR/predictions/
  <channel>.csv (`row,prediction` and `p_<class>` per class), metrics on stdout as
  `validation:accuracy=0.8125;` (SageMaker's metric definitions read them), and on failure
  SM_OUTPUT_DIR/failure with the reason, and a non-zero exit.

Tollgate tests the candidate from the test predictions (a model.pt is not something its tests
load), so the predictions file is the model's evidence.
"""

import glob
import json
import math
import os
import sys
import traceback

import numpy as np
import pandas as pd
import torch
from torch import nn

OPT_ML = "/opt/ml"


def env_dir(name: str, default: str) -> str:
    return os.environ.get(name, os.path.join(OPT_ML, default))


def hyperparameters() -> dict:
    """Every value as a string, as hyperparameters.json has them (SageMaker's training toolkit
    JSON-decodes the values it puts in SM_HPS: they are turned back into text here)."""
    if "SM_HPS" in os.environ:
        raw = json.loads(os.environ["SM_HPS"])
    else:
        with open(os.path.join(env_dir("SM_INPUT_CONFIG_DIR", "input/config"), "hyperparameters.json")) as f:
            raw = json.load(f)
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}


def channel(name: str):
    folder = os.environ.get(f"SM_CHANNEL_{name.upper()}", os.path.join(OPT_ML, "input/data", name))
    files = sorted(glob.glob(os.path.join(folder, "*.parquet")) + glob.glob(os.path.join(folder, "*.csv")))
    if not files:
        return None
    frames = [pd.read_parquet(f) if f.endswith(".parquet") else pd.read_csv(f) for f in files]
    return pd.concat(frames, ignore_index=True)


class Preprocessing:
    """Fitted on the training rows only: numbers standardised (missing → the mean), text one-hot
    over the training rows' values (unseen → all zeros)."""

    def __init__(self, frame: pd.DataFrame, features: list):
        self.numeric = [c for c in features if pd.api.types.is_numeric_dtype(frame[c])]
        # A text column with no value in the training rows carries nothing: left out.
        self.categories = {
            c: values
            for c in features
            if c not in self.numeric
            for values in [sorted(frame[c].dropna().astype(str).unique().tolist())]
            if values
        }
        numbers = frame[self.numeric].astype("float64")
        self.mean = numbers.mean().fillna(0.0).to_dict()
        self.std = numbers.std().replace(0, 1).fillna(1.0).to_dict()

    def transform(self, frame: pd.DataFrame) -> torch.Tensor:
        parts = []
        for c in self.numeric:
            values = frame[c].astype("float64").fillna(self.mean[c])
            parts.append(((values - self.mean[c]) / self.std[c]).to_numpy()[:, None])
        for c, values in self.categories.items():
            text = frame[c].astype(str)
            parts.append(np.stack([(text == v).to_numpy() for v in values], axis=1).astype("float64"))
        matrix = np.concatenate(parts, axis=1) if parts else np.zeros((len(frame), 0))
        return torch.tensor(matrix, dtype=torch.float32)

    def to_json(self) -> dict:
        return {"numeric": self.numeric, "categories": self.categories, "mean": self.mean, "std": self.std}


def network(inputs: int, outputs: int, hidden: int, layers: int) -> nn.Module:
    blocks, width = [], inputs
    for _ in range(layers):
        blocks += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    blocks.append(nn.Linear(width, outputs))
    return nn.Sequential(*blocks)


def metrics(task: str, truth, predicted, probabilities=None) -> dict:
    if task == "classification":
        truth, predicted = np.asarray(truth), np.asarray(predicted)
        labels = np.unique(np.concatenate([truth, predicted]))
        f1s = []
        for label in labels:
            tp = np.sum((predicted == label) & (truth == label))
            fp = np.sum((predicted == label) & (truth != label))
            fn = np.sum((predicted != label) & (truth == label))
            f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
        out = {"accuracy": float(np.mean(truth == predicted)), "f1_macro": float(np.mean(f1s))}
        if probabilities is not None:
            out["log_loss"] = float(-np.mean(np.log(np.clip(probabilities, 1e-15, 1.0))))
        return out
    truth, predicted = np.asarray(truth, dtype="float64"), np.asarray(predicted, dtype="float64")
    error = predicted - truth
    total = np.sum((truth - truth.mean()) ** 2)
    return {
        "rmse": float(math.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "r2": float(1 - np.sum(error**2) / total) if total > 0 else 0.0,
    }


def main() -> None:
    hp = hyperparameters()
    target, task = hp["target"], hp.get("task", "classification")
    seed = int(hp.get("seed", "0"))
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"training on {device}", file=sys.stderr)

    train, validation, test = channel("train"), channel("validation"), channel("test")
    if train is None or validation is None:
        raise ValueError("the train and validation channels are required")
    features = json.loads(hp["features"]) if "features" in hp else [c for c in train.columns if c != target]
    missing = int(train[target].isna().sum())
    if missing:
        raise ValueError(f"{missing} training rows have no {target!r}")

    pre = Preprocessing(train, features)
    classes = sorted(train[target].unique().tolist()) if task == "classification" else None
    def targets(frame):
        if classes is None:
            return torch.tensor(frame[target].astype("float64").to_numpy(), dtype=torch.float32)
        index = {c: i for i, c in enumerate(classes)}
        return torch.tensor([index.get(v, -1) for v in frame[target]], dtype=torch.long)

    x, y = pre.transform(train).to(device), targets(train).to(device)
    model = network(x.shape[1], len(classes) if classes else 1, int(hp.get("hidden", 64)), int(hp.get("layers", 2))).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=float(hp.get("lr", 1e-3)), weight_decay=float(hp.get("weight_decay", 0)))
    loss_of = nn.CrossEntropyLoss() if classes else nn.MSELoss()
    batch = int(hp.get("batch_size", 256))
    for epoch in range(int(hp.get("epochs", 50))):
        model.train()
        order = torch.randperm(len(x), device=device)
        for start in range(0, len(x), batch):
            rows = order[start : start + batch]
            out = model(x[rows])
            loss = loss_of(out, y[rows]) if classes else loss_of(out.squeeze(1), y[rows])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}", file=sys.stderr)

    def predict(frame):
        model.eval()
        with torch.no_grad():
            out = model(pre.transform(frame).to(device)).cpu()
        if classes is None:
            return out.squeeze(1).numpy(), None
        probabilities = torch.softmax(out, dim=1).numpy()
        return [classes[i] for i in probabilities.argmax(axis=1)], probabilities

    out_dir = os.path.join(env_dir("SM_OUTPUT_DATA_DIR", "output/data"), "predictions")
    os.makedirs(out_dir, exist_ok=True)
    for name, frame in [("train", train), ("validation", validation), ("test", test)]:
        if frame is None:
            continue
        predicted, probabilities = predict(frame)
        written = pd.DataFrame({"row": range(len(frame)), "prediction": predicted})
        if probabilities is not None:
            for i, c in enumerate(classes):
                written[f"p_{c}"] = probabilities[:, i]
        if name != "train":
            written.to_csv(os.path.join(out_dir, f"{name}.csv"), index=False)
        if target in frame.columns:
            truth = frame[target].tolist()
            picked = None
            if probabilities is not None:
                index = {c: i for i, c in enumerate(classes)}
                picked = [probabilities[r, index[t]] if t in index else 0.0 for r, t in enumerate(truth)]
            for metric, value in metrics(task, truth, predicted, picked).items():
                print(f"{name}:{metric}={value:.6f};")

    model_dir = env_dir("SM_MODEL_DIR", "model")
    os.makedirs(model_dir, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(model_dir, "model.pt"))
    with open(os.path.join(model_dir, "preprocessing.json"), "w") as f:
        json.dump({"preprocessing": pre.to_json(), "classes": classes, "hyperparameters": hp}, f, indent=2, default=str)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the contract: the reason in output/failure, a non-zero exit
        failure = os.path.join(env_dir("SM_OUTPUT_DIR", "output"), "failure")
        os.makedirs(os.path.dirname(failure), exist_ok=True)
        with open(failure, "w") as f:
            f.write(f"{type(e).__name__}: {e}\n")
        traceback.print_exc()
        sys.exit(1)
