"""The MNIST tutorial notebooks in notebooks/ run top to bottom (quick mode) and reach the tutorials' accuracy.

Each notebook is executed headlessly with nbclient in a kernel started from THIS interpreter (a
kernelspec written into a temporary folder), with LABFLOW_QUICK=1, LABFLOW_DATA pointing at the
shared MNIST files and LABFLOW_LOGDIR in a temporary folder. A cell appended at the end prints the
notebook's results as JSON, which the tests check. Skips without the MNIST files.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("tqdm")
pytest.importorskip("matplotlib")

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = ["01_mnist_softmax", "02_deep_mnist", "03_mechanics_101", "04_inspecting_graphs", "05_distributed",
         "06_ptb_lstm", "07_char_rnn"]
MARKER = "@@LABFLOW_RESULTS@@"
# Appended to each executed copy: the notebook's result variables, as JSON on one line.
REPORT = f"""\
import json as _json
_names = ["test_accuracy", "softmax_accuracy", "precisions", "restored_precision", "logged", "STEPS",
          "sync_accuracy", "async_steps", "straggler_step_s", "STRAGGLE_S", "train_perplexity", "valid_perplexity",
          "test_perplexity", "samples", "curve", "losses", "valid_loss", "unigram"]
_g = globals()
print({MARKER!r} + _json.dumps({{n: _g[n] for n in _names if n in _g}}, default=float))"""
WIDGET = "application/vnd.jupyter.widget-view+json"


def _kernel_manager(tmp_path: Path):
    """A kernel manager whose kernel runs this interpreter (this venv), whatever kernelspecs are installed."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    spec_dir = tmp_path / "kernels" / "labflow-test"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "labflow test", "language": "python"}))
    ksm = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")], ensure_native_kernel=False)
    return AsyncKernelManager(kernel_name="labflow-test", kernel_spec_manager=ksm)


def _execute(name: str, tmp_path: Path, monkeypatch, mnist_dir: str):
    """Runs notebooks/<name>.ipynb in quick mode; returns (executed notebook, results dict)."""
    monkeypatch.setenv("LABFLOW_QUICK", "1")
    monkeypatch.setenv("LABFLOW_DATA", str(Path(mnist_dir).parent))
    monkeypatch.setenv("LABFLOW_LOGDIR", str(tmp_path / "logs"))
    nb = nbformat.read(str(NOTEBOOKS / f"{name}.ipynb"), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(REPORT))
    workdir = tmp_path / "work"  # the kernel's cwd: a "MNIST_data" folder is not there, so LABFLOW_DATA is used
    workdir.mkdir()
    client = nbclient.NotebookClient(nb, km=_kernel_manager(tmp_path), timeout=600,
                                     resources={"metadata": {"path": str(workdir)}})
    client.execute()
    nbformat.write(nb, str(tmp_path / f"{name}.executed.ipynb"))
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, (cell.source, errors)
        tracebacks = [o for o in cell.outputs if o.output_type == "stream" and "Traceback" in o.text]
        assert not tracebacks, (cell.source, tracebacks)
    lines = [line for o in nb.cells[-1].outputs if o.output_type == "stream"
             for line in o.text.splitlines() if line.startswith(MARKER)]
    assert lines, nb.cells[-1].outputs
    assert not list(workdir.glob("MNIST_data/*")), "the notebook downloaded MNIST instead of using LABFLOW_DATA"
    return nb, json.loads(lines[0][len(MARKER):])


def _code_cells_with(nb, text: str) -> list:
    return [c for c in nb.cells if c.cell_type == "code" and text in c.source]


def _has_png(nb) -> bool:
    return any("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def _assert_progress_bar(nb) -> None:
    """The training loop shows tqdm's notebook (widget) bar; without ipywidgets tqdm.auto falls back to text."""
    loops = _code_cells_with(nb, "tqdm(")
    assert loops
    outputs = [o for c in loops for o in c.outputs]
    if importlib.util.find_spec("ipywidgets") is not None:
        assert any(WIDGET in o.get("data", {}) for o in outputs), outputs
    else:
        assert any(o.output_type == "stream" and "training:" in o.text for o in outputs), outputs


# -- the saved notebooks ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_saved_clean_and_documents_quick_mode(name):
    nb = nbformat.read(str(NOTEBOOKS / f"{name}.ipynb"), as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["language"] == "python"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: saved with outputs"
    assert nb.cells[0].cell_type == "markdown" and "LABFLOW_QUICK" in nb.cells[0].source
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "from tqdm.auto import tqdm" in code and "%matplotlib inline" in code
    assert "LABFLOW_QUICK" in code


# -- executed ---------------------------------------------------------------------------------------------
def test_mnist_softmax_notebook(tmp_path, monkeypatch, mnist_dir):
    nb, results = _execute("01_mnist_softmax", tmp_path, monkeypatch, mnist_dir)
    assert results["test_accuracy"] >= 0.91, results  # the tutorial: ~92%
    assert _has_png(nb)
    _assert_progress_bar(nb)


def test_deep_mnist_notebook(tmp_path, monkeypatch, mnist_dir):
    nb, results = _execute("02_deep_mnist", tmp_path, monkeypatch, mnist_dir)
    assert results["STEPS"] < 1000, "LABFLOW_QUICK=1 must shorten the 20000-step run"
    assert results["softmax_accuracy"] >= 0.90, results
    assert results["test_accuracy"] >= 0.90, results  # quick mode; the full run reaches ~99.2%
    assert _has_png(nb)
    _assert_progress_bar(nb)


def test_mechanics_101_notebook(tmp_path, monkeypatch, mnist_dir):
    nb, results = _execute("03_mechanics_101", tmp_path, monkeypatch, mnist_dir)
    precisions = results["precisions"]
    assert set(precisions) == {"training", "validation", "test"}
    assert min(precisions.values()) >= 0.85, precisions
    # The checkpoint restored into a fresh session evaluates exactly like the trained model.
    assert results["restored_precision"] == pytest.approx(precisions["test"]), results
    # Summaries: a "loss" scalar every 100 steps, read back from the events file.
    steps = [s for s, _ in results["logged"]]
    assert steps and steps == sorted(steps) and steps[0] == 0 and all(s % 100 == 0 for s in steps)
    logs = tmp_path / "logs"
    assert (logs / "checkpoint").is_file()
    assert list(logs.glob("model.ckpt-*.index")) and list(logs.glob("events.out.tfevents.*"))
    assert _has_png(nb)
    _assert_progress_bar(nb)


def test_inspecting_graphs_notebook(tmp_path, monkeypatch, mnist_dir):
    nb, results = _execute("04_inspecting_graphs", tmp_path, monkeypatch, mnist_dir)
    html = "\n".join(o.get("data", {}).get("text/html", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.outputs)
    from nbmodels import live_svg
    svg = live_svg(html)
    for cls in ("lf-graph", "lf-tl", "lf-summary"):  # GraphView/PlacementView, TimelineView, SummaryView
        assert f'class="{cls} lf-zoom"' in svg, cls
    assert 'data-tag="cross_entropy"' in svg and 'data-tag="conv2/weights"' in svg
    assert "Send/Recv pairs" in html and "Placement decisions" in html
    steps = [s for s, _ in results["logged"]]
    assert steps and steps[0] == 0 and all(s % 5 == 0 for s in steps) and steps == sorted(steps)
    assert list((tmp_path / "logs" / "train").glob("events.out.tfevents.*"))
    _assert_progress_bar(nb)


def _processes_under(folder: Path) -> list[int]:
    """Pids of the processes whose command line mentions `folder` (the kernel's cluster tasks name their spec file)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(folder) in cmdline:
                pids.append(int(proc.name))
    return pids


@pytest.mark.timeout(300)
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds leftover cluster tasks through /proc")
def test_distributed_notebook(tmp_path, monkeypatch, mnist_dir):
    # The kernel's LocalCluster keeps its spec and token under TMPDIR, so its task processes can be told
    # from any other: whatever is left of them after the kernel shut down is killed, and fails the test.
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    try:
        nb, results = _execute("05_distributed", tmp_path, monkeypatch, mnist_dir)
    finally:
        leftover = _processes_under(tmp)
        for pid in leftover:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert not leftover, "the notebook's cluster tasks outlived the kernel"
    assert results["test_accuracy"] >= 0.5 and results["sync_accuracy"] >= 0.5, results  # quick mode: ~0.85
    assert len(results["async_steps"]) == 3 and sum(results["async_steps"]) >= 30, results
    # Without a backup every step waits for the straggler; with one the others keep their pace.
    step_s = results["straggler_step_s"]
    assert step_s["no_backup"] >= 0.8 * results["STRAGGLE_S"], results
    assert step_s["backup"] < step_s["no_backup"], results
    html = "\n".join(o.get("data", {}).get("text/html", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.outputs)
    assert "LocalCluster" in html and "killed" in html and "Send/Recv pairs" in html
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "/job:worker/task:2" in text and "was killed with return code -9 (SIGKILL)" in text, text[-3000:]
    assert _has_png(nb)
    _assert_progress_bar(nb)


def test_ptb_lstm_notebook(tmp_path, monkeypatch, mnist_dir):
    if not (Path(mnist_dir).parent / "ptb" / "ptb.train.txt").is_file():
        pytest.skip("PTB files not found under LABFLOW_DATA/ptb")
    nb, results = _execute("06_ptb_lstm", tmp_path, monkeypatch, mnist_dir)
    curve = [p for _, p in results["curve"]]
    assert len(curve) == 200, "LABFLOW_QUICK=1 must shorten the epoch to 200 batches"
    # An untrained model is about as perplexed as the vocabulary is large; 200 batches of SGD halve it many times.
    assert curve[0] > 5000 and results["train_perplexity"][0] < 1500, results["train_perplexity"]
    assert results["valid_perplexity"][0] < 1000 and results["test_perplexity"] < 1000, results
    assert len(results["samples"]) == 3 and all(len(s.split()) >= 15 for s in results["samples"])
    html = "\n".join(o.get("data", {}).get("text/html", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.outputs)
    assert "Send/Recv pairs" in html  # the two-device LSTM's placement
    assert _has_png(nb)
    _assert_progress_bar(nb)


def test_char_rnn_notebook(tmp_path, monkeypatch, mnist_dir):
    if not (Path(mnist_dir).parent / "tinyshakespeare" / "input.txt").is_file():
        pytest.skip("tinyshakespeare not found under LABFLOW_DATA/tinyshakespeare")
    nb, results = _execute("07_char_rnn", tmp_path, monkeypatch, mnist_dir)
    losses = results["losses"]
    assert results["STEPS"] == len(losses) == 150, "LABFLOW_QUICK=1 must shorten the run to 150 steps"
    # From uniform (ln 65 = 4.17) to below the character-frequency baseline, on training and held-out text.
    assert losses[0] > 4.0 and np.mean(losses[-20:]) < results["unigram"] - 0.3, (losses[0], losses[-20:])
    assert results["valid_loss"] < results["unigram"], results["valid_loss"]
    samples = results["samples"]
    assert set(samples) == {"0.5", "1.0"} and all(s.startswith("ROMEO:") and len(s) == 307 for s in samples.values())
    assert _has_png(nb)
    _assert_progress_bar(nb)
