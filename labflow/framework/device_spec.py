"""Device names: parse, merge and print TF's `/job:worker/replica:0/task:1/device:GPU:0`."""

from __future__ import annotations

from typing import Any

_FIELDS = ("job", "replica", "task", "device_type", "device_index")
# Device types that may appear bare ("/cpu:0", "/gpu:1"), as in TF.
_SHORT_TYPES = frozenset({"CPU", "GPU", "TPU", "CUSTOM", "EPHEMERAL"})
_PARSE_CACHE: dict[str, tuple] = {}


def _int_field(name: str, v: Any) -> int | None:
    if v is None:
        return None
    try:
        out = int(v)
    except (TypeError, ValueError):
        raise ValueError(f"Device {name} must be an integer, got {v!r}") from None
    if out < 0:
        raise ValueError(f"Device {name} must be >= 0, got {out}")
    return out


def _parse(spec: str) -> tuple:
    """(job, replica, task, device_type, device_index) of a full or partial name (TF's parser)."""
    hit = _PARSE_CACHE.get(spec)
    if hit is not None:
        return hit
    job = replica = task = dtype = index = None
    for part in spec.split("/"):
        y = part.split(":")
        n = len(y)
        if n == 2 and y[0] == "job":
            job = y[1]
        elif n == 2 and y[0] == "replica":
            replica = _int_field("replica", y[1])
        elif n == 2 and y[0] == "task":
            task = _int_field("task", y[1])
        elif n in (1, 2) and y[0].upper() in _SHORT_TYPES or n == 3 and y[0] == "device":
            if dtype is not None:
                raise ValueError(f"Cannot specify multiple device types: {spec}")
            t, i = (y[0], y[1] if n == 2 else "*") if n < 3 else (y[1], y[2])
            dtype = t.upper()
            index = None if i == "*" else _int_field("index", i)
        elif y[0] != "":
            raise ValueError(f"Unknown attribute: '{y[0]}' in '{spec}': a device name is made of /job:NAME, "
                             "/replica:N, /task:N and /device:TYPE:N (or /cpu:N, /gpu:N)")
    out = (job, replica, task, dtype, index)
    if len(_PARSE_CACHE) < 4096:
        _PARSE_CACHE[spec] = out
    return out


class DeviceSpec:
    """A possibly partial device name (TF 1.x `tf.DeviceSpec`); unset fields are None."""

    __slots__ = _FIELDS

    def __init__(self, job: str | None = None, replica: int | None = None, task: int | None = None,
                 device_type: str | None = None, device_index: int | None = None):
        self.job = job
        self.replica = _int_field("replica", replica)
        self.task = _int_field("task", task)
        self.device_type = device_type.upper() if isinstance(device_type, str) else device_type
        self.device_index = _int_field("index", device_index)

    @classmethod
    def from_string(cls, spec: str) -> DeviceSpec:
        """Parses a full or partial name; '' gives an empty spec.

        Raises:
            ValueError: for a malformed name ("Unknown attribute: ...", "Cannot specify multiple device
                types: ...", a non-integer task/replica/index).
        """
        d = cls.__new__(cls)
        d.job, d.replica, d.task, d.device_type, d.device_index = _parse(spec or "")
        return d

    def parse_from_string(self, spec: str) -> DeviceSpec:
        """Replaces every field with those parsed from `spec` (TF 1.x); returns self."""
        self.job, self.replica, self.task, self.device_type, self.device_index = _parse(spec or "")
        return self

    def to_string(self) -> str:
        s = ""
        if self.job is not None:
            s += f"/job:{self.job}"
        if self.replica is not None:
            s += f"/replica:{self.replica}"
        if self.task is not None:
            s += f"/task:{self.task}"
        if self.device_type is not None:
            s += f"/device:{self.device_type}:{'*' if self.device_index is None else self.device_index}"
        return s

    def merge_from(self, dev: DeviceSpec) -> None:
        """Fields set in `dev` override this spec's (TF's semantics for nested device scopes)."""
        for f in _FIELDS:
            v = getattr(dev, f)
            if v is not None:
                setattr(self, f, v)

    def make_merged_spec(self, dev: DeviceSpec) -> DeviceSpec:
        """A new spec: this one with the fields set in `dev` overriding."""
        out = self.copy()
        out.merge_from(dev)
        return out

    def replace(self, **kwargs: Any) -> DeviceSpec:
        """A copy with the given fields replaced (TF 2's DeviceSpec.replace)."""
        vals = {f: getattr(self, f) for f in _FIELDS}
        unknown = set(kwargs) - set(_FIELDS)
        if unknown:
            raise TypeError(f"DeviceSpec has no field(s) {', '.join(sorted(unknown))}")
        vals.update(kwargs)
        return DeviceSpec(**vals)

    def copy(self) -> DeviceSpec:
        d = DeviceSpec.__new__(DeviceSpec)
        d.job, d.replica, d.task, d.device_type, d.device_index = (
            self.job, self.replica, self.task, self.device_type, self.device_index)
        return d

    __copy__ = copy

    def matches(self, full: DeviceSpec) -> bool:
        """True if every field set here equals the same field of `full`."""
        return all(getattr(self, f) is None or getattr(self, f) == getattr(full, f) for f in _FIELDS)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, DeviceSpec) and self.to_string() == other.to_string()

    def __hash__(self) -> int:
        return hash(self.to_string())

    def __repr__(self) -> str:
        return f"DeviceSpec({self.to_string()!r})"

    __str__ = to_string


def canonical_name(spec: str | DeviceSpec | None) -> str:
    """The canonical form of a device name: '/gpu:1' -> '/device:GPU:1'; None -> ''."""
    if spec is None:
        return ""
    if isinstance(spec, DeviceSpec):
        return spec.to_string()
    return DeviceSpec.from_string(spec).to_string()


def merge_device(outer: str, inner: str) -> str:
    """The device string a node gets when `inner` is requested inside scope `outer`."""
    if not outer:
        return canonical_name(inner)
    if not inner:
        return canonical_name(outer)
    return DeviceSpec.from_string(outer).make_merged_spec(DeviceSpec.from_string(inner)).to_string()
