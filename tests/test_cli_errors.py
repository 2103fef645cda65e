"""The command line reports usage errors in one line with exit status 2, before any work."""

import os
import subprocess
import sys

import pytest

import hdcore


def run(*args, cwd=None):
    env = {**os.environ, "HDCORE_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-m", "hdcore", *args], capture_output=True, text=True,
                       timeout=120, cwd=cwd, env=env)
    return p.returncode, p.stdout, p.stderr


def assert_usage_error(rc, out, err, *needles):
    assert rc == 2, (rc, out, err)
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_version():
    rc, out, err = run("--version")
    assert rc == 0 and out.strip() == f"hdcore {hdcore.__version__}"
    assert hdcore.__version__[0].isdigit()


def test_unknown_study(tmp_path):
    assert_usage_error(*run("reproduce", "no-such-study", "--out", str(tmp_path)),
                       "unknown study 'no-such-study'", "spiked-wigner")
    assert_usage_error(*run("sweep", "no-such-study", "--out", str(tmp_path / "x.csv")),
                       "unknown study")
    assert list(tmp_path.iterdir()) == []


def test_out_is_a_file(tmp_path):
    f = tmp_path / "a-file"
    f.write_text("x")
    assert_usage_error(*run("reproduce", "spiked-wigner", "--quick", "--out", str(f)),
                       "not a directory")
    assert_usage_error(*run("sweep", "spiked-wigner", "--quick", "--out", str(f / "x.csv")),
                       "not a directory")
    assert_usage_error(*run("sweep", "spiked-wigner", "--quick", "--out", str(tmp_path)),
                       "is a directory")
    assert f.read_text() == "x"


def test_out_cannot_be_created():
    # /proc accepts no new entries, even for root
    assert_usage_error(*run("reproduce", "spiked-wigner", "--quick", "--out", "/proc/hdcore-x"),
                       "--out", "cannot create")
    assert_usage_error(*run("reproduce", "spiked-wigner", "--quick", "--out", "/proc"),
                       "--out", "not writable")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only directories")
def test_out_read_only_directory(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    try:
        assert_usage_error(*run("reproduce", "spiked-wigner", "--quick", "--out", str(ro)),
                           "not writable")
    finally:
        ro.chmod(0o700)


def test_negative_seed_is_rejected_before_any_work(tmp_path):
    out = tmp_path / "res"
    assert_usage_error(*run("reproduce", "spiked-wigner", "--quick", "--seed", "-1", "--out",
                            str(out)), "--seed", "non-negative")
    assert not out.exists()
    assert_usage_error(*run("sweep", "spiked-wigner", "--seed", "-3", "--out",
                            str(out / "x.csv")), "--seed")
    assert_usage_error(*run("sweep", "spiked-wigner", "--seeds", "0", "--out",
                            str(out / "x.csv")), "--seeds")
    assert not out.exists()


def test_bad_grid_value_is_rejected_before_running(tmp_path):
    out = tmp_path / "x.csv"
    assert_usage_error(*run("sweep", "spiked-wigner", "--quick", "--grid", "snr=abc", "--out",
                            str(out)), "snr=abc", "numbers")
    assert_usage_error(*run("sweep", "spiked-wigner", "--quick", "--grid", "snr=0.5,abc",
                            "--out", str(out)), "snr=abc")
    assert_usage_error(*run("sweep", "spiked-wigner", "--quick", "--grid", "nope=1", "--out",
                            str(out)), "no parameter 'nope'")
    assert list(tmp_path.iterdir()) == []


def test_grid_type_check_accepts_good_values():
    from hdcore.cli import _check_grid_types, parse_axis, study_grid
    from hdcore.studies import get_study

    study = get_study("spiked-wigner")
    axes = [parse_axis("snr=0.5,1.5")]
    _check_grid_types(study, study_grid(study, axes, True), axes, True)
    axes = [parse_axis("snr=1:2:3"), parse_axis("n=200")]
    _check_grid_types(study, study_grid(study, axes, True), axes, True)
    with pytest.raises(ValueError, match="integers"):
        axes = [parse_axis("n=200.5")]
        _check_grid_types(study, study_grid(study, axes, True), axes, True)


def test_main_module_does_not_touch_a_library_users_backend():
    # the executable picks a headless backend through MPLBACKEND only if the user set none
    code = ("import os, matplotlib; os.environ['MPLBACKEND'] = 'svg'; "
            "import hdcore.cli as c; import sys; sys.argv = ['hdcore', 'list']\n"
            "try:\n    c.console_main()\nexcept SystemExit:\n    pass\n"
            "print(os.environ['MPLBACKEND'])")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == "svg"
