"""`tf.train`: optimizers and their slots, moving averages, learning-rate schedules, the global step, Saver and
checkpoint utilities, input pipelines, sessions and hooks."""

from typing import Any as _Any

from labflow.framework.protos.cluster_pb2 import ClusterDef, JobDef  # noqa: F401
from labflow.framework.protos.example_pb2 import Example, SequenceExample  # noqa: F401
from labflow.framework.protos.feature_pb2 import (  # noqa: F401
    BytesList,
    Feature,
    FeatureList,
    FeatureLists,
    Features,
    FloatList,
    Int64List,
)
from labflow.framework.protos.saver_pb2 import SaverDef  # noqa: F401
from labflow.framework.protos.tensorflow_server_pb2 import ServerDef  # noqa: F401
from labflow.train import (
    multi_apply_ops,  # noqa: F401 - registers _MultiApplyAdam (runtime/fusion.py)
    slot_creator,  # noqa: F401
)
from labflow.train.adadelta import AdadeltaOptimizer  # noqa: F401
from labflow.train.adagrad import AdagradOptimizer  # noqa: F401
from labflow.train.adagrad_da import AdagradDAOptimizer  # noqa: F401
from labflow.train.adam import AdamOptimizer  # noqa: F401
from labflow.train.basic_session_run_hooks import (  # noqa: F401
    CheckpointSaverHook,
    CheckpointSaverListener,
    FeedFnHook,
    FinalOpsHook,
    GlobalStepWaiterHook,
    LoggingTensorHook,
    NanLossDuringTrainingError,
    NanTensorHook,
    SecondOrStepTimer,
    StepCounterHook,
    StopAtStepHook,
    SummarySaverHook,
)
from labflow.train.checkpoint_utils import (  # noqa: F401
    basic_train_loop,
    checkpoints_iterator,
    generate_checkpoint_state_proto,
    get_checkpoint_mtimes,
    init_from_checkpoint,
    list_variables,
    load_checkpoint,
    load_variable,
    match_filenames_once,
    remove_checkpoint,
)
from labflow.train.coordinator import Coordinator, LooperThread  # noqa: F401
from labflow.train.device_setter import (  # noqa: F401
    GreedyLoadBalancingStrategy,
    byte_size_load_fn,
    replica_device_setter,
)
from labflow.train.ftrl import FtrlOptimizer  # noqa: F401
from labflow.train.gradient_descent import GradientDescentOptimizer  # noqa: F401
from labflow.train.input import (  # noqa: F401
    batch,
    batch_join,
    input_producer,
    limit_epochs,
    maybe_batch,
    maybe_batch_join,
    maybe_shuffle_batch,
    maybe_shuffle_batch_join,
    range_input_producer,
    shuffle_batch,
    shuffle_batch_join,
    slice_input_producer,
    string_input_producer,
)
from labflow.train.learning_rate_decay import (  # noqa: F401
    cosine_decay,
    cosine_decay_restarts,
    exponential_decay,
    inverse_time_decay,
    linear_cosine_decay,
    natural_exp_decay,
    noisy_linear_cosine_decay,
    piecewise_constant,
    piecewise_constant_decay,
    polynomial_decay,
)
from labflow.train.meta_graph import export_meta_graph, import_meta_graph  # noqa: F401
from labflow.train.momentum import MomentumOptimizer  # noqa: F401
from labflow.train.monitored_session import (  # noqa: F401
    ChiefSessionCreator,
    MonitoredSession,
    MonitoredTrainingSession,
    Scaffold,
    SessionCreator,
    SingularMonitoredSession,
    WorkerSessionCreator,
)
from labflow.train.moving_averages import ExponentialMovingAverage  # noqa: F401
from labflow.train.optimizer import Optimizer  # noqa: F401
from labflow.train.profiler_hook import ProfilerHook  # noqa: F401
from labflow.train.proximal_adagrad import ProximalAdagradOptimizer  # noqa: F401
from labflow.train.proximal_gradient_descent import ProximalGradientDescentOptimizer  # noqa: F401
from labflow.train.queue_runner import QueueRunner, add_queue_runner, start_queue_runners  # noqa: F401
from labflow.train.rmsprop import RMSPropOptimizer  # noqa: F401
from labflow.train.saver import (  # noqa: F401
    NewCheckpointReader,
    Saver,
    checkpoint_exists,
    get_checkpoint_state,
    latest_checkpoint,
    update_checkpoint_state,
)
from labflow.train.session_manager import SessionManager  # noqa: F401
from labflow.train.session_run_hook import (  # noqa: F401
    SessionRunArgs,
    SessionRunContext,
    SessionRunHook,
    SessionRunValues,
)
from labflow.train.supervisor import Supervisor  # noqa: F401
from labflow.train.sync_replicas_optimizer import SyncReplicasOptimizer  # noqa: F401
from labflow.train.training_util import (  # noqa: F401
    assert_global_step,
    create_global_step,
    get_global_step,
    get_or_create_global_step,
    global_step,
)
from labflow.train.warm_starting import VocabInfo, warm_start  # noqa: F401


def __getattr__(name: str) -> _Any:
    if name == "write_graph":
        from labflow.framework.graph_io import write_graph
        return write_graph
    if name == "ClusterSpec":  # lazily: `import labflow` never loads the distributed package
        from labflow.distributed.cluster import ClusterSpec
        return ClusterSpec
    if name == "Server":
        from labflow.distributed.server import Server
        return Server
    if name in ("SummaryWriter", "summary_iterator"):
        from labflow import summary
        return summary.FileWriter if name == "SummaryWriter" else summary.summary_iterator
    raise AttributeError(f"module 'labflow.train' has no attribute '{name}'")
