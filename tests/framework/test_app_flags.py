"""tf.flags / tf.app.flags and tf.app.run: definitions, parsing, errors, notebook re-runs."""

from __future__ import annotations

import pytest

import labflow as tf
from labflow import flags as lf_flags


@pytest.fixture
def fv():
    return lf_flags.FlagValues()


def test_app_flags_is_the_flags_module():
    assert tf.app.flags is tf.flags
    assert tf.app.flags.FLAGS is tf.flags.FLAGS


def test_defaults_and_types(fv):
    tf.flags.DEFINE_string("name", "mnist", "data set", flag_values=fv)
    tf.flags.DEFINE_integer("steps", 100, "steps", flag_values=fv)
    tf.flags.DEFINE_float("lr", 0.01, "learning rate", flag_values=fv)
    tf.flags.DEFINE_boolean("fast", False, "fast mode", flag_values=fv)
    tf.flags.DEFINE_bool("slow", True, "slow mode", flag_values=fv)
    tf.flags.DEFINE_list("layers", "64,32", "sizes", flag_values=fv)
    tf.flags.DEFINE_enum("opt", "adam", ["adam", "sgd"], "optimizer", flag_values=fv)
    tf.flags.DEFINE_multi_string("tag", ["a"], "tags", flag_values=fv)
    fv(["prog"])
    assert (fv.name, fv.steps, fv.lr, fv.fast, fv.slow, fv.layers, fv.opt, fv.tag) == (
        "mnist", 100, 0.01, False, True, ["64", "32"], "adam", ["a"])
    assert isinstance(fv.lr, float) and isinstance(fv.steps, int)


def test_parse_all_spellings(fv):
    tf.flags.DEFINE_string("data_dir", "/tmp", "", flag_values=fv)
    tf.flags.DEFINE_integer("batch", 32, "", flag_values=fv)
    tf.flags.DEFINE_float("lr", 0.1, "", flag_values=fv)
    tf.flags.DEFINE_boolean("fast", False, "", flag_values=fv)
    tf.flags.DEFINE_boolean("verbose", True, "", flag_values=fv)
    tf.flags.DEFINE_boolean("train", False, "", flag_values=fv)
    tf.flags.DEFINE_list("layers", [], "", flag_values=fv)
    tf.flags.DEFINE_multi_integer("seed", [], "", flag_values=fv)
    rest = fv(["prog", "--data_dir=/data", "-batch", "64", "--lr=1e-3", "--fast", "--noverbose", "--train=false",
               "positional", "--layers=a,b", "--seed=1", "--seed", "0x10", "--", "--batch=1"])
    assert rest == ["prog", "positional", "--batch=1"]
    assert (fv.data_dir, fv.batch, fv.lr, fv.fast, fv.verbose, fv.train) == ("/data", 64, 1e-3, True, False, False)
    assert fv.layers == ["a", "b"] and fv.seed == [1, 16]
    assert fv["batch"].present == 1 and fv["lr"].default == 0.1


def test_lazy_parse_on_first_read_ignores_unknown(fv, monkeypatch):
    tf.flags.DEFINE_integer("epochs", 1, "", flag_values=fv)
    monkeypatch.setattr("sys.argv", ["prog", "--epochs=7", "--unknown_thing=3", "-x"])
    assert not fv.is_parsed()
    assert fv.epochs == 7
    assert fv.is_parsed()


def test_kernel_argv_is_ignored(fv, monkeypatch):
    tf.flags.DEFINE_string("f", "", "a flag a notebook user might define", flag_values=fv)
    tf.flags.DEFINE_integer("n", 3, "", flag_values=fv)
    monkeypatch.setattr("sys.argv", ["/x/ipykernel_launcher.py", "-f", "/run/jupyter/kernel-1a2b.json"])
    assert fv.n == 3 and fv.f == ""
    assert fv(["prog", "--f=/root/kernel-9.json", "--n=4"]) == ["prog"]
    assert fv.n == 4 and fv.f == ""


def test_unknown_flag_names_it_with_a_suggestion(fv):
    tf.flags.DEFINE_float("learning_rate", 0.1, "", flag_values=fv)
    with pytest.raises(tf.flags.UnrecognizedFlagError, match="'learning_rat'.*Did you mean: learning_rate"):
        fv(["prog", "--learning_rat=0.2"])
    assert fv(["prog", "--learning_rat=0.2"], known_only=True) == ["prog", "--learning_rat=0.2"]
    with pytest.raises(AttributeError, match="Unknown flag 'learning_rat'"):
        _ = fv.learning_rat


@pytest.mark.parametrize("define,arg,match", [
    (lambda fv: tf.flags.DEFINE_integer("k", 1, "", flag_values=fv), "--k=abc", r"--k=abc: .*integer"),
    (lambda fv: tf.flags.DEFINE_float("k", 1.0, "", flag_values=fv), "--k=1.2.3", r"--k=1.2.3: .*float"),
    (lambda fv: tf.flags.DEFINE_boolean("k", False, "", flag_values=fv), "--k=maybe", r"--k=maybe: Non-boolean"),
    (lambda fv: tf.flags.DEFINE_enum("k", "a", ["a", "b"], "", flag_values=fv), "--k=c", r"--k=c: .*<a\|b>"),
    (lambda fv: tf.flags.DEFINE_integer("k", 1, "", lower_bound=0, upper_bound=9, flag_values=fv), "--k=10",
     r"--k=10: 10 is out of range.*<= 9"),
])
def test_bad_values_name_the_flag(fv, define, arg, match):
    define(fv)
    with pytest.raises(tf.flags.IllegalFlagValueError, match=match):
        fv(["prog", arg])


def test_bad_default_and_missing_value(fv):
    with pytest.raises(tf.flags.IllegalFlagValueError, match="--n: bad default value 'x'"):
        tf.flags.DEFINE_integer("n", "x", "", flag_values=fv)
    tf.flags.DEFINE_string("s", None, "", flag_values=fv)
    with pytest.raises(tf.flags.IllegalFlagValueError, match="--s: a value is required"):
        fv(["prog", "--s"])


def test_enum_case_insensitive(fv):
    tf.flags.DEFINE_enum("mode", "train", ["train", "eval"], "", case_sensitive=False, flag_values=fv)
    fv(["prog", "--mode=EVAL"])
    assert fv.mode == "eval"


def test_identical_redefinition_is_a_noop_keeping_the_value(fv):
    tf.flags.DEFINE_integer("units", 10, "hidden units", flag_values=fv)
    fv(["prog", "--units=20"])
    tf.flags.DEFINE_integer("units", 10, "hidden units", flag_values=fv)  # a re-run notebook cell
    assert fv.units == 20


def test_different_redefinition_raises_outside_notebooks(fv):
    tf.flags.DEFINE_integer("units", 10, "hidden units", flag_values=fv)
    with pytest.raises(tf.flags.DuplicateFlagError, match="'units' is defined twice: first at .*test_app_flags"):
        tf.flags.DEFINE_integer("units", 12, "hidden units", flag_values=fv)


def test_different_redefinition_in_a_notebook_replaces(fv, monkeypatch, caplog):
    monkeypatch.setattr(lf_flags, "_in_ipython", lambda: True)
    tf.flags.DEFINE_integer("units", 10, "hidden units", flag_values=fv)
    fv(["prog", "--units=20"])
    with caplog.at_level("WARNING", logger="labflow"):
        tf.flags.DEFINE_integer("units", 12, "hidden units (edited)", flag_values=fv)
    assert fv.units == 12
    assert "re-defined" in caplog.text


def test_set_and_dict_and_membership(fv):
    tf.flags.DEFINE_string("s", "a", "", flag_values=fv)
    fv.mark_as_parsed()
    fv.s = "b"
    assert fv.flag_values_dict() == {"s": "b"} and "s" in fv and len(fv) == 1
    assert getattr(fv, "__flags") == {"s": "b"}
    with pytest.raises(AttributeError, match="Unknown flag 'nope'"):
        fv.nope = 1
    fv.unparse_flags()
    assert not fv.is_parsed() and fv["s"].value == "a"


def test_run_parses_calls_main_and_exits(monkeypatch):
    name = "lf_test_app_run_steps"
    tf.flags.DEFINE_integer(name, 1, "steps")
    try:
        seen = {}

        def main(argv):
            seen["argv"] = argv
            seen["value"] = getattr(tf.flags.FLAGS, name)
            return 3
        with pytest.raises(SystemExit) as e:
            tf.app.run(main=main, argv=["prog", f"--{name}=5", "extra", "--not_a_flag"])
        assert e.value.code == 3
        assert seen == {"argv": ["prog", "extra", "--not_a_flag"], "value": 5}
    finally:
        delattr(tf.flags.FLAGS, name)
        tf.flags.FLAGS.unparse_flags()


def test_run_in_a_notebook_returns_instead_of_exiting(monkeypatch):
    monkeypatch.setattr(lf_flags, "_in_ipython", lambda: True)
    monkeypatch.setattr("labflow.app._in_ipython", lambda: True)
    try:
        assert tf.app.run(main=lambda argv: argv, argv=["ipykernel_launcher.py", "-f", "/k/kernel-1.json"]) == \
            ["ipykernel_launcher.py"]
    finally:
        tf.flags.FLAGS.unparse_flags()


def test_run_checks_required_flags_and_validators(capsys, monkeypatch):
    fv_name, v_name = "lf_test_required_path", "lf_test_positive"
    tf.flags.DEFINE_string(fv_name, None, "a path")
    tf.flags.DEFINE_integer(v_name, 1, "a positive number")
    try:
        tf.flags.mark_flag_as_required(fv_name)
        tf.flags.register_validator(v_name, lambda v: v > 0, message="must be positive")
        with pytest.raises(SystemExit) as e:
            tf.app.run(main=lambda argv: 0, argv=["prog"])
        assert e.value.code == 1
        assert f"FATAL Flags parsing error: flag --{fv_name} must have a value" in capsys.readouterr().err
        with pytest.raises(SystemExit):
            tf.app.run(main=lambda argv: 0, argv=["prog", f"--{fv_name}=x", f"--{v_name}=-1"])
        assert f"--{v_name}: must be positive" in capsys.readouterr().err
        monkeypatch.setattr("labflow.app._in_ipython", lambda: True)
        with pytest.raises(tf.flags.ValidationError, match=f"--{v_name}: must be positive"):
            tf.app.run(main=lambda argv: 0, argv=["prog", f"--{fv_name}=x", f"--{v_name}=-1"])
    finally:
        flags = tf.flags.FLAGS
        flags._required.remove(fv_name)
        flags._validators[:] = [v for v in flags._validators if v[0] != (v_name,)]
        delattr(flags, fv_name)
        delattr(flags, v_name)
        flags.unparse_flags()


def test_run_reports_a_bad_value_and_exits_1(capsys):
    name = "lf_test_bad_int"
    tf.flags.DEFINE_integer(name, 1, "")
    try:
        with pytest.raises(SystemExit) as e:
            tf.app.run(main=lambda argv: 0, argv=["prog", f"--{name}=many"])
        assert e.value.code == 1
        assert f"FATAL Flags parsing error: flag --{name}=many: could not parse 'many'" in capsys.readouterr().err
    finally:
        delattr(tf.flags.FLAGS, name)
        tf.flags.FLAGS.unparse_flags()


def test_help_prints_flags_and_exits(capsys):
    with pytest.raises(SystemExit) as e:
        tf.app.run(main=lambda argv: 1, argv=["prog", "--help"])
    assert e.value.code == 0
    assert "flags:" in capsys.readouterr().out


def test_rerunning_a_cell_in_a_real_ipython_shell():
    """In an IPython shell: the same DEFINE twice is fine, an edited one replaces, the kernel's argv is ignored."""
    import subprocess
    import sys
    code = r'''
import sys
sys.argv = ["/x/ipykernel_launcher.py", "-f", "/x/kernel-0.json"]
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
cell = ("import labflow as tf\ntf.flags.DEFINE_integer('units', 10, 'hidden units')\n"
        "print('units', tf.flags.FLAGS.units)")
for c in (cell, cell, cell.replace("10", "12")):
    r = shell.run_cell(c)
    assert r.success, r.error_in_exec
r = shell.run_cell("tf.app.run(main=lambda argv: print('main', argv))")
assert r.success, r.error_in_exec
'''
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:4] == ["units 10", "units 10", "units 12", "main ['/x/ipykernel_launcher.py']"]


def test_short_names_allow_override_and_unknown_keywords(fv):
    tf.flags.DEFINE_integer("batch_size", 32, "", short_name="b", flag_values=fv)
    assert fv(["prog", "-b", "8"]) == ["prog"] and fv.batch_size == 8
    with pytest.raises(tf.flags.DuplicateFlagError, match="short name '-b'"):
        tf.flags.DEFINE_string("bucket", "", "", short_name="b", flag_values=fv)
    tf.flags.DEFINE_integer("batch_size", 64, "", allow_override=True, flag_values=fv)
    assert fv.batch_size == 64
    with pytest.raises(TypeError, match="unexpected keyword argument.*'serializer'"):
        tf.flags.DEFINE_string("s", "", "", serializer=None, flag_values=fv)


def test_flagfile(fv, tmp_path):
    tf.flags.DEFINE_integer("steps", 1, "", flag_values=fv)
    tf.flags.DEFINE_string("name", "", "", flag_values=fv)
    inner = tmp_path / "inner.flags"
    inner.write_text("--name=inner\n")
    outer = tmp_path / "outer.flags"
    outer.write_text(f"# settings\n--steps=5\n\n--flagfile={inner}\npositional\n")
    assert fv(["prog", "--flagfile", str(outer), "--steps=6"]) == ["prog", "positional"]
    assert fv.steps == 6 and fv.name == "inner"  # later arguments win
    with pytest.raises(tf.flags.IllegalFlagValueError, match="--flagfile=.*missing.flags: cannot read it"):
        fv(["prog", f"--flagfile={tmp_path / 'missing.flags'}"])
    loop = tmp_path / "loop.flags"
    loop.write_text(f"--flagfile={loop}\n")
    with pytest.raises(tf.flags.IllegalFlagValueError, match="nest more than 10 deep"):
        fv(["prog", f"--flagfile={loop}"])
