"""`tf.train.SyncReplicasOptimizer`: synchronous data-parallel training with a chief and a token queue.

Each replica (worker) pushes its gradients into one ConditionalAccumulator per variable, living on the
variable's (parameter server) device, tagged with the replica's `local_step`. The chief's queue runner
takes `replicas_to_aggregate` gradients per variable (the accumulators drop stale ones: computed from
variables older than the last update), applies their average with the wrapped optimizer, increments the
global step and enqueues one token (the new global step) per replica into the `sync_token_q` FIFOQueue.
Each replica's train op ends by dequeuing a token and storing it in its local_step: the queue is the
barrier that keeps replicas in step. With `total_num_replicas > replicas_to_aggregate`, the extra replicas
are backups: the slowest replicas' gradients arrive stale and are dropped.

Everything is graph ops whose state lives in the devices' ResourceMgrs (queue and accumulators use
shared names), so the same code runs in a local multi-device session (replicas as threads) and in the
distributed runtime (replicas as worker processes, state on a ps task).
"""

from __future__ import annotations

import logging
from typing import Any

from labflow import dtypes as _dt
from labflow.framework.graph import GraphKeys, get_default_graph, name_scope
from labflow.framework.tensor import IndexedSlices, Tensor
from labflow.ops import array_ops, state_ops
from labflow.ops.accumulator_ops import ConditionalAccumulator, SparseConditionalAccumulator
from labflow.ops.control_flow_ops import group, no_op
from labflow.ops.data_flow_ops import FIFOQueue
from labflow.ops.variables import Variable, global_variables, report_uninitialized_variables
from labflow.train.optimizer import Optimizer
from labflow.train.queue_runner import QueueRunner
from labflow.train.session_run_hook import SessionRunHook

__all__ = ["SyncReplicasOptimizer"]

_log = logging.getLogger("labflow")


class SyncReplicasOptimizer(Optimizer):
    """Aggregates gradients of several replicas and applies them in one shot (TF 1.x semantics).

    Usage (every replica builds the same graph; one of them is the chief):

        opt = tf.train.SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.1),
                                             replicas_to_aggregate=2, total_num_replicas=2)
        train_op = opt.minimize(loss, global_step=global_step)
        hook = opt.make_session_run_hook(is_chief)   # runs the init ops and the chief's queue runner
    """

    def __init__(self, opt: Optimizer, replicas_to_aggregate: int, total_num_replicas: int | None = None,
                 variable_averages: Any = None, variables_to_average: Any = None, use_locking: bool = False,
                 name: str = "sync_replicas"):
        """Wraps `opt`.

        Args:
            opt: the optimizer that computes and applies the (averaged) gradients.
            replicas_to_aggregate: gradients aggregated per variable update.
            total_num_replicas: the number of replicas (default replicas_to_aggregate). More: backup
                replicas; fewer: replicas compute several batches per update.
            variable_averages: an optional ExponentialMovingAverage applied after each update.
            variables_to_average: the variables it averages.
            use_locking: use locks for the update ops.
            name: the name scope of the aggregation ops.
        """
        if total_num_replicas is None:
            total_num_replicas = replicas_to_aggregate
        super().__init__(use_locking, name)
        _log.info("SyncReplicasV2: replicas_to_aggregate=%s; total_num_replicas=%s", replicas_to_aggregate,
                  total_num_replicas)
        self._opt = opt
        self._replicas_to_aggregate = replicas_to_aggregate
        self._gradients_applied = False
        self._variable_averages = variable_averages
        self._variables_to_average = variables_to_average
        self._total_num_replicas = total_num_replicas
        self._tokens_per_step = max(total_num_replicas, replicas_to_aggregate)
        self._global_step: Any = None
        self._sync_token_queue: FIFOQueue | None = None
        self._chief_queue_runner: QueueRunner | None = None
        self._accumulator_list: list = []  # (accumulator, device) pairs
        self._local_step: Variable | None = None
        self.local_step_init_op: Any = None
        self.ready_for_local_init_op: Any = None
        self.chief_init_op: Any = None

    def compute_gradients(self, *args: Any, **kwargs: Any) -> list:
        """The wrapped optimizer's `compute_gradients` (clip per replica before aggregation if needed)."""
        return self._opt.compute_gradients(*args, **kwargs)

    def apply_gradients(self, grads_and_vars: Any, global_step: Any = None, name: str | None = None) -> Any:
        """Builds the aggregation: accumulators, the chief's update and token ops, the replicas' train op.

        Returns:
            train_op: the op each replica runs per step: push its gradients, then wait for a token.

        Raises:
            ValueError: no (gradient, variable) pairs, or no global_step (staleness needs it).
        """
        grads_and_vars = list(grads_and_vars)
        if not grads_and_vars:
            raise ValueError("Must supply at least one variable")
        if global_step is None:
            raise ValueError("Global step is required to check staleness")
        self._global_step = global_step
        graph = grads_and_vars[0][1].graph if hasattr(grads_and_vars[0][1], "graph") else get_default_graph()
        with graph.as_default():
            return self._build(graph, grads_and_vars, global_step)

    def _build(self, graph: Any, grads_and_vars: list, global_step: Any) -> Any:
        train_ops = []
        aggregated_grad = []
        var_list = []
        gs_dtype = global_step.dtype.base_dtype
        gs_device = global_step.device

        # The anchor is placed on this replica's device; the local step follows it (not onto the ps).
        local_anchor = no_op()
        with graph.colocate_with(local_anchor):
            self._local_step = Variable(0, trainable=False, collections=[GraphKeys.LOCAL_VARIABLES], dtype=gs_dtype,
                                        name="sync_rep_local_step")
        self.local_step_init_op = state_ops.assign(self._local_step, global_step)
        chief_init_ops = [self.local_step_init_op]
        self.ready_for_local_init_op = report_uninitialized_variables(global_variables())

        with name_scope(None, self._name):
            for grad, var in grads_and_vars:
                var_list.append(var)
                with graph.device(var.device):
                    if grad is None:
                        aggregated_grad.append(None)  # passed through to the wrapped optimizer
                        continue
                    if isinstance(grad, Tensor):
                        grad_accum = ConditionalAccumulator(grad.dtype, shape=var.get_shape(),
                                                            shared_name=var.name + "/grad_accum")
                        train_ops.append(grad_accum.apply_grad(grad, local_step=self._local_step))
                        aggregated_grad.append(grad_accum.take_grad(self._replicas_to_aggregate))
                    else:
                        if not isinstance(grad, IndexedSlices):
                            raise ValueError("Unknown grad type!")
                        grad_accum = SparseConditionalAccumulator(grad.dtype, shape=(),
                                                                  shared_name=var.name + "/grad_accum")
                        train_ops.append(grad_accum.apply_indexed_slices_grad(grad, local_step=self._local_step))
                        aggregated_grad.append(grad_accum.take_indexed_slices_grad(self._replicas_to_aggregate))
                    self._accumulator_list.append((grad_accum, var.device))

            aggregated_grads_and_vars = list(zip(aggregated_grad, var_list))

            # The update, the token queue and the sync op live with the global step.
            with graph.device(gs_device), graph.name_scope(""):
                update_op = self._opt.apply_gradients(aggregated_grads_and_vars, global_step)

            with graph.device(gs_device), graph.name_scope(""):
                sync_token_queue = FIFOQueue(-1, gs_dtype, shapes=(), name="sync_token_q",
                                             shared_name="sync_token_q")
                self._sync_token_queue = sync_token_queue
                # The chief's queue runner gets a dummy queue: closing the real one on a ps would not be undone.
                dummy_queue = FIFOQueue(1, _dt.int32, shapes=(), name="dummy_queue", shared_name="dummy_queue")

            with graph.device(gs_device), graph.name_scope(""):
                # Replicas wait for a token, i.e. for the update their gradients went into.
                with graph.control_dependencies(train_ops):
                    token = sync_token_queue.dequeue()
                train_op = state_ops.assign(self._local_step, token)

                with graph.control_dependencies([update_op]):
                    tokens = array_ops.fill([self._tokens_per_step], global_step)
                    sync_op = sync_token_queue.enqueue_many((tokens,))

                if self._variable_averages is not None:
                    with graph.control_dependencies([sync_op]), graph.name_scope(""):
                        sync_op = self._variable_averages.apply(self._variables_to_average)

                self._chief_queue_runner = QueueRunner(dummy_queue, [sync_op])
            for accum, dev in self._accumulator_list:
                with graph.device(dev):
                    chief_init_ops.append(accum.set_global_step(global_step, name="SetGlobalStep"))
            self.chief_init_op = group(*chief_init_ops)
            self._gradients_applied = True
            return train_op

    def get_chief_queue_runner(self) -> QueueRunner:
        """The QueueRunner the chief runs: aggregate, apply, increment the global step, enqueue tokens.

        Raises:
            ValueError: apply_gradients() was not called yet.
        """
        if self._gradients_applied is False:
            raise ValueError("Should be called after apply_gradients().")
        return self._chief_queue_runner

    def get_slot(self, *args: Any, **kwargs: Any) -> Any:
        """The wrapped optimizer's slot."""
        return self._opt.get_slot(*args, **kwargs)

    def variables(self) -> list:
        """The wrapped optimizer's variables (not the local step)."""
        return self._opt.variables()

    def get_slot_names(self, *args: Any, **kwargs: Any) -> list:
        """The wrapped optimizer's slot names."""
        return self._opt.get_slot_names(*args, **kwargs)

    def get_init_tokens_op(self, num_tokens: int = -1) -> Any:
        """The op the chief runs once to put `num_tokens` tokens (default replicas_to_aggregate) in the queue.

        Raises:
            ValueError: called before apply_gradients(), or fewer tokens than
                replicas_to_aggregate - total_num_replicas (the first step could never finish).
        """
        if self._gradients_applied is False:
            raise ValueError("get_init_tokens_op() should be called after apply_gradients().")
        tokens_needed = self._replicas_to_aggregate - self._total_num_replicas
        if num_tokens == -1:
            num_tokens = self._replicas_to_aggregate
        elif num_tokens < tokens_needed:
            raise ValueError(f"Too few tokens to finish the first step: {num_tokens} (given) vs {tokens_needed} "
                             "(needed)")
        graph = self._sync_token_queue.queue_ref.graph
        with graph.as_default():
            if num_tokens > 0:
                with graph.device(self._global_step.device), graph.name_scope(""):
                    tokens = array_ops.fill([num_tokens], self._global_step)
                    return self._sync_token_queue.enqueue_many((tokens,))
            return no_op(name="no_init_tokens")

    def make_session_run_hook(self, is_chief: bool, num_tokens: int = -1) -> SessionRunHook:
        """A SessionRunHook that runs the (chief or replica) init ops and starts the chief's queue runner."""
        return _SyncReplicasOptimizerHook(self, is_chief, num_tokens)


class _SyncReplicasOptimizerHook(SessionRunHook):
    """Runs SyncReplicasOptimizer's init ops after the session is created; the chief starts the sync thread."""

    def __init__(self, sync_optimizer: SyncReplicasOptimizer, is_chief: bool, num_tokens: int):
        self._sync_optimizer = sync_optimizer
        self._is_chief = is_chief
        self._num_tokens = num_tokens

    def begin(self) -> None:
        opt = self._sync_optimizer
        if opt._gradients_applied is False:
            raise ValueError("SyncReplicasOptimizer.apply_gradient should be called before using the hook.")
        self._ready_for_local_init_op = opt.ready_for_local_init_op
        if self._is_chief:
            self._local_init_op = opt.chief_init_op
            self._q_runner = opt.get_chief_queue_runner()
            self._init_tokens_op = opt.get_init_tokens_op(self._num_tokens)
        else:
            self._local_init_op = opt.local_step_init_op
            self._q_runner = None
            self._init_tokens_op = None

    def after_create_session(self, session: Any, coord: Any) -> None:
        """Checks the model is initialized, runs the local init (and, for the chief, the init tokens)."""
        not_ready = session.run(self._ready_for_local_init_op)
        if len(not_ready):
            names = ", ".join(n.decode() if isinstance(n, bytes) else str(n) for n in not_ready)
            raise RuntimeError(f"Init operations did not make model ready for SyncReplicasOptimizer local_init. "
                               f"Init op: {self._local_init_op.name}, error: Variables not initialized: {names}")
        session.run(self._local_init_op)
        if self._init_tokens_op is not None:
            session.run(self._init_tokens_op)
        if self._q_runner is not None:
            self._q_runner.create_threads(session, coord=coord, daemon=True, start=True)
