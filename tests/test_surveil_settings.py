"""config/surveillance.toml: the shipped file states the defaults; overrides per instrument; one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from surveillance.settings import (
    SETTINGS_FILE,
    RuleParams,
    SpoofingParams,
    SurveillanceError,
    SurveillanceSettings,
    load_settings,
    parameters,
)

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / SETTINGS_FILE).write_text(text, encoding="utf-8")
    return tmp_path


def test_the_shipped_file_states_every_default() -> None:
    shipped = (REPO / "config" / SETTINGS_FILE).read_text(encoding="utf-8")

    assert load_settings(REPO / "config") == SurveillanceSettings()
    for family in RuleParams.__struct_fields__:
        assert f"[{family}]" in shipped
        for key in getattr(RuleParams(), family).__struct_fields__:
            assert f"\n{key} = " in shipped, f"{family}.{key} is not in config/{SETTINGS_FILE}"


def test_a_missing_file_means_the_defaults(tmp_path: Path) -> None:
    assert load_settings(tmp_path) == SurveillanceSettings()


def test_an_instrument_overrides_only_what_it_names(tmp_path: Path) -> None:
    settings = load_settings(
        write(tmp_path, "[spoofing]\nsize_multiple = 12\n\n[instrument.CCER.spoofing]\ncancel_within_s = 10\n")
    )

    assert settings.for_instrument("SHEA2025").spoofing == SpoofingParams(size_multiple=12)
    assert settings.for_instrument("CCER").spoofing == SpoofingParams(size_multiple=12, cancel_within_s=10)
    assert settings.for_instrument("CCER").wash == settings.rules.wash


def test_an_alert_records_the_parameters_without_enabled() -> None:
    recorded = parameters(SpoofingParams())
    assert "enabled" not in recorded and recorded["size_multiple"] == 10 and recorded["cancel_within_s"] == 30


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[wash]\nround_trip_window = 5\n", "wash.round_trip_window: unknown key"),
        ("[washing]\nenabled = false\n", "washing: unknown rule family"),
        ("[wash]\nmin_quantity_t = \"10\"\n", "wash.min_quantity_t: Expected `int`, got `str`"),
        ("[spoofing]\naway_ticks = -1\n", "spoofing.away_ticks: must not be negative, got -1"),
        ("[circular]\nmin_accounts = 2\n", "circular: need 3 <= min_accounts <= max_accounts"),
        ("[spoofing]\nsize_multiple = 0\n", "spoofing: size_multiple and min_orders must be >= 1"),
        ("[instrument.CCER.washing]\nenabled = false\n", "instrument.CCER.washing: unknown rule family"),
        ("[instrument.CCER.wash]\nmin_quantity_t = -5\n", "instrument.CCER.wash.min_quantity_t: must not be negative"),
        ("[wash\n", "Expected ']' at the end of a table declaration"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_file_and_the_key(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(SurveillanceError) as error:
        load_settings(write(tmp_path, text))

    message = str(error.value)
    assert message.startswith(f"{tmp_path / SETTINGS_FILE}: ") and "\n" not in message
    assert problem in message
