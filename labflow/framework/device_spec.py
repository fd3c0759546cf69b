"""Device names: parse, merge and print TF's `/job:worker/replica:0/task:1/device:GPU:0`."""

from __future__ import annotations

import re
from typing import Any

_PART = re.compile(r"^(job|replica|task|device|cpu|gpu):?(.*)$", re.IGNORECASE)


class DeviceSpec:
    """A possibly partial device name (TF 1.x `tf.DeviceSpec`)."""

    __slots__ = ("job", "replica", "task", "device_type", "device_index")

    def __init__(self, job: str | None = None, replica: int | None = None, task: int | None = None,
                 device_type: str | None = None, device_index: int | None = None):
        self.job = job
        self.replica = None if replica is None else int(replica)
        self.task = None if task is None else int(task)
        self.device_type = device_type.upper() if isinstance(device_type, str) else device_type
        self.device_index = None if device_index is None else int(device_index)

    @classmethod
    def from_string(cls, spec: str) -> DeviceSpec:
        """Parses a full or partial name; '' gives an empty spec.

        Raises:
            ValueError: for a malformed name (names the offending part).
        """
        d = cls()
        if not spec:
            return d
        for part in spec.split("/"):
            if not part:
                continue
            m = _PART.match(part)
            if not m:
                raise ValueError(f"Unknown device name part '{part}' in '{spec}': expected job:, replica:, "
                                 "task:, device:TYPE:i, cpu:i or gpu:i")
            key, rest = m.group(1).lower(), m.group(2)
            try:
                if key == "job":
                    d.job = rest
                elif key == "replica":
                    d.replica = int(rest)
                elif key == "task":
                    d.task = int(rest)
                elif key in ("cpu", "gpu"):
                    d.device_type = key.upper()
                    d.device_index = None if rest in ("", "*") else int(rest)
                else:
                    t, _, i = rest.partition(":")
                    d.device_type = t.upper() if t not in ("", "*") else None
                    d.device_index = None if i in ("", "*") else int(i)
            except ValueError:
                raise ValueError(f"Malformed device name part '{part}' in '{spec}'") from None
        return d

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
        for f in self.__slots__:
            v = getattr(dev, f)
            if v is not None:
                setattr(self, f, v)

    def make_merged_spec(self, dev: DeviceSpec) -> DeviceSpec:
        out = self.copy()
        out.merge_from(dev)
        return out

    def copy(self) -> DeviceSpec:
        return DeviceSpec(self.job, self.replica, self.task, self.device_type, self.device_index)

    def matches(self, full: DeviceSpec) -> bool:
        """True if every field set here equals the same field of `full`."""
        return all(getattr(self, f) is None or getattr(self, f) == getattr(full, f) for f in self.__slots__)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, DeviceSpec) and self.to_string() == other.to_string()

    def __hash__(self) -> int:
        return hash(self.to_string())

    def __repr__(self) -> str:
        return f"DeviceSpec({self.to_string()!r})"

    __str__ = to_string


def canonical_name(spec: str | DeviceSpec | None) -> str:
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
        return outer
    return DeviceSpec.from_string(outer).make_merged_spec(DeviceSpec.from_string(inner)).to_string()
