"""ProfileOptionBuilder: TF 1.x's builder of tf.profiler option dicts, with its three presets."""
from __future__ import annotations

import copy


class ProfileOptionBuilder:
    """Builds the option dict that `tf.profiler.profile` takes.

    Example:
        opts = ProfileOptionBuilder(ProfileOptionBuilder.float_operation()).with_max_depth(2).build()
    """

    def __init__(self, options: dict | None = None):
        """Starts from a copy of `options`, or from TF's defaults when None."""
        if options is not None:
            self._options = copy.deepcopy(options)
        else:
            self._options = {"max_depth": 100, "min_bytes": 0, "min_micros": 0, "min_params": 0,
                             "min_float_ops": 0, "min_occurrence": 0, "order_by": "name",
                             "account_type_regexes": [".*"], "start_name_regexes": [".*"],
                             "trim_name_regexes": [], "show_name_regexes": [".*"], "hide_name_regexes": [],
                             "account_displayed_op_only": False, "select": ["micros"], "step": -1,
                             "output": "stdout"}

    @staticmethod
    def trainable_variables_parameter() -> dict:
        """Options that count the parameters of each trainable variable, by name scope."""
        return {"max_depth": 10000, "min_bytes": 0, "min_micros": 0, "min_params": 0, "min_float_ops": 0,
                "min_occurrence": 0, "order_by": "name", "account_type_regexes": ["_trainable_variables"],
                "start_name_regexes": [".*"], "trim_name_regexes": [], "show_name_regexes": [".*"],
                "hide_name_regexes": [], "account_displayed_op_only": True, "select": ["params"], "step": -1,
                "output": "stdout"}

    @staticmethod
    def float_operation() -> dict:
        """Options that count the float operations of the ops whose FLOPs are registered (as TF's)."""
        return {"max_depth": 10000, "min_bytes": 0, "min_micros": 0, "min_params": 0, "min_float_ops": 1,
                "min_occurrence": 0, "order_by": "float_ops", "account_type_regexes": [".*"],
                "start_name_regexes": [".*"], "trim_name_regexes": [], "show_name_regexes": [".*"],
                "hide_name_regexes": [], "account_displayed_op_only": True, "select": ["float_ops"],
                "step": -1, "output": "stdout"}

    @staticmethod
    def time_and_memory(min_micros: int = 1, min_bytes: int = 1, min_accelerator_micros: int = 0,
                        min_cpu_micros: int = 0, min_peak_bytes: int = 0, min_residual_bytes: int = 0,
                        min_output_bytes: int = 0) -> dict:
        """Options that show the execution time and memory of ops (needs `run_meta` of a traced run)."""
        return {"max_depth": 10000, "min_bytes": min_bytes, "min_peak_bytes": min_peak_bytes,
                "min_residual_bytes": min_residual_bytes, "min_output_bytes": min_output_bytes,
                "min_micros": min_micros, "min_accelerator_micros": min_accelerator_micros,
                "min_cpu_micros": min_cpu_micros, "min_params": 0, "min_float_ops": 0, "min_occurrence": 0,
                "order_by": "micros", "account_type_regexes": [".*"], "start_name_regexes": [".*"],
                "trim_name_regexes": [], "show_name_regexes": [".*"], "hide_name_regexes": [],
                "account_displayed_op_only": True, "select": ["micros", "bytes"], "step": -1, "output": "stdout"}

    def build(self) -> dict:
        """Returns a copy of the options built so far."""
        return copy.deepcopy(self._options)

    def with_max_depth(self, max_depth: int) -> ProfileOptionBuilder:
        """Shows nodes at most `max_depth` levels below the root."""
        self._options["max_depth"] = max_depth
        return self

    def with_min_memory(self, min_bytes: int = 0, min_peak_bytes: int = 0, min_residual_bytes: int = 0,
                        min_output_bytes: int = 0) -> ProfileOptionBuilder:
        """Shows only nodes that use at least this much memory."""
        self._options.update(min_bytes=min_bytes, min_peak_bytes=min_peak_bytes,
                             min_residual_bytes=min_residual_bytes, min_output_bytes=min_output_bytes)
        return self

    def with_min_execution_time(self, min_micros: int = 0, min_accelerator_micros: int = 0,
                                min_cpu_micros: int = 0) -> ProfileOptionBuilder:
        """Shows only nodes that ran at least this long."""
        self._options.update(min_micros=min_micros, min_accelerator_micros=min_accelerator_micros,
                             min_cpu_micros=min_cpu_micros)
        return self

    def with_min_parameters(self, min_params: int) -> ProfileOptionBuilder:
        """Shows only nodes that hold at least `min_params` parameters themselves."""
        self._options["min_params"] = min_params
        return self

    def with_min_occurrence(self, min_occurrence: int) -> ProfileOptionBuilder:
        """Shows only nodes that ran at least `min_occurrence` times."""
        self._options["min_occurrence"] = min_occurrence
        return self

    def with_min_float_operations(self, min_float_ops: int) -> ProfileOptionBuilder:
        """Shows only nodes that do at least `min_float_ops` float operations themselves."""
        self._options["min_float_ops"] = min_float_ops
        return self

    def with_accounted_types(self, account_type_regexes: list[str]) -> ProfileOptionBuilder:
        """Accounts only nodes whose op type (or tag such as `_trainable_variables`) fully matches a regex."""
        self._options["account_type_regexes"] = copy.copy(account_type_regexes)
        return self

    def with_node_names(self, start_name_regexes: list[str] | None = None,
                        show_name_regexes: list[str] | None = None, hide_name_regexes: list[str] | None = None,
                        trim_name_regexes: list[str] | None = None) -> ProfileOptionBuilder:
        """Filters shown nodes by full-match regexes on their names (None keeps the current setting)."""
        for key, value in (("start_name_regexes", start_name_regexes), ("show_name_regexes", show_name_regexes),
                           ("hide_name_regexes", hide_name_regexes), ("trim_name_regexes", trim_name_regexes)):
            if value is not None:
                self._options[key] = copy.copy(value)
        return self

    def account_displayed_op_only(self, is_true: bool) -> ProfileOptionBuilder:
        """When true, totals add up only the nodes that are displayed."""
        self._options["account_displayed_op_only"] = is_true
        return self

    def with_empty_output(self) -> ProfileOptionBuilder:
        """Prints nothing; the result is only returned."""
        self._options["output"] = "none"
        return self

    def with_stdout_output(self) -> ProfileOptionBuilder:
        """Prints the report to stdout."""
        self._options["output"] = "stdout"
        return self

    def with_file_output(self, outfile: str) -> ProfileOptionBuilder:
        """Writes the report to `outfile`."""
        self._options["output"] = f"file:outfile={outfile}"
        return self

    def with_timeline_output(self, timeline_file: str) -> ProfileOptionBuilder:
        """Asks for a chrome-trace timeline (labflow's profile() rejects it: use labflow's timeline module)."""
        self._options["output"] = f"timeline:outfile={timeline_file}"
        return self

    def with_pprof_output(self, pprof_file: str) -> ProfileOptionBuilder:
        """Asks for pprof output (labflow's profile() rejects it)."""
        self._options["output"] = f"pprof:outfile={pprof_file}"
        return self

    def order_by(self, attribute: str) -> ProfileOptionBuilder:
        """Orders siblings by `attribute`: name, depth, bytes, micros, params, float_ops, occurrence, ..."""
        self._options["order_by"] = attribute
        return self

    def select(self, attributes: list[str]) -> ProfileOptionBuilder:
        """Selects the columns to show, e.g. ['params', 'float_ops', 'micros', 'bytes']."""
        self._options["select"] = copy.copy(attributes)
        return self

    def with_step(self, step: int) -> ProfileOptionBuilder:
        """Which profiled step to show (-1: the average of all)."""
        self._options["step"] = step
        return self
