"""Run configs: every profile flag from TOML, command-line flags win, mistakes are one line."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from perfanalyzer.cli.main import cli, main
from perfanalyzer.config import LoadMode, RunConfig
from perfanalyzer.config.build import build as config_from_kwargs
from perfanalyzer.config.file import load_config, option_index
from perfanalyzer.errors import OptionError

CONFIGS = Path(__file__).parents[1] / "configs"
PROFILE = cli.commands["profile"]


def _cfg(*args: str) -> RunConfig:
    ctx = PROFILE.make_context("profile", list(args))
    return config_from_kwargs(dict(ctx.params))


def _write(tmp_path: Path, text: str, name: str = "x.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["resnet50_sweep", "request_rate", "ci_gate"])
def test_shipped_configs_build_a_run_config(name: str) -> None:
    path = CONFIGS / f"{name}.toml"
    text = path.read_text()
    assert text.startswith("#")  # commented examples
    cfg = _cfg("--config", str(path))
    assert cfg.server.model in ("resnet50", "simple")
    assert cfg.output.filename and cfg.output.filename.endswith(".csv")


def test_shipped_config_values() -> None:
    sweep = _cfg("--config", str(CONFIGS / "resnet50_sweep.toml"))
    assert (sweep.server.model, sweep.server.protocol, sweep.load.concurrency_range,
            sweep.measurement.percentile) == ("resnet50", "grpc", (1, 8, 2), 99)
    assert (sweep.server.launch_server, sweep.output.verbose_csv, sweep.output.profile_export_file) == (
        True, True, "resnet50.json")
    rate = _cfg("--config", str(CONFIGS / "request_rate.toml"))
    assert (rate.load.mode, rate.load.request_rate_range, rate.load.request_distribution) == (
        LoadMode.REQUEST_RATE, (50.0, 200.0, 50.0), "poisson")
    assert (rate.measurement.measurement_mode, rate.measurement.measurement_request_count,
            rate.inputs.seed) == ("count_windows", 200, 7)
    gate = _cfg("--config", str(CONFIGS / "ci_gate.toml"))
    assert (gate.output.baseline, gate.measurement.latency_threshold_ms,
            gate.measurement.percentile) == (
        "baselines/simple.json", 50.0, 95)


def test_every_flag_type_dashes_and_underscores(tmp_path: Path) -> None:
    path = _write(tmp_path, """
model-name = "add_sub"
model_version = "2"
batch-size = 4
protocol = "GRPC"
verbose = 2
sync = true
header = ["X-A: 1", "X-B:2"]
concurrency_range = [2, 8, 2]
latency-threshold = 12.5
input-data = "zero"
shape = "INPUT0:16"
sequence-id-range = [5, 9]
""")
    cfg = _cfg("--config", str(path))
    assert (cfg.server.model, cfg.server.model_version, cfg.inputs.batch_size, cfg.server.protocol,
            cfg.output.verbose) == ("add_sub", "2", 4, "grpc", 2)
    assert cfg.load.async_mode is False
    assert cfg.transport.headers == (("X-A", "1"), ("X-B", "2"))
    assert cfg.load.concurrency_range == (2.0, 8.0, 2.0)
    assert cfg.measurement.latency_threshold_ms == 12.5
    assert (cfg.inputs.input_data, cfg.inputs.shapes, cfg.load.sequence_id_range) == (
        ("zero",), (("INPUT0", (16,)),), (5, 9))


def test_command_line_flags_override_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, 'model-name = "a"\nmeasurement-interval = 300\nbatch-size = 2\n'
                            'concurrency-range = 4\ninput-data = ["zero"]\n')
    cfg = _cfg("-p", "700", "--config", str(path), "-m", "b", "--input-data", "random")
    assert (cfg.server.model, cfg.measurement.measurement_interval_ms, cfg.inputs.batch_size) == ("b", 700, 2)
    assert cfg.load.concurrency_range == (4.0, 4.0, 1.0)
    assert cfg.inputs.input_data == ("random",)


@pytest.mark.parametrize(("text", "message"), [
    ("foo = 1\n", "unknown key 'foo'$"),
    ('model = "x"\n', r"unknown key 'model' \(did you mean 'model-name'\?\)$"),
    ("concurrency-rnage = 4\n", r"unknown key 'concurrency-rnage' \(did you mean "
                                r"'concurrency-range'\?\)$"),
    ("measurement-interval = \"abc\"\n",
     r"key 'measurement-interval': 'abc' is not a valid integer\.$"),
    ("batch-size = true\n", r"key 'batch-size': expected an integer, got True$"),
    ("streaming = 1\n", r"key 'streaming': expected true or false, got 1$"),
    ('protocol = "ftp"\n', r"key 'protocol': 'ftp' is not one of 'http', 'grpc'\.$"),
    ("url = [1, 2]\n", r"key 'url': expected one value, got a list$"),
    ("[profile]\nbatch-size = 1\n", r"unknown key 'profile'$"),
    ("[url]\nhost = 1\n", r"key 'url': a table is not a flag value \(write url = VALUE\)$"),
    ("verbose = -1\n", r"key 'verbose': expected a count"),
    ('model-name = "a"\nmodel_name = "b"\n', r"key 'model_name': already set as 'model-name'$"),
    ('config = "other.toml"\n', r"key 'config': a config file cannot load another one$"),
    ("batch-size = \n", r"not valid TOML: "),
])
def test_config_mistakes_are_one_line_naming_file_and_key(tmp_path: Path, text: str,
                                                         message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(OptionError, match=message) as info:
        load_config(path, PROFILE)
    assert str(info.value).startswith(f"{path}: ")
    assert "\n" not in str(info.value)


def test_unknown_key_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("configs").mkdir()
    Path("configs/x.toml").write_text('model-name = "add_sub"\nfoo = 1\n')
    with pytest.raises(SystemExit) as e:
        main(["--config", "configs/x.toml"])
    assert e.value.code == 3
    assert capsys.readouterr().err == "error: configs/x.toml: unknown key 'foo'\n"
    with pytest.raises(SystemExit) as e:
        main(["--config", "configs/missing.toml"])
    assert e.value.code == 3
    assert capsys.readouterr().err.startswith("error: configs/missing.toml: cannot read config: ")


def test_index_covers_every_long_flag_of_profile() -> None:
    index = option_index(PROFILE)
    longs = {o[2:] for p in PROFILE.params if isinstance(p, click.Option)
             for o in p.opts if o.startswith("--")}
    assert set(index) == longs
    assert index["model-name"].name == "model" and index["async"].name == "async_flag"
