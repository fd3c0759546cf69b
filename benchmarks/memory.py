"""Peak memory of one training/inference step, labflow against TF1 graph mode (../shared/BENCHMARKS.md:
"peak memory is within 1.2x of TF1's for the same step").

Each (framework, workload) runs in its own process: build the graph and session (variables initialized),
read the resident set size, reset the kernel's high-water mark (/proc/self/clear_refs), run the step
5 times, and report the peak above that baseline: the activations, gradients and temporaries a step
needs, without either framework's import footprint or its variables. TF1 runs from ../shared/peers in
the peers' venv (made by ../shared/peers/run.sh), with the peer script's own workload builders.

Usage: python benchmarks/memory.py [--only cnn,lstm_lm]   (Linux only)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(HERE, "..", "..", "shared", "peers")
PEER_PYTHON = "/tmp/peers/bin/python"
WORKLOADS = ("softmax_regression", "mlp", "cnn", "lstm_lm", "inference_cnn")


def _status_kb(key: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        return int(re.search(key + r":\s+(\d+)", f.read()).group(1))


def _child(framework: str, workload: str) -> dict:
    if framework == "labflow":
        sys.path.insert(0, HERE)
        import workloads
        build = dict(workloads.WORKLOADS)[workload]
    else:
        import importlib.util
        spec = importlib.util.spec_from_file_location("peer", os.path.join(PEERS, f"{framework}.py"))
        peer = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(peer)  # its __main__ block does not run
        build = dict(peer.WORKLOADS)[workload]
    fn = build()
    base = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")  # resets VmHWM to the current RSS
    for _ in range(5):
        fn()
    peak = _status_kb("VmHWM")
    return dict(framework=framework, workload=workload, step_peak_mb=round((peak - base) / 1024, 1),
                baseline_mb=round(base / 1024, 1))


def _run(python: str, framework: str, workload: str) -> dict | None:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([python, os.path.abspath(__file__), "--child", framework, workload], env=env,
                         capture_output=True, text=True, check=False, timeout=900)
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    print(f"{framework} {workload} failed:\n{out.stderr[-2000:]}", file=sys.stderr)
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--only", default="")
    p.add_argument("--child", nargs=2, metavar=("FRAMEWORK", "WORKLOAD"))
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(_child(*args.child)), flush=True)
        return 0
    if not os.path.exists(PEER_PYTHON):
        subprocess.run(["bash", os.path.join(PEERS, "run.sh"), "numpy_manual"], capture_output=True, check=False)
    only = [w for w in args.only.split(",") if w] or list(WORKLOADS)
    rows = []
    for w in only:
        mine, peer = _run(sys.executable, "labflow", w), _run(PEER_PYTHON, "tf1_graph", w)
        for r in (mine, peer):
            if r:
                print(json.dumps(r), flush=True)
        if mine and peer:
            rows.append((w, mine["step_peak_mb"], peer["step_peak_mb"]))
    print("\nworkload              labflow MB   tf1_graph MB   ratio")
    for w, a, b in rows:
        print(f"{w:20s} {a:11.1f} {b:14.1f} {a / b if b else float('nan'):7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
