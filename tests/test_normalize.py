from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.normalize import (
    RecordError,
    clean_text,
    message_text,
    normalize_openai_chat,
    to_utc,
)
from tests.conftest import chat_record

OCT5 = datetime(2026, 10, 5, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-10-05T10:00:00Z", OCT5),
        ("2026-10-05T12:00:00+02:00", OCT5),
        ("2026-10-05 10:00:00", OCT5),
        (1791194400, datetime(2026, 10, 5, 10, 0, tzinfo=UTC)),
        (1791194400.0, datetime(2026, 10, 5, 10, 0, tzinfo=UTC)),
        (1791194400000, datetime(2026, 10, 5, 10, 0, tzinfo=UTC)),
        (1791194400000000000, datetime(2026, 10, 5, 10, 0, tzinfo=UTC)),
        ("1791194400", datetime(2026, 10, 5, 10, 0, tzinfo=UTC)),
    ],
)
def test_timestamps(value: object, expected: datetime) -> None:
    assert to_utc(value) == expected


@pytest.mark.parametrize(
    "value",
    # 10**2200: an int no float can hold (found by `make fuzz`: OverflowError, not RecordError)
    [None, "yesterday", True, {"t": 1}, 1e30, 10**2200, "9" * 2200, float("inf")],
)
def test_bad_timestamps(value: object) -> None:
    with pytest.raises(RecordError):
        to_utc(value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("plain", "plain"),
        ([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "a\nb"),
        ([{"type": "image_url", "image_url": {"url": "data:,"}}], ""),
        (None, None),
    ],
)
def test_message_text(content: object, expected: str | None) -> None:
    assert message_text(content) == expected


def test_clean_text_removes_control_characters_and_normalizes() -> None:
    assert clean_text("a\x00b\u0065\u0301") == "a b\u00e9"


def test_openai_chat_record() -> None:
    rec = normalize_openai_chat(
        chat_record("chatcmpl-1", "Hello there", account_type="personal"),
        source_format="openai-chat",
    )
    assert rec.event_id == "chatcmpl-1"
    assert rec.occurred_at == OCT5
    assert (rec.user_id, rec.user_email) == ("u00001", "ann.lee@northbridge-bank.example")
    assert (rec.tool, rec.model, rec.workflow) == (
        "chatgpt-enterprise",
        "gpt-4o-2024-08-06",
        "internal_drafting",
    )
    assert (rec.prompt_text, rec.output_text) == ("Hello there", "Here is a draft.")
    assert (rec.input_tokens, rec.output_tokens, rec.history_turns) == (12, 30, 1)
    assert rec.content_status == "present"
    assert rec.attributes["account_type"] == "personal"


def test_prompt_is_the_last_user_message() -> None:
    obj = chat_record("c", "first")
    obj["request"]["messages"] += [
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": "second"},
    ]
    rec = normalize_openai_chat(obj, source_format="openai-chat")
    assert rec.prompt_text == "second"
    assert rec.history_turns == 3


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda o: o.pop("request"), "request"),
        (lambda o: o["request"].update(messages=[]), "messages"),
        (lambda o: o.pop("user"), "identity"),
        (lambda o: o["response"].pop("id"), "event id"),
        (lambda o: o.update(timestamp="soon"), "timestamp"),
        (lambda o: o["response"]["usage"].update(prompt_tokens="many"), "token"),
    ],
)
def test_bad_records_say_why_without_content(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    obj = chat_record("c", "SECRET-PROMPT-TEXT")
    mutate(obj)
    with pytest.raises(RecordError) as info:
        normalize_openai_chat(obj, source_format="openai-chat")
    assert message in str(info.value)
    assert "SECRET-PROMPT-TEXT" not in str(info.value)


def test_empty_prompt_is_kept_and_flagged() -> None:
    rec = normalize_openai_chat(chat_record("c", ""), source_format="openai-chat")
    assert rec.prompt_text == ""
    assert rec.attributes["empty_prompt"] is True


def test_missing_user_message_means_content_not_stored() -> None:
    rec = normalize_openai_chat(chat_record("c", None), source_format="openai-chat")
    assert rec.prompt_text is None
    assert rec.content_status == "not_stored"


@given(st.text())
def test_any_prompt_text_normalizes(text: str) -> None:
    rec = normalize_openai_chat(chat_record("c", text), source_format="openai-chat")
    assert rec.prompt_text is not None
    assert "\x00" not in rec.prompt_text


def test_lone_surrogates_become_replacement_characters() -> None:
    assert clean_text("a\ud800b") == "a\ufffdb"
