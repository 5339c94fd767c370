"""Tuning quality: Tollgate's random and TPE strategies beside Optuna's, same budget, same seeds,
same objective code (this file), on Branin, Hartmann-6 and a real model's validation loss.

Tollgate's strategies run behind a JSON-lines ask/tell protocol (shared/tuning/examples/
ask_tell.rs); Optuna runs in this process. Prints the median best-found regret per method and
writes bench/tuning/out/results.json. Run through bench/tuning/run.sh.
"""

import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import optuna
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import log_loss

optuna.logging.set_verbosity(optuna.logging.WARNING)
ROOT = pathlib.Path(__file__).resolve().parents[2]
ASK_TELL = sys.argv[1]
SEEDS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
TRIALS = int(sys.argv[3]) if len(sys.argv) > 3 else 50

# --- objectives -------------------------------------------------------------------------------

BRANIN_SPACE = {
    "x1": {"type": "uniform", "low": -5.0, "high": 10.0},
    "x2": {"type": "uniform", "low": 0.0, "high": 15.0},
}


def branin(p):
    x1, x2 = p["x1"], p["x2"]
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


HARTMANN_SPACE = {f"x{i}": {"type": "uniform", "low": 0.0, "high": 1.0} for i in range(6)}
H_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
H_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                       [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(p):
    x = np.array([p[f"x{i}"] for i in range(6)])
    return float(-np.sum(H_ALPHA * np.exp(-np.sum(H_A * (x - H_P) ** 2, axis=1))))


FOREST_SPACE = {
    "max_depth": {"type": "int", "low": 2, "high": 30},
    "min_samples_leaf": {"type": "int", "low": 1, "high": 50, "log": True},
    "max_features": {"type": "uniform", "low": 0.1, "high": 1.0},
}
_wine = pd.read_csv(ROOT / "samples/wine/wine-2009-a.csv")
_rows = np.random.default_rng(0).permutation(len(_wine))
_train, _valid = _wine.iloc[_rows[:560]], _wine.iloc[_rows[560:]]
_classes = sorted(_wine["quality"].unique())


def forest_loss(p):
    model = RandomForestClassifier(
        n_estimators=25, random_state=0, max_depth=int(p["max_depth"]),
        min_samples_leaf=int(p["min_samples_leaf"]), max_features=float(p["max_features"]))
    model.fit(_train.drop(columns=["quality"]), _train["quality"])
    proba = model.predict_proba(_valid.drop(columns=["quality"]))
    return log_loss(_valid["quality"], proba, labels=model.classes_)


PROBLEMS = {
    "branin": (BRANIN_SPACE, branin, 0.397887),
    "hartmann6": (HARTMANN_SPACE, hartmann6, -3.32237),
    "wine-forest-logloss": (FOREST_SPACE, forest_loss, None),
}

# --- methods ----------------------------------------------------------------------------------


def tollgate(strategy, space, f, seed):
    proc = subprocess.Popen([ASK_TELL], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    proc.stdin.write(json.dumps({"strategy": strategy, "seed": seed, "trials": TRIALS,
                                 "space": space}) + "\n")
    proc.stdin.flush()
    best = math.inf
    for _ in range(TRIALS):
        line = proc.stdout.readline()
        if not line:
            break
        value = f(json.loads(line))
        best = min(best, value)
        proc.stdin.write(f"{value!r}\n")
        proc.stdin.flush()
    proc.stdin.close()
    proc.wait()
    return best


def optuna_run(sampler, space, f, seed):
    def objective(trial):
        p = {}
        for name, s in space.items():
            if s["type"] == "uniform":
                p[name] = trial.suggest_float(name, s["low"], s["high"])
            elif s["type"] == "log_uniform":
                p[name] = trial.suggest_float(name, s["low"], s["high"], log=True)
            elif s["type"] == "int":
                p[name] = trial.suggest_int(name, s["low"], s["high"], log=s.get("log", False))
        return f(p)

    make = {"random": optuna.samplers.RandomSampler, "tpe": optuna.samplers.TPESampler}[sampler]
    study = optuna.create_study(sampler=make(seed=seed))
    study.optimize(objective, n_trials=TRIALS)
    return study.best_value


METHODS = {
    "tollgate random": lambda s, f, seed: tollgate("random", s, f, seed),
    "tollgate tpe": lambda s, f, seed: tollgate("tpe", s, f, seed),
    "optuna random": lambda s, f, seed: optuna_run("random", s, f, seed),
    "optuna tpe": lambda s, f, seed: optuna_run("tpe", s, f, seed),
}


def main():
    results = {}
    only = [p for p in os.environ.get("ONLY", "").split(",") if p]
    for problem, (space, f, optimum) in PROBLEMS.items():
        if only and problem not in only:
            continue
        found = {m: [run(space, f, seed) for seed in range(SEEDS)] for m, run in METHODS.items()}
        floor = optimum if optimum is not None else min(min(v) for v in found.values())
        results[problem] = {
            "optimum": floor,
            "optimum_known": optimum is not None,
            "median_regret": {m: float(np.median(np.array(v) - floor)) for m, v in found.items()},
            "best_found": found,
        }
        print(problem, json.dumps(results[problem]["median_regret"]), flush=True)
    out = ROOT / "bench/tuning/out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(f"Median best-found regret, {TRIALS} trials, {SEEDS} seeds (lower is better)")
    names = list(METHODS)
    print("| problem | " + " | ".join(names) + " | ours/optuna tpe |")
    print("| --- " * (len(names) + 2) + "|")
    for problem, r in results.items():
        m = r["median_regret"]
        ratio = m["tollgate tpe"] / m["optuna tpe"] if m["optuna tpe"] > 0 else float("nan")
        cells = " | ".join(f"{m[n]:.4g}" for n in names)
        print(f"| {problem} | {cells} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
