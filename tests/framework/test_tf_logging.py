"""tf.logging: levels, verbosity, the per-call-site counters, the default handler."""

from __future__ import annotations

import logging

import pytest

import labflow as tf


@pytest.fixture
def records(caplog):
    old = tf.logging.get_logger().level
    caplog.set_level(logging.DEBUG, logger="labflow")
    yield caplog
    tf.logging.get_logger().setLevel(old)


def test_levels_are_pythons():
    assert (tf.logging.DEBUG, tf.logging.INFO, tf.logging.WARN, tf.logging.ERROR, tf.logging.FATAL) == (
        10, 20, 30, 40, 50)


def test_functions_log_to_the_labflow_logger(records):
    tf.logging.debug("d %d", 1)
    tf.logging.info("i %s", "x")
    tf.logging.warn("w")
    tf.logging.warning("w2")
    tf.logging.error("e")
    tf.logging.fatal("f")
    tf.logging.log(tf.logging.INFO, "l %d", 2)
    tf.logging.vlog(tf.logging.WARN, "v")
    tf.logging.TaskLevelStatusMessage("status")
    got = [(r.name, r.levelno, r.getMessage()) for r in records.records]
    assert got == [("labflow", 10, "d 1"), ("labflow", 20, "i x"), ("labflow", 30, "w"), ("labflow", 30, "w2"),
                   ("labflow", 40, "e"), ("labflow", 50, "f"), ("labflow", 20, "l 2"), ("labflow", 30, "v"),
                   ("labflow", 40, "status")]
    assert all(r.filename == "test_tf_logging.py" for r in records.records)  # the caller, not logging.py


def test_every_n_first_n_and_if(records):
    for i in range(7):
        tf.logging.log_every_n(tf.logging.INFO, "every %d", 3, i)
    for i in range(5):
        tf.logging.log_first_n(tf.logging.INFO, "first %d", 2, i)
    tf.logging.log_if(tf.logging.INFO, "yes", True)
    tf.logging.log_if(tf.logging.INFO, "no", False)
    assert [r.getMessage() for r in records.records] == ["every 0", "every 3", "every 6", "first 0", "first 1",
                                                         "yes"]


def test_counters_are_per_call_site(records):
    tf.logging.log_first_n(tf.logging.INFO, "site a", 1)
    tf.logging.log_first_n(tf.logging.INFO, "site b", 1)
    tf.logging.log_first_n(tf.logging.INFO, "site a again", 1)  # another line: its own counter
    assert len(records.records) == 3


def test_set_and_get_verbosity():
    logger = tf.logging.get_logger()
    old = logger.level
    try:
        tf.logging.set_verbosity(tf.logging.ERROR)
        assert tf.logging.get_verbosity() == tf.logging.ERROR
        tf.logging.set_verbosity("debug")
        assert tf.logging.get_verbosity() == tf.logging.DEBUG
        with pytest.raises(ValueError, match="Unknown verbosity 'loud'"):
            tf.logging.set_verbosity("loud")
    finally:
        logger.setLevel(old)


def test_default_handler_writes_to_current_stderr(monkeypatch, capsys):
    import labflow.logging as lf_logging
    logger = logging.getLogger("labflow")
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    monkeypatch.setattr(lf_logging, "_handler_checked", False)
    tf.logging.error("shown %d", 5)
    flushed = capsys.readouterr()
    assert "ERROR:labflow:shown 5" in flushed.err
    assert len(logger.handlers) == 1
    tf.logging.flush()
