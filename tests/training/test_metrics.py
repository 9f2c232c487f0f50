"""Run logging: metrics.jsonl rows and W&B's offline default (no account, no network)."""

import json

import pytest

from rlkit.training.metrics import RunLogger, default_wandb_mode, read_metrics


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


def test_a_trained_run_reads_back_from_its_offline_wandb_file(tmp_path, wandb_records):
    """Every metric is plotted against global_step, the summary holds the final evaluation,
    wall time and SPS, and the final checkpoint is a model artifact."""
    import json

    import rlkit

    agent = rlkit.make("ppo", "CartPole-v1", seed=0, n_envs=2, n_steps=64, batch_size=64,
                       eval_freq=128, eval_episodes=2)
    agent.learn(256, run_dir=tmp_path / "run", wandb_mode="offline")
    records = wandb_records(tmp_path / "run")
    kinds = [r.WhichOneof("record_type") for r in records]
    metrics = [r.metric for r in records if r.WhichOneof("record_type") == "metric"]
    assert any(m.name == "global_step" for m in metrics)
    assert any(m.glob_name == "*" and m.step_metric == "global_step" for m in metrics)
    history = [{"/".join(item.nested_key) or item.key: json.loads(item.value_json)
                for item in r.history.item} for r in records if kinds and r.HasField("history")]
    assert [row["global_step"] for row in history if "eval/mean_return" in row] == [128, 256]
    summary = {}
    for r in records:
        if r.HasField("summary"):
            for item in r.summary.update:
                summary["/".join(item.nested_key) or item.key] = json.loads(item.value_json)
    assert summary["eval/final_mean_return"] == agent.last_eval["mean_return"]
    assert summary["charts/wall_time"] > 0 and summary["charts/SPS"] > 0
    artifacts = [r.artifact for r in records if r.HasField("artifact")]
    assert [a.type for a in artifacts] == ["model"]
    assert any(entry.path == "checkpoint.pt" for entry in artifacts[0].manifest.contents)


def test_capture_video_records_every_evaluation_to_the_run_and_wandb(tmp_path, monkeypatch):
    """One mp4 per evaluation in the run directory, each handed to W&B at its step (what
    wandb.Video then does with the file is W&B's; reading media back from an offline run's
    file proved flaky under load)."""
    import rlkit
    from rlkit.training.loop import train

    logged = []
    monkeypatch.setattr(RunLogger, "log_videos",
                        lambda self, step, paths: logged.append((step, [p.name for p in paths])))
    agent = rlkit.make("ppo", "CartPole-v1", seed=0, n_envs=2, n_steps=64, batch_size=64,
                       eval_freq=128, eval_episodes=1)
    train(agent, 256, run_dir=tmp_path / "run", wandb_mode="disabled", capture_video=True)
    for step in (128, 256):
        assert list((tmp_path / "run" / "videos" / f"step-{step}").glob("*.mp4"))
    assert [step for step, names in logged if names and names[0].endswith(".mp4")] == [128, 256]


def test_log_videos_hands_mp4_files_to_wandb(tmp_path, monkeypatch):
    import wandb

    logger = RunLogger(tmp_path, {}, "ppo", "CartPole-v1", wandb_mode="disabled")
    calls = []

    class Run:
        def log(self, data, step):
            calls.append((step, data))

    logger.wandb_run = Run()
    monkeypatch.setattr(wandb, "Video", lambda path, format: ("video", path, format))
    logger.log_videos(7, [tmp_path / "a.mp4"])
    logger.wandb_run = None
    logger.close()
    assert calls == [(7, {"eval/video": [("video", str(tmp_path / "a.mp4"), "mp4")]})]


def test_capture_video_without_a_run_directory_is_a_config_error():
    import rlkit
    from rlkit.errors import ConfigError
    from rlkit.training.loop import train

    agent = rlkit.make("ppo", "CartPole-v1", seed=0)
    with pytest.raises(ConfigError, match="run directory"):
        train(agent, 64, capture_video=True)
