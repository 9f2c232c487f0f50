"""Run logging: metrics.jsonl rows and W&B's offline default (no account, no network)."""

import json

import pytest

from rlkit.metrics import RunLogger, default_wandb_mode, read_metrics


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


def test_offline_without_credentials(no_credentials, monkeypatch, tmp_path):
    assert default_wandb_mode() == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert default_wandb_mode() == "online"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert default_wandb_mode() == "disabled"


def test_netrc_credentials_mean_online(no_credentials, tmp_path):
    (tmp_path / ".netrc").write_text("machine api.wandb.ai\n  login user\n  password abc\n")
    assert default_wandb_mode() == "online"


def test_offline_run_logs_config_and_metrics(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    logger = RunLogger(tmp_path, {"gamma": 0.99}, "ppo", "CartPole-v1", wandb_mode="offline")
    logger.log({"global_step": 10, "charts/SPS": 100.0, "losses/value_loss": 0.5})
    logger.log({"global_step": 20, "eval/mean_return": 9.0})
    run_id = (tmp_path / "wandb_id.txt").read_text().strip()
    logger.close()
    rows = read_metrics(tmp_path)
    assert rows == [{"global_step": 10, "charts/SPS": 100.0, "losses/value_loss": 0.5},
                    {"global_step": 20, "eval/mean_return": 9.0}]
    (offline,) = (tmp_path / "wandb").glob(f"offline-run-*-{run_id}")
    assert any(offline.glob("*.wandb"))
    # plain JSON lines: one object per row, the keys in the order logged, an int step
    text = (tmp_path / "metrics.jsonl").read_text()
    assert text == (
        '{"global_step": 10, "charts/SPS": 100.0, "losses/value_loss": 0.5}\n'
        '{"global_step": 20, "eval/mean_return": 9.0}\n'
    )
    assert [json.loads(line) for line in text.splitlines()] == rows
    assert [type(value) for value in rows[0].values()] == [int, float, float]
