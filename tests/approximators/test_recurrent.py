"""Recurrent torsos: resets at episode starts, BPTT against a step-by-step unroll, carried
state, and the protocol a feed-forward torso keeps."""


import gymnasium as gym
import pytest
import torch

from rlkit.approximators import build_torso
from rlkit.config import ApproximatorConfig, from_dict
from rlkit.errors import ConfigError

BOX = gym.spaces.Box(-1.0, 1.0, (3,))
# 6 steps, 3 envs: everyone starts at t = 0; env 0 again at t = 2 and 5, env 1 at t = 4, env
# 2 at t = 5 (the stretches the torso runs in one call: [0, 2), [2, 4), [4, 5), [5, 6)).
STARTS = torch.zeros(6, 3)
STARTS[0] = 1
STARTS[2, 0] = STARTS[4, 1] = STARTS[5, 0] = STARTS[5, 2] = 1
# the same, but envs 1 and 2 go on with the episodes they were in before step 0
CARRIED = STARTS.clone()
CARRIED[0, 1:] = 0


def _torso(kind, **overrides):
    torch.manual_seed(0)
    config = dict(type=kind, hidden_size=5, num_layers=2, encoder={"hidden_sizes": [4]})
    return build_torso(BOX, from_dict(ApproximatorConfig, {**config, **overrides}))


def _step_by_step(torso, obs, state, starts):
    """The reference: one cell call per step, the state zeroed by hand where an episode starts."""
    features = []
    for t in range(obs.shape[0]):
        keep = (1 - starts[t]).view(1, -1, 1)
        state = tuple(s * keep for s in state)
        x = torso._encode(obs[t])[None]
        out, new = torso.core(x, state if torso.is_lstm else state[0])
        state = new if torso.is_lstm else (new,)
        features.append(out[0])
    return torch.stack(features), state


@pytest.mark.parametrize("kind, n_state", [("lstm", 2), ("gru", 1), ("rnn", 1)])
def test_initial_state_is_zero(kind, n_state):
    state = _torso(kind).initial_state(3)
    assert len(state) == n_state
    for s in state:
        assert s.shape == (2, 3, 5) and not s.any()


@pytest.mark.parametrize("starts", [STARTS, CARRIED], ids=["all-start", "carried"])
@pytest.mark.parametrize("with_state", [True, False])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_bptt_equals_the_step_by_step_unroll(kind, with_state, starts):
    """Features, final state and every parameter's gradient of a loss on all features agree
    with the step-by-step reference (float32 tolerance: different kernels, same math), from the
    one call over every env's segments: packed where the final state is wanted, padded where
    not (``with_state=False``, and the state comes back empty)."""
    torso = _torso(kind)
    obs = torch.randn(6, 3, 3)
    state = tuple(torch.randn_like(s) for s in torso.initial_state(3))  # a carried-in state
    weights = torch.randn(6, 3, 5)

    def run(unroll):
        torso.zero_grad()
        features, final = unroll(torso, obs, state, starts)
        (features * weights).sum().backward()
        grads = {n: p.grad.clone() for n, p in torso.named_parameters()}
        return features.detach(), [s.detach() for s in final], grads

    features, final, grads = run(lambda t, *args: t.unroll(*args, with_state=with_state))
    ref_features, ref_final, ref_grads = run(_step_by_step)
    torch.testing.assert_close(features, ref_features)
    assert features.is_contiguous()  # the heads' products see one layout on every path
    if with_state:
        for s, ref in zip(final, ref_final, strict=True):
            torch.testing.assert_close(s, ref)
    else:
        assert final == []
    for name, grad in grads.items():
        assert grad.abs().sum() > 0, name
        torch.testing.assert_close(grad, ref_grads[name], msg=name)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_an_episode_start_forgets_everything_before_it(kind):
    """Changing what env 0 saw before its start at t = 2 (and the carried-in state) changes
    none of its features from t = 2 on; the other envs are untouched."""
    torso = _torso(kind)
    obs = torch.randn(6, 3, 3)
    state = tuple(torch.randn_like(s) for s in torso.initial_state(3))
    with torch.no_grad():
        features, _ = torso.unroll(obs, state, STARTS)
        changed = obs.clone()
        changed[:2, 0] += 5.0
        other_state = tuple(s.clone() for s in state)
        for s in other_state:
            s[:, 0] += 3.0
        features_changed, _ = torso.unroll(changed, other_state, STARTS)
        fresh, _ = torso.unroll(obs[2:, :1], torso.initial_state(1), STARTS[2:, :1])
    torch.testing.assert_close(features_changed[2:, 0], features[2:, 0])
    torch.testing.assert_close(features[2:, 0], fresh[:, 0])
    assert not torch.allclose(features_changed[:2, 0], features[:2, 0])
    torch.testing.assert_close(features_changed[:, 1:], features[:, 1:])


def test_the_state_carries_across_calls():
    """Acting one step at a time and replaying the whole rollout at once give the same features:
    the state returned by one call is the state the next call starts from."""
    torso = _torso("lstm")
    obs = torch.randn(6, 3, 3)
    with torch.no_grad():
        whole, whole_state = torso.unroll(obs, torso.initial_state(3), STARTS)
        state, pieces = torso.initial_state(3), []
        for t in range(6):
            out, state = torso.unroll(obs[t : t + 1], state, STARTS[t : t + 1])
            pieces.append(out)
    torch.testing.assert_close(torch.cat(pieces), whole)
    for s, w in zip(state, whole_state, strict=True):
        torch.testing.assert_close(s, w)


@pytest.mark.parametrize("encoder", [None, {"hidden_sizes": [4], "activation": "relu"}])
def test_the_encoder_key_puts_an_mlp_before_the_cell(encoder):
    """With an encoder the cell reads relu(W o + b) (4 units); without, o itself (3)."""
    torso = _torso("gru", encoder=encoder)
    obs = torch.randn(1, 2, 3)
    with torch.no_grad():
        features, _ = torso.unroll(obs, torso.initial_state(2), torch.ones(1, 2))
        if encoder is None:
            assert torso.encoder is None and torso.core.input_size == 3
            inputs = obs
        else:
            linear = torso.encoder.layers[0]
            assert torso.core.input_size == 4
            inputs = torch.relu(obs @ linear.weight.T + linear.bias)
        expected, _ = torso.core(inputs)
    torch.testing.assert_close(features, expected)


def test_without_an_encoder_discrete_observations_are_one_hot():
    discrete = build_torso(gym.spaces.Discrete(4), ApproximatorConfig(type="gru", hidden_size=2))
    features, _ = discrete.unroll(torch.tensor([[0, 3]]), discrete.initial_state(2),
                                  torch.ones(1, 2))
    assert features.shape == (1, 2, 2) and discrete.core.input_size == 4  # one-hot ids


def test_a_feed_forward_torso_keeps_the_protocol():
    """Empty state; unroll applies the MLP to every step and passes the state through."""
    mlp = build_torso(BOX, ApproximatorConfig(hidden_sizes=[4]))
    assert mlp.initial_state(3) == ()
    obs = torch.randn(6, 3, 3)
    features, state = mlp.unroll(obs, (), STARTS)
    assert state == ()
    torch.testing.assert_close(features, mlp(obs.reshape(18, 3)).view(6, 3, 4))


@pytest.mark.parametrize(("values", "message"), [
    ({"type": "lstm", "hidden_size": 0}, "'approximator.hidden_size', 'num_layers'"),
    ({"type": "gru", "num_layers": 0}, "'n_heads', 'degree' and 'latent_dim' must be >= 1"),
    ({"type": "lstm", "encoder": {"type": "gru"}}, "encoder must be feed-forward (mlp or cnn)"),
    ({"dropout": 1.0}, "'approximator.dropout' must lie in [0, 1)"),
])
def test_bad_recurrent_settings_are_one_config_error(values, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[")):
        from_dict(ApproximatorConfig, values)


def test_lstm_forget_gate_starts_open():
    """PyTorch orders an LSTM's gates i, f, g, o: the forget gate's input bias starts at 1,
    every other bias at 0, so sigma(f) = 0.73 on a zero input."""
    torso = _torso("lstm")
    bias = torso.core.bias_ih_l0.detach()
    assert bias[5:10].tolist() == [1.0] * 5
    assert not bias[:5].any() and not bias[10:].any() and not torso.core.bias_hh_l0.any()
