"""`tf.train.ProfilerHook`: every N steps or seconds, one traced step saved as a Chrome trace timeline.

The chosen step runs with RunOptions(trace_level=FULL_TRACE); its RunMetadata's step stats become
"timeline-<global step>.json" in `output_dir` (open it in chrome://tracing or Perfetto), and the run metadata
is added to the event file there, so TensorBoard's graph view shows the step's compute time and memory.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from labflow.train.basic_session_run_hooks import SecondOrStepTimer, _global_step_tensor, _summary_writer_for
from labflow.train.session_run_hook import SessionRunArgs, SessionRunHook

__all__ = ["ProfilerHook"]

_log = logging.getLogger("labflow")


class ProfilerHook(SessionRunHook):
    """Captures a FULL_TRACE of a step every `save_steps` steps or `save_secs` seconds (TF 1.x
    `tf.train.ProfilerHook`). The first step is not traced (it includes one-time setup), as in TF."""

    def __init__(self, save_steps: int | None = None, save_secs: float | None = None, output_dir: str = "",
                 show_dataflow: bool = True, show_memory: bool = False):
        """Args:
            save_steps: trace every this many global steps (exactly one of save_steps and save_secs).
            save_secs: trace every this many seconds.
            output_dir: where "timeline-<step>.json" files (and the run metadata events) are written.
            show_dataflow: draw arrows for the tensors flowing between ops (Send/Recv) in the timeline.
            show_memory: add the allocators' memory use as counters.

        Raises:
            ValueError: neither or both of save_steps and save_secs.
        """
        self._output_file = os.path.join(output_dir, "timeline-{}.json")
        self._output_dir = output_dir
        self._show_dataflow = show_dataflow
        self._show_memory = show_memory
        self._timer = SecondOrStepTimer(every_secs=save_secs, every_steps=save_steps)
        self._file_writer: Any = None

    def begin(self) -> None:
        self._next_step: int | None = None
        self._global_step_tensor = _global_step_tensor("ProfilerHook")
        if self._file_writer is None:
            self._file_writer = _summary_writer_for(self._output_dir)

    def before_run(self, run_context: Any) -> SessionRunArgs:
        from labflow.framework.protos.config_pb2 import RunOptions
        self._request_summary = self._next_step is not None and self._timer.should_trigger_for_step(self._next_step)
        opts = RunOptions(trace_level=RunOptions.FULL_TRACE) if self._request_summary else None
        return SessionRunArgs({"global_step": self._global_step_tensor}, options=opts)

    def after_run(self, run_context: Any, run_values: Any) -> None:
        stale = int(run_values.results["global_step"])
        if self._next_step is None:
            # TF assumes the fetched global step is the value before this run's increment; whether a read in
            # the same step sees it before or after is up to the plan's order, so measure it once.
            self._lag = max(0, min(1, int(run_context.session.run(self._global_step_tensor)) - stale))
            # the timer starts counting now, so the first trace is N steps (or seconds) in
            self._timer.update_last_triggered_step(stale + self._lag - 1)
        step = stale + self._lag
        if self._request_summary:
            step = int(run_context.session.run(self._global_step_tensor))
            self._timer.update_last_triggered_step(step)
            self._save(step, self._output_file.format(step), run_values.run_metadata.step_stats)
            self._file_writer.add_run_metadata(run_values.run_metadata, f"step_{step}")
        self._next_step = step + 1

    def _save(self, step: int, path: str, step_stats: Any) -> None:
        from labflow.client.timeline import Timeline
        _log.info("Saving timeline for %d into '%s'.", step, path)
        trace = Timeline(step_stats).generate_chrome_trace_format(show_dataflow=self._show_dataflow,
                                                                 show_memory=self._show_memory)
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(trace)
