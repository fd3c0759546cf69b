"""Sessions: `Session.run` drives prune -> place -> partition -> compile -> run, cached per signature."""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import threading
from typing import Any

import numpy as np

from labflow import errors
from labflow.backend import threads
from labflow.framework.graph import get_default_graph
from labflow.framework.shapes import TensorShape
from labflow.framework.sparse_tensor import SparseTensor
from labflow.framework.tensor import Tensor
from labflow.runtime import executor, partition, pipeline, placer
from labflow.runtime.config import ConfigProto
from labflow.runtime.devices import DeviceAttributes, make_local_devices
from labflow.runtime.fetch import FetchMapper
from labflow.runtime.rendezvous import LocalRendezvous

_step_ids = itertools.count(1)


class _CompiledStep:
    """Everything one (graph version, feeds, fetches, targets) signature needs to run again."""

    def __init__(self, partitions: list, fetch_from_feed: list[tuple[int, int]], nfetch: int,
                 placements: list, feed_tensors: list[Tensor]):
        self.partitions = partitions
        self.fetch_from_feed = fetch_from_feed
        self.nfetch = nfetch
        self.placements = placements
        self.feed_tensors = feed_tensors
        self.single = partitions[0] if len(partitions) == 1 else None


class BaseSession:
    """The shared implementation of `Session` and `InteractiveSession`."""

    def __init__(self, target: str = "", graph: Any = None, config: ConfigProto | None = None):
        self._graph = graph if graph is not None else get_default_graph()
        self._config = config or ConfigProto()
        self._target = target
        self._remote = None
        if target:
            # A distributed session: the master runs the pipeline over the cluster's devices.
            from labflow.distributed.client import RemoteSession
            self._remote = RemoteSession(target, self._graph, self._config)
            self._devices = []
        else:
            self._devices = make_local_devices(self._config.device_count, gpu_options=self._config.gpu_options)
            # TF's global intra-op pool: shared by the process's sessions, the last nonzero setting wins.
            threads.configure(int(self._config.intra_op_parallelism_threads or 0))
        self._cache: dict = {}
        self._closed = False
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._last_placements: list = []
        self._last_transfer = {"bytes": 0, "tensors": 0}
        self._tracer: _Tracer | None = None
        self._stateful_placements: dict = {}
        self._default_ctx: list = []
        # Single-partition steps share one Step whose rendezvous close() aborts: a kernel blocked in
        # such a step (a queue dequeue) wakes with CancelledError instead of hanging the close.
        self._session_rdv = LocalRendezvous()
        self._session_step = executor.Step(self._session_rdv, 0, self)
        self._live_steps: set = set()

    # -- properties -----------------------------------------------------------------------------------
    @property
    def graph(self):
        return self._graph

    @property
    def graph_def(self):
        return self._graph.as_graph_def()

    @property
    def sess_str(self) -> str:
        return self._target

    def list_devices(self) -> list[DeviceAttributes]:
        if self._remote is not None:
            return self._remote.list_devices()
        return [DeviceAttributes(d.name, d.device_type, d.memory_limit, i + 1, d.description)
                for i, d in enumerate(self._devices)]

    def trace(self) -> _Tracer:
        """Context manager: every `run` inside is FULL_TRACE'd; `.timeline()` gives the last one.

            with sess.trace() as tr:
                sess.run(train_op, feed)
            tr.timeline().generate_chrome_trace_format()
        """
        return _Tracer(self)

    def transfer_stats(self) -> dict:
        """Bytes and tensors that crossed devices (Send/Recv) in the most recent multi-device step."""
        return dict(self._last_transfer)

    def placements(self) -> list[placer.Placement]:
        """The placement decisions of the most recently compiled step, with reasons."""
        if self._remote is not None:
            return list(self._remote.last_placements)
        return list(self._last_placements)

    # -- run ------------------------------------------------------------------------------------------
    def run(self, fetches: Any, feed_dict: dict | None = None, options: Any = None,
            run_metadata: Any = None) -> Any:
        """Runs the ops and evaluates the tensors in `fetches` (any nesting), feeding `feed_dict`.

        Raises:
            RuntimeError: the session is closed.
            TypeError / ValueError: a malformed fetch or feed (names the element).
            labflow.errors.OpError: the step failed; the error names the op and where it was defined.
        """
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        graph = self._graph
        if isinstance(fetches, Tensor) and fetches.graph is graph:
            elements, builder = [fetches], None
        else:
            mapper = FetchMapper(fetches, graph)
            elements, builder = mapper.elements, mapper
        feed_tensors, feed_values = self._feeds(feed_dict) if feed_dict else ((), [])
        if self._tracer is not None and options is None:
            options, run_metadata = self._tracer._next()
        if self._remote is not None:
            results = self._remote.run(elements, feed_tensors, feed_values, options, run_metadata)
            return results[0] if builder is None else builder.build(results)
        traced = options is not None and options.trace_level > 0
        key = (graph._version, tuple(elements), feed_tensors)
        if traced:
            key += ("traced",)
        step = self._cache.get(key)
        if step is None:
            step = self._compile(elements, feed_tensors, traced)
            self._cache[key] = step
        if traced:
            results = self._execute_traced(step, feed_values, run_metadata)
        else:
            results = self._execute(step, feed_values)
        if run_metadata is not None and options is not None:
            self._fill_run_metadata(step, options, run_metadata)
        return results[0] if builder is None else builder.build(results)

    def _execute_traced(self, step: _CompiledStep, feed_values: list, run_metadata: Any) -> list:
        from labflow.runtime import tracing
        out: list = [None] * step.nfetch
        traces = tracing.Traces(len(step.partitions))
        origin = tracing.clock_origin()
        if len(step.partitions) == 1:
            st = executor.Step(None, next(_step_ids), self, traces)
            cp = step.partitions[0]
            try:
                cp.fn(feed_values, out, st)
            except Exception as e:  # noqa: BLE001 - translated into an OpError naming the node
                raise executor.translate_error(e, cp) from None
        elif step.partitions:
            self._run_partitions(step, feed_values, out, traces)
        for i, j in step.fetch_from_feed:
            out[i] = feed_values[j]
        if run_metadata is not None:
            stats = tracing.build_step_stats(step.partitions, traces, *origin)
            run_metadata.step_stats.CopyFrom(stats)
        return out

    def _fill_run_metadata(self, step: _CompiledStep, options: Any, run_metadata: Any) -> None:
        if getattr(options, "output_partition_graphs", False):
            del run_metadata.partition_graphs[:]
            for cp in step.partitions:
                run_metadata.partition_graphs.add().CopyFrom(partition.partition_graph_def(cp))

    def _feeds(self, feed_dict: dict) -> tuple[tuple, list]:
        graph = self._graph
        tensors, values = [], []
        items = []
        for k, v in feed_dict.items():
            if isinstance(k, SparseTensor):  # a sparse placeholder takes an (indices, values, dense_shape) triple
                try:
                    parts = list(v)
                except TypeError:
                    parts = []
                if len(parts) != 3:
                    raise TypeError(f"A SparseTensor is fed a SparseTensorValue or an (indices, values, "
                                    f"dense_shape) triple, got {_short(v)}")
                items.extend(zip(k._components(), parts))
            else:
                items.append((k, v))
        for k, v in items:
            if isinstance(k, Tensor) and k.graph is graph:
                t = k
            else:
                if hasattr(k, "_as_graph_element"):
                    k = k._as_graph_element()
                try:
                    t = graph.as_graph_element(k, allow_tensor=True, allow_operation=False)
                except (KeyError, ValueError, TypeError) as e:
                    raise TypeError(f"Cannot interpret feed_dict key as Tensor: {e}") from None
            dt = t.dtype.base_dtype
            if isinstance(v, Tensor):
                raise TypeError(f"The value of a feed cannot be a labflow Tensor (feeding {t.name}). "
                                "Acceptable feed values include Python scalars, strings, lists, and NumPy "
                                "arrays; evaluate the tensor first with sess.run.")
            try:
                arr = np.asarray(v, dtype=dt.as_numpy_dtype)
            except (TypeError, ValueError) as e:
                raise TypeError(f"Cannot feed value {_short(v)} to tensor '{t.name}' of dtype {dt.name}: "
                                f"{e}") from None
            dims = t._shape_dims
            if dims is not None and (len(dims) != arr.ndim or any(
                    d is not None and d != s for d, s in zip(dims, arr.shape))):
                raise ValueError(f"Cannot feed value of shape {arr.shape} for Tensor '{t.name}', which has "
                                 f"shape '{TensorShape(dims)}'")
            tensors.append(t)
            values.append(arr)
        return tuple(tensors), values

    def _compile(self, elements: list, feed_tensors: tuple, traced: bool = False) -> _CompiledStep:
        plan = pipeline.plan_step(elements, feed_tensors, self._devices, self._config, self._stateful_placements)
        self._last_placements = plan.decisions
        compiled = [executor.compile_partition(p, traced, i) for i, p in enumerate(plan.partitions)]
        return _CompiledStep(compiled, plan.fetch_from_feed, plan.nfetch, plan.decisions, list(feed_tensors))

    def _execute(self, step: _CompiledStep, feed_values: list) -> list:
        out: list = [None] * step.nfetch
        single = step.single
        if single is not None:
            try:
                single.fn(feed_values, out, self._session_step)
            except Exception as e:  # noqa: BLE001 - translated into an OpError naming the node
                raise executor.translate_error(e, single) from None
        elif step.partitions:
            self._run_partitions(step, feed_values, out)
        for i, j in step.fetch_from_feed:
            out[i] = feed_values[j]
        return out

    def _run_partitions(self, step: _CompiledStep, feed_values: list, out: list,
                        traces: list | None = None) -> None:
        rdv = LocalRendezvous()
        st = executor.Step(rdv, next(_step_ids), self, traces)
        self._live_steps.add(rdv)
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    # Threads are made only when needed, but the cap must stay high: partitions blocked in a
                    # queue dequeue or a Recv hold their thread, and concurrent steps (sync replicas) must
                    # never wait behind them for one.
                    self._pool = concurrent.futures.ThreadPoolExecutor(
                        max_workers=256, thread_name_prefix="labflow-exec")
        err = executor.run_partitions(step.partitions, feed_values, out, st, self._pool)
        self._live_steps.discard(rdv)
        self._last_transfer = {"bytes": rdv.bytes_sent, "tensors": rdv.tensors_sent}
        if err is not None:
            raise err

    @staticmethod
    def reset(target: str, containers: list[str] | None = None, config: Any = None) -> None:
        """Clears resource containers (variables, queues; all when `containers` is None) on every task
        of the cluster behind `target` (TF 1.x `tf.Session.reset`)."""
        from labflow.distributed.client import reset
        reset(target, containers, config)

    # -- lifecycle ------------------------------------------------------------------------------------
    def close(self) -> None:
        """Frees the session's resources (variables, compiled plans, threads)."""
        if self._closed:
            return
        self._closed = True
        if self._remote is not None:
            self._remote.close()
        closed = errors.CancelledError(None, None, "Session has been closed.")
        for rdv in [self._session_rdv, *list(self._live_steps)]:
            rdv.abort(closed)
        self._cache.clear()
        for d in self._devices:
            d.resources.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    def as_default(self):
        return _default_session(self)

    def __enter__(self):
        self._default_ctx.append((self.as_default(), self._graph.as_default()))
        s, g = self._default_ctx[-1]
        g.__enter__()
        s.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        s, g = self._default_ctx.pop()
        s.__exit__(exc_type, exc, tb)
        g.__exit__(exc_type, exc, tb)
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def make_callable(self, fetches: Any, feed_list: list | None = None, accept_options: bool = False):
        """A function `f(*feed_values)` that runs `fetches` (TF 1.x `Session.make_callable`)."""
        feed_list = list(feed_list or [])

        def call(*args: Any, **kwargs: Any) -> Any:
            if len(args) != len(feed_list):
                raise TypeError(f"Callable expects {len(feed_list)} feed values, got {len(args)}")
            return self.run(fetches, dict(zip(feed_list, args)) if feed_list else None, **kwargs)
        return call

    def _repr_html_(self) -> str:
        from labflow.notebook.repr import session_html
        return session_html(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (f"<labflow.Session {state}: graph with {len(self._graph._ops)} ops, devices "
                f"{[d.name.rsplit('/', 1)[-1] for d in self._devices]}>")


class _Tracer:
    """Collects a RunMetadata per traced run (see `BaseSession.trace`)."""

    def __init__(self, session: BaseSession):
        self._session = session
        self.run_metadata: list = []

    def _next(self):
        from labflow.framework.protos.config_pb2 import RunMetadata, RunOptions
        md = RunMetadata()
        self.run_metadata.append(md)
        return RunOptions(trace_level=RunOptions.FULL_TRACE), md

    def timeline(self, index: int = -1):
        from labflow.client.timeline import Timeline
        if not self.run_metadata:
            raise ValueError("No run was traced: call sess.run inside `with sess.trace():`.")
        return Timeline(self.run_metadata[index].step_stats)

    def __enter__(self) -> _Tracer:
        self._prev = self._session._tracer
        self._session._tracer = self
        return self

    def __exit__(self, *exc) -> None:
        self._session._tracer = self._prev


class Session(BaseSession):
    """TF 1.x `tf.Session(target='', graph=None, config=None)`; use it as a context manager."""


class InteractiveSession(BaseSession):
    """A session that installs itself as the default on construction (for notebooks and shells)."""

    def __init__(self, target: str = "", graph: Any = None, config: ConfigProto | None = None):
        super().__init__(target, graph, config)
        self._ctx = self.as_default()
        self._ctx.__enter__()

    def close(self) -> None:
        super().close()
        ctx = getattr(self, "_ctx", None)
        if ctx is not None:
            self._ctx = None
            with contextlib.suppress(Exception):
                ctx.__exit__(None, None, None)


class _SessionStack(threading.local):
    def __init__(self):
        self.stack: list[BaseSession] = []


_sessions = _SessionStack()


@contextlib.contextmanager
def _default_session(sess: BaseSession):
    _sessions.stack.append(sess)
    try:
        yield sess
    finally:
        if sess in _sessions.stack:
            _sessions.stack.remove(sess)


def get_default_session() -> BaseSession | None:
    """The innermost session entered with `with sess:` / `as_default()`, or an InteractiveSession."""
    st = _sessions.stack
    return st[-1] if st else None


def _clear_default_session_for(graph: Any) -> None:
    pass


def _session_for(graph: Any, session: BaseSession | None, what: str) -> BaseSession:
    if session is None:
        session = get_default_session()
        if session is None:
            raise ValueError(f"Cannot {what} using `eval()`/`run()`: No default session is registered. Use "
                             "`with sess.as_default():` (or `with tf.Session() as sess:`) or pass an "
                             "explicit session, e.g. `t.eval(session=sess)`.")
    if session.graph is not graph:
        raise ValueError(f"Cannot {what}: the given session's graph is different from the graph of the "
                         "tensor/op. Create the session with `tf.Session(graph=...)` for that graph.")
    return session


def _eval_using_default_session(tensor: Any, feed_dict: dict | None, graph: Any,
                                session: BaseSession | None = None) -> Any:
    return _session_for(graph, session, "evaluate tensor").run(tensor, feed_dict)


def _run_using_default_session(op: Any, feed_dict: dict | None, graph: Any,
                               session: BaseSession | None = None) -> None:
    _session_for(graph, session, "execute operation").run(op, feed_dict)


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) < 60 else r[:57] + "..."
