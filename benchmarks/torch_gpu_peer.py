"""PyTorch eager on a CUDA GPU: the peer for labflow's GPU benchmarks (same data and updates as
../shared/peers/torch_eager.py, moved to the device). Used by `make gpu-check` on a GPU machine.
Prints one JSON line per workload, timed by run.py's harness."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import bench  # noqa: E402

DEV = torch.device(os.environ.get("TORCH_DEVICE", "cuda"))


def data(w: str) -> dict:
    import workloads
    return workloads.data(w)


def params(d: dict, skip=("x", "y", "xi")) -> dict:
    return {k: torch.tensor(v, device=DEV, requires_grad=True) for k, v in d.items() if k not in skip}


def xent(logits, y):
    return torch.mean(-(y * F.log_softmax(logits, 1)).sum(1))


def dense_train(w: str, hidden: int):
    d = data(w)
    P = params(d)
    x, y = torch.tensor(d["x"], device=DEV), torch.tensor(d["y"], device=DEV)
    opt = torch.optim.SGD(P.values(), lr=0.5 if hidden == 0 else 0.1)

    def step():
        h = x
        for i in range(1, hidden + 1):
            h = torch.relu(h @ P[f"W{i}"] + P[f"b{i}"])
        logits = h @ P[f"W{hidden + 1}"] + P[f"b{hidden + 1}"] if hidden else h @ P["W"] + P["b"]
        loss = xent(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()
    return step


def cnn():
    d = data("cnn")
    for k in ("Wc1", "Wc2"):
        d[k] = np.ascontiguousarray(d[k].transpose(3, 2, 0, 1))
    P = params(d)
    x, y = torch.tensor(d["x"], device=DEV), torch.tensor(d["y"], device=DEV)
    opt = torch.optim.Adam(P.values(), lr=1e-4)

    def step():
        h = x.view(-1, 1, 28, 28)
        for i in (1, 2):
            h = F.max_pool2d(torch.relu(F.conv2d(h, P[f"Wc{i}"], P[f"bc{i}"], padding=2)), 2)
        h = torch.relu(h.permute(0, 2, 3, 1).reshape(-1, 3136) @ P["Wf1"] + P["bf1"])
        if os.environ.get("NODROP") != "1":
            h = F.dropout(h, 0.5)
        loss = xent(h @ P["Wf2"] + P["bf2"], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()
    return step


def lstm_lm():
    d = data("lstm_lm")
    P = params(d)
    B, T, H = 20, 20, 200
    inp = torch.tensor(d["x"], dtype=torch.long, device=DEV)
    tgt = torch.tensor(d["y"], dtype=torch.long, device=DEV).reshape(-1)
    tv = list(P.values())
    opt = torch.optim.SGD(tv, lr=1.0)

    def step():
        e = F.embedding(inp, P["emb"])
        h = [torch.zeros(B, H, device=DEV)] * 2
        c = [torch.zeros(B, H, device=DEV)] * 2
        outs = []
        for t in range(T):
            xt = e[:, t, :]
            for layer in range(2):
                i, j, f, o = (torch.cat([xt, h[layer]], 1) @ P[f"W{layer}"] + P[f"b{layer}"]).chunk(4, 1)
                c[layer] = c[layer] * torch.sigmoid(f) + torch.sigmoid(i) * torch.tanh(j)
                h[layer] = xt = torch.sigmoid(o) * torch.tanh(c[layer])
            outs.append(xt)
        logits = torch.stack(outs, 1).reshape(-1, H) @ P["Wsm"] + P["bsm"]
        loss = F.cross_entropy(logits, tgt, reduction="sum") / B
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tv, 5.0)
        opt.step()
        return loss.item()
    return step


WORKLOADS = [("softmax_regression", lambda: dense_train("softmax_regression", 0)),
             ("mlp", lambda: dense_train("mlp", 2)), ("cnn", cnn), ("lstm_lm", lstm_lm)]

if __name__ == "__main__":
    only = [w for w in os.environ.get("BENCH_ONLY", "").split(",") if w]
    for name, build in WORKLOADS:
        if not only or name in only:
            print(json.dumps(bench(name, build(), False, "torch_eager_gpu")), flush=True)
