#!/usr/bin/env python3
"""Measure Concrete ML on the models of the engine's benchmark table, for BENCHMARKS.md.

Trains each model with Concrete ML's own estimators (same hyper-parameters and random_state as
`fixtures/generate.py`) on the committed breast-cancer split, compiles it with the training set,
generates keys, and prints one JSON line per model: PBS count, evaluation-key size, and the median
server-side time (`circuit.run`) over the first N test rows, plus quantized accuracy in the clear
and FHE agreement on those rows. Nothing here is needed by the Rust tests.

    python3 -m venv /tmp/cml && /tmp/cml/bin/pip install concrete-ml==1.9.0
    /tmp/cml/bin/python sdk/fhe/bench/concrete_ml.py [--samples 20] [--only rf10d4,xgb20d3]
"""
import argparse
import json
import pathlib
import statistics
import time

import numpy as np
from concrete.ml.sklearn import (
    DecisionTreeClassifier,
    LogisticRegression,
    RandomForestClassifier,
    XGBClassifier,
)

DATA = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "data"
SEED = 0

MODELS = {
    "logreg": lambda: LogisticRegression(),
    "tree5": lambda: DecisionTreeClassifier(max_depth=5, random_state=SEED),
    "rf10d4": lambda: RandomForestClassifier(n_estimators=10, max_depth=4, random_state=SEED),
    "xgb20d3": lambda: XGBClassifier(n_estimators=20, max_depth=3, random_state=SEED),
}


def load(split):
    rows = np.loadtxt(DATA / f"breast_cancer_{split}.csv", delimiter=",", skiprows=1)
    return rows[:, :-1].astype(np.float32), rows[:, -1].astype(np.int64)


def measure(name, make, samples):
    xtr, ytr = load("train")
    xte, yte = load("test")
    model = make()
    model.fit(xtr, ytr)
    circuit = model.compile(xtr)
    t = time.perf_counter()
    circuit.keygen(force=True)
    keygen_s = time.perf_counter() - t
    eval_key_bytes = len(circuit.keys.evaluation.serialize())
    stats = circuit.statistics
    server_ms = []
    for i in range(samples):
        enc = circuit.encrypt(model.quantize_input(xte[i : i + 1]))
        t = time.perf_counter()
        circuit.run(enc)
        server_ms.append((time.perf_counter() - t) * 1e3)
    clear = model.predict(xte[:samples], fhe="disable")
    agree = int((model.predict(xte[:samples], fhe="execute") == clear).sum())
    return {
        "model": name,
        "concrete_ml": "1.9.0",
        "pbs": stats.get("programmable_bootstrap_count"),
        "evaluation_key_bytes": eval_key_bytes,
        "keygen_s": round(keygen_s, 2),
        "server_ms_median": round(statistics.median(server_ms), 1),
        "quantized_accuracy": round(float((model.predict(xte, fhe="disable") == yte).mean()), 4),
        "fhe_agreement": agree / samples,
        "samples": samples,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    only = [o for o in args.only.split(",") if o]
    for name, make in MODELS.items():
        if only and name not in only:
            continue
        print(json.dumps(measure(name, make, args.samples)), flush=True)


if __name__ == "__main__":
    main()
