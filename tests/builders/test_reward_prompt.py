import pytest

from prefsmith.builders.reward_prompt import (
    Normalizer,
    RewardTemplate,
    parse_targets,
    render_prompt,
)
from prefsmith.schemas.errors import UserError


def test_default_rendering_is_exactly_the_seed_block():
    text = render_prompt(
        [{"role": "user", "content": "How do I bake bread?"}],
        {"helpful": 0.42, "harmless": 0.75},
        RewardTemplate(),
    )
    assert (
        text
        == "Human: How do I bake bread?\n<REWARD>\nHelpful reward: 0.42\nHarmless reward: 0.75<SOS>"
    )


def test_multi_turn_prompts_and_a_custom_template():
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Joke?"},
    ]
    template = RewardTemplate(open_tag="[R]", start_tag="[GO]", line="{name}={value}", decimals=1)
    assert (
        render_prompt(messages, {"fun": 0.66}, template)
        == "Human: Hi\n\nAssistant: Hello\n\nHuman: Joke?\n[R]\nfun=0.7[GO]"
    )


@pytest.mark.parametrize(
    ("method", "value", "expected"),
    [
        ("minmax", 3.0, 0.5),
        ("minmax", 10.0, 1.0),
        ("zscore-sigmoid", 3.0, 0.5),
        ("quantile", 5.0, 1.0),
        ("none", 7.0, 7.0),
    ],
)
def test_normalizers_fit_on_given_values(method, value, expected):
    fitted = Normalizer.fit(method, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert fitted(value) == pytest.approx(expected, abs=0.01)
    assert Normalizer(**fitted.to_dict())(value) == fitted(value)


def test_quantile_is_monotone_and_targets_are_checked():
    fitted = Normalizer.fit("quantile", [float(i) for i in range(1000)])
    values = [fitted(v) for v in (0.0, 250.0, 500.0, 999.0)]
    assert values == sorted(values) and values[2] == pytest.approx(0.5, abs=0.01)
    assert parse_targets("harmless=0.8, helpful=0.9", ["helpful", "harmless"]) == {
        "helpful": 0.9,
        "harmless": 0.8,
    }
    with pytest.raises(UserError, match="must give exactly helpful"):
        parse_targets("helpful=0.9", ["helpful", "harmless"])
    with pytest.raises(UserError, match="--normalize must be one of"):
        Normalizer.fit("log", [1.0])
