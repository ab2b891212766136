"""Policy files: TOML and YAML load to the same policy; errors name the field and the line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from zkrisk.engine.risk.policy import PolicyError, load_policy, parse_policy

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TOML = (EXAMPLES / "policy.toml").read_text()
YAML = (EXAMPLES / "policy.yaml").read_text()


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_example_toml_policy_loads() -> None:
    policy = load_policy(EXAMPLES / "policy.toml")
    assert policy.policy_id == "example-desk/2026-11"
    assert policy.max_var_usd == Decimal(1_500_000)
    assert policy.position_limit_fixed("WBTC") == 50 * 10**8
    assert policy.trading_window is not None


def test_example_yaml_twin_loads_to_the_same_policy() -> None:
    assert load_policy(EXAMPLES / "policy.yaml") == load_policy(EXAMPLES / "policy.toml")


def test_fractional_numbers_are_read_exactly_from_the_text() -> None:
    # 22 significant digits: a binary float would keep about 17 of them.
    text = TOML.replace("max_var_usd = 1_500_000", "max_var_usd = 1500000.123456789012345")
    assert parse_policy(text, "toml").max_var_usd == Decimal("1500000.123456789012345")
    exact = TOML.replace("max_var_usd = 1_500_000", "max_var_usd = 0.1")
    assert parse_policy(exact, "toml").max_var_usd == Decimal("0.1")
    yaml_exact = YAML.replace("max_var_usd: 1500000", "max_var_usd: 0.1")
    assert parse_policy(yaml_exact, "yaml").max_var_usd == Decimal("0.1")


def test_toml_validation_error_names_the_field_and_its_line() -> None:
    text = TOML.replace("max_var_usd = 1_500_000", "max_var_usd = -3.5")
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "toml", "desk.toml")
    line = line_of(text, "max_var_usd")
    assert f"desk.toml:{line}: max_var_usd: Input should be greater than 0" in str(caught.value)
    assert caught.value.issues[0].line == line


def test_toml_error_inside_a_table_points_at_the_key_line() -> None:
    text = TOML.replace("WBTC = 50", "WBTC = 0")
    with pytest.raises(
        PolicyError, match=rf":{line_of(text, 'WBTC = 0')}: position_quantity_limits.WBTC"
    ):
        parse_policy(text, "toml", "desk.toml")


def test_yaml_validation_error_names_the_field_and_its_line() -> None:
    text = YAML.replace('end: "23:00"', "end: 23:00")
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "yaml", "desk.yaml")
    assert f"desk.yaml:{line_of(text, 'end: 23:00')}: trading_window.end" in str(caught.value)
    assert "quote it in YAML" in str(caught.value)


def test_unknown_and_missing_fields_are_each_reported() -> None:
    text = YAML.replace("max_slippage_bps: 50", "max_slipage_bps: 50")
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "yaml", "desk.yaml")
    rendered = str(caught.value)
    assert (
        f"desk.yaml:{line_of(text, 'max_slipage_bps')}: max_slipage_bps: unknown field" in rendered
    )
    assert "desk.yaml: max_slippage_bps: required field is missing" in rendered
    assert len(caught.value.issues) == 2


def test_toml_syntax_error_reports_its_line() -> None:
    with pytest.raises(PolicyError, match=r"bad\.toml:2: .*line 2"):
        parse_policy("policy_id = 'x'\nthis is not toml\n", "toml", "bad.toml")


def test_yaml_syntax_error_reports_its_line() -> None:
    with pytest.raises(PolicyError, match=r"bad\.yaml:2:"):
        parse_policy("policy_id: x\n  - broken: [\n", "yaml", "bad.yaml")


def test_policy_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(PolicyError, match="must be a mapping"):
        parse_policy("- 1\n- 2\n", "yaml")


def test_unsupported_file_extension_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text("{}")
    with pytest.raises(PolicyError, match="unsupported format"):
        load_policy(path)


def test_yaml_file_with_yml_extension_loads(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(YAML)
    assert load_policy(path).policy_id == "example-desk/2026-11"
