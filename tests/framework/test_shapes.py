"""TensorShape and Dimension with TF 1.x semantics."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import labflow as tf
from labflow.framework.shapes import as_dimension, as_shape, dimension_value, scalar, unknown_shape

D = tf.Dimension
S = tf.TensorShape


def test_str_and_repr_like_tf1():
    assert str(S([None, 784])) == "(?, 784)"
    assert str(S([3])) == "(3,)" and str(S([])) == "()" and str(S(None)) == "<unknown>"
    assert repr(S([None, 784])) == "TensorShape([Dimension(None), Dimension(784)])"
    assert repr(S(None)) == "TensorShape(None)"
    assert repr(D(3)) == "Dimension(3)" and str(D(None)) == "?" and str(D(4)) == "4"


def test_basic_queries():
    s = S([None, 784])
    assert s.as_list() == [None, 784] and s.ndims == 2 and s.rank == 2 and len(s) == 2
    assert s[1].value == 784 and int(s[1]) == 784 and s[0].value is None
    assert isinstance(s[0], D) and s[1:].as_list() == [784]
    assert [d.value for d in s] == [None, 784] and [d.value for d in s.dims] == [None, 784]
    assert not s.is_fully_defined() and s.num_elements() is None
    assert S([2, 3]).num_elements() == 6 and S([]).num_elements() == 1
    assert S(3).as_list() == [3]
    assert bool(S([])) and not bool(S(None))  # TF1: only an unknown rank is falsy


def test_unknown_rank():
    u = S(None)
    assert u.ndims is None and u.dims is None and u.num_elements() is None
    with pytest.raises(ValueError, match="as_list\\(\\) is not defined on an unknown TensorShape"):
        u.as_list()
    with pytest.raises(ValueError, match="unknown rank"):
        len(u)
    with pytest.raises(ValueError, match="unknown rank"):
        iter(u)
    assert u[0].value is None and u[1:].ndims is None and u[1:3].as_list() == [None, None]
    assert unknown_shape().ndims is None and unknown_shape(2).as_list() == [None, None]
    assert scalar().as_list() == []


def test_merge_with():
    assert S([None, 3]).merge_with([2, None]).as_list() == [2, 3]
    assert S(None).merge_with([1]).as_list() == [1] and S([1]).merge_with(None).as_list() == [1]
    with pytest.raises(ValueError, match="Shapes \\(2, 3\\) and \\(2, 4\\) are not compatible"):
        S([2, 3]).merge_with([2, 4])
    with pytest.raises(ValueError, match="are not compatible"):
        S([2, 3]).merge_with([2])


def test_compatibility_and_concatenate():
    assert S([None, 3]).is_compatible_with([5, 3]) and S(None).is_compatible_with([1, 2, 3])
    assert not S([2, 3]).is_compatible_with([3, 3]) and not S([2]).is_compatible_with([2, 1])
    assert S([1, 2]).concatenate([3]).as_list() == [1, 2, 3]
    assert S([1]).concatenate(S(None)).ndims is None
    S([None]).assert_is_compatible_with([4])
    with pytest.raises(ValueError, match="are incompatible"):
        S([3]).assert_is_compatible_with([4])
    assert S([1, 2]).most_specific_compatible_shape([1, 3]).as_list() == [1, None]


def test_rank_assertions():
    assert S(None).with_rank(2).as_list() == [None, None]
    with pytest.raises(ValueError, match="must have rank 3"):
        S([1, 2]).with_rank(3)
    with pytest.raises(ValueError, match="must have rank at least 3"):
        S([1, 2]).with_rank_at_least(3)
    with pytest.raises(ValueError, match="must have rank at most 1"):
        S([1, 2]).with_rank_at_most(1)
    with pytest.raises(ValueError, match="must have the same rank"):
        S([1, 2]).assert_same_rank([1])
    with pytest.raises(ValueError, match="is not fully defined"):
        S([None]).assert_is_fully_defined()
    S([1]).assert_has_rank(1)


def test_equality():
    assert S([1, 2]) == S([1, 2]) and S([1, 2]) == [1, 2] and S([1, 2]) != S([2, 1])
    assert S([None]) == S([None])  # structural (TF2's rule; TF1 compared Dimension objects)
    assert hash(S([1, 2])) == hash(S((1, 2)))


def test_dimension_semantics():
    assert D(3) == 3 and D(3) != 4 and (D(None) == 3) is None and (D(3) != D(None)) is None
    assert (D(3) + 2).value == 5 and (2 + D(3)).value == 5 and (D(None) + 1).value is None
    assert (D(5) - 2).value == 3 and (7 - D(5)).value == 2 and (D(6) * D(2)).value == 12
    assert (D(7) // 2).value == 3 and (9 // D(2)).value == 4 and (D(7) % 4).value == 3
    assert D(2) < 3 and D(3) >= 3 and (D(None) < 3) is None and (D(3) > D(None)) is None
    with pytest.raises(TypeError, match="please use // instead"):
        D(4) / 2
    assert D(3).merge_with(None).value == 3 and D(None).merge_with(4).value == 4
    with pytest.raises(ValueError, match="Dimensions 3 and 4 are not compatible"):
        D(3).merge_with(4)
    assert D(None).is_compatible_with(5) and not D(3).is_compatible_with(4)
    with pytest.raises(TypeError):
        int(D(None))
    assert D(np.int64(4)).value == 4 and D(4.0).value == 4 and D("5").value == 5
    with pytest.raises(ValueError, match="Ambiguous dimension: 2.5"):
        D(2.5)
    with pytest.raises(ValueError, match="must be >= 0"):
        D(-1)
    with pytest.raises(TypeError):
        D(tf.float32)
    assert list(range(5))[D(2)] == 2  # __index__
    assert as_dimension(3) == D(3) and dimension_value(D(3)) == 3 and dimension_value(None) is None
    assert pickle.loads(pickle.dumps(D(3))).value == 3


def test_shape_from_proto_and_back():
    s = S([None, 3])
    p = s.as_proto()
    assert [d.size for d in p.dim] == [-1, 3] and not p.unknown_rank
    assert S(p) == s and S(S(None).as_proto()).ndims is None
    assert as_shape(s) is s and as_shape([1]).as_list() == [1]
    assert pickle.loads(pickle.dumps(s)) == s
