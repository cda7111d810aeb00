"""The Feishu adapter's parts: formatting, cards, event reading, post checks, sending errors."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import re
from collections.abc import Iterator
from html import escape
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lark_oapi.api.im.v1 import P2ImMessageReceiveV1
from lark_oapi.core.json import JSON

from bot.feishu.callback_server import Keys, Refused, check, signature
from bot.feishu.cards import OWNER, TEXT_LIMIT, message_for
from bot.feishu.markup import escape_markdown, to_card_markdown, to_post
from bot.feishu.received import locale_of, message_input
from bot.feishu.transport import FeishuTransport, Limits, build_client
from bot.reminders import DeliveryBlocked, DeliveryRetry
from bot.terminal import Screen, TerminalTransport
from dialogs.core.io import Button, InputKind, Outgoing
from tests.fake_feishu import FakeFeishu, SentMessage, encrypt, sign

KEYS = Keys("encrypt-key", "verify-token")


# ----- formatting ------------------------------------------------------------------------


def test_engine_html_becomes_card_markdown_with_the_users_text_escaped() -> None:
    html = "<b>Li *Lei*</b> said [x](y) &amp; <i>a_b</i>\n<code>/join abc</code>"
    assert to_card_markdown(html) == (
        "**Li &#42;Lei&#42;** said &#91;x&#93;&#40;y&#41; &amp; *a&#95;b*\n`/join abc`"
    )


@given(st.text(min_size=1, max_size=80))
def test_any_typed_text_reads_back_exactly_as_typed(typed: str) -> None:
    shown = SentMessage("om_1", "ou_1", "interactive", {"elements": [
        {"tag": "markdown", "content": to_card_markdown(f"<b>{escape(typed)}</b>")}]})  # fmt: skip
    assert shown.plain == typed or "\r" in typed  # (a lone CR is a line break in HTML)
    bare = re.sub(r"&#?\w+;", "", escape_markdown(typed))
    assert not set(bare) & set("*_~`[]()<>#|\\&")


def test_post_rich_text_is_structured_so_needs_no_escaping() -> None:
    post = to_post('Hi <b>Li *Lei*</b>\n<a href="https://example.com">docs</a>')
    assert post == {"zh_cn": {"title": "", "content": [
        [{"tag": "text", "text": "Hi "}, {"tag": "text", "text": "Li *Lei*", "style": ["bold"]}],
        [{"tag": "a", "text": "docs", "href": "https://example.com"}]]}}  # fmt: skip


def test_buttons_make_a_card_whose_values_name_the_person() -> None:
    outgoing = Outgoing("Pick one", buttons=[[Button("A", "v1:a"), Button("B", "v1:b")]])
    card = message_for("Pick one", outgoing, "ou_ana", buttons=True)
    assert card.msg_type == "interactive"
    body = json.loads(card.content)
    assert body["config"]["update_multi"] is True
    [row] = [element for element in body["elements"] if element["tag"] == "action"]
    assert [button["value"] for button in row["actions"]] == [
        {"data": "v1:a", OWNER: "ou_ana", "label": "A"},
        {"data": "v1:b", OWNER: "ou_ana", "label": "B"},
    ]
    assert message_for("Plain", Outgoing("Plain"), "ou_ana", buttons=True).msg_type == "post"
    assert len(json.dumps(body).encode()) < 30 * 1024 and TEXT_LIMIT * 5 < 30 * 1024


# ----- reading events --------------------------------------------------------------------


def test_the_sdks_message_event_reads_as_engine_input() -> None:
    fake = FakeFeishu()
    from tests.fake_feishu import FeishuUser

    event = fake.text_event(FeishuUser("ou_x", "X", "zh_CN"), "/visit 华信")
    parsed = JSON.unmarshal(json.dumps(event), P2ImMessageReceiveV1)
    message = parsed.event.message
    assert parsed.header.event_type == "im.message.receive_v1"
    assert locale_of(message.user_agent) == "zh-CN"
    incoming = message_input(message.message_type, message.content)
    assert (incoming.kind, incoming.command, incoming.text) == (InputKind.COMMAND, "visit", "华信")
    assert message_input("text", '{"text": "@_user_1 /help"}').command == "help"
    rich = {"zh_cn": {"title": "", "content": [[{"tag": "text", "text": "价格太高"}]]}}
    assert message_input("post", json.dumps(rich)).text == "价格太高"
    assert message_input("image", '{"image_key": "img_1"}').kind is InputKind.UNSUPPORTED
    assert message_input("text", "not json").text == ""
    assert locale_of("Mozilla/5.0 Chrome/120") is None


# ----- checking posts --------------------------------------------------------------------


def _post(event: dict[str, object], *, key: str = KEYS.encrypt_key) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"encrypt": encrypt(key, json.dumps(event).encode())}).encode()
    headers = {"x-lark-request-timestamp": "1700000000", "x-lark-request-nonce": "n1"}
    headers["x-lark-signature"] = sign("1700000000", "n1", KEYS.encrypt_key, body)
    return body, headers


EVENT = {"schema": "2.0", "header": {"event_id": "e1", "token": KEYS.verification_token,
         "event_type": "im.message.receive_v1"}, "event": {}}  # fmt: skip


def test_a_genuine_post_is_decrypted() -> None:
    body, headers = _post(EVENT)
    assert check(body, headers, KEYS, now=1700000000 + 60) == EVENT
    assert (
        signature("1700000000", "n1", KEYS.encrypt_key, body)
        == hashlib.sha256(b"1700000000n1" + KEYS.encrypt_key.encode() + body).hexdigest()
    )


@pytest.mark.parametrize("problem", ["signature", "token", "key", "plain", "not json", "old"])
def test_posts_not_from_feishu_are_refused(problem: str) -> None:
    body, headers = _post(EVENT)
    if problem == "signature":
        headers["x-lark-signature"] = "0" * 64
    elif problem == "token":
        body, headers = _post({**EVENT, "header": {"token": "forged", "event_id": "e2"}})
    elif problem == "key":
        body, headers = _post(EVENT, key="another-key")
    elif problem == "plain":
        body = json.dumps(EVENT).encode()
    else:
        body = b"<html>"
    now = 1700000000 + (3601 if problem == "old" else 0)
    with pytest.raises(Refused) as refused:
        check(body, headers, KEYS, now=now)
    assert refused.value.status in (400, 401)


def test_the_url_challenge_needs_the_token_but_no_signature() -> None:
    challenge = {"type": "url_verification", "challenge": "c1", "token": KEYS.verification_token}
    body, _ = _post(challenge)
    assert check(body, {}, KEYS)["challenge"] == "c1"
    body, _ = _post({**challenge, "token": "forged"})
    with pytest.raises(Refused):
        check(body, {}, KEYS)


# ----- sending errors --------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeFeishu]:
    with FakeFeishu() as server:
        yield server


def test_sending_errors_come_out_as_the_dispatchers_kinds(fake: FakeFeishu) -> None:
    from tests.fake_feishu import FeishuUser

    transport = FeishuTransport(build_client(fake.app_id, fake.app_secret, fake.base_url), Limits())

    async def scenario() -> None:
        fake.fail_next(1, reset=0)
        await transport.send("ou_a", Outgoing("after one 429"))  # waited out, then sent
        fake.fail_next(5, reset=0)
        with pytest.raises(DeliveryRetry):
            await transport.send("ou_a", Outgoing("still limited"))
        fake.remove_bot(FeishuUser("ou_gone", "Gone"))
        with pytest.raises(DeliveryBlocked):
            await transport.send("ou_gone", Outgoing("hello?"))
        await transport.send_file("ou_a", "report.csv", b"a,b\n1,2\n")

    asyncio.run(scenario())
    sent = fake.messages_to("ou_a")
    assert [message.msg_type for message in sent] == ["post", "file"]
    assert sent[1].upload == b"a,b\n1,2\n"


def test_the_terminal_is_a_transport_too() -> None:
    out = io.StringIO()
    terminal = TerminalTransport(Screen(), out)
    asyncio.run(terminal.send("me", Outgoing("<b>Hello</b> &amp; welcome")))
    asyncio.run(terminal.answer_button("press-1", "That button is spent"))
    assert asyncio.run(terminal.edit("me", "1", Outgoing("x"))) is False
    assert out.getvalue() == "Hello & welcome\n\nThat button is spent\n"


# ----- starting ------------------------------------------------------------------------


def test_missing_settings_are_explained_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)  # no .env here
    for name in ("APP_ID", "APP_SECRET", "ENCRYPT_KEY", "VERIFICATION_TOKEN"):
        monkeypatch.delenv(f"SALESCOACH_FEISHU_{name}", raising=False)
    monkeypatch.setenv("SALESCOACH_DATABASE_URL", f"sqlite:///{tmp_path / 'never.db'}")
    assert main(["run", "--platform", "feishu"]) == 2
    assert "SALESCOACH_FEISHU_APP_ID" in capsys.readouterr().err
    monkeypatch.setenv("SALESCOACH_FEISHU_APP_ID", "cli_1")
    monkeypatch.setenv("SALESCOACH_FEISHU_APP_SECRET", "secret")
    assert main(["run", "--platform", "feishu", "--webhook"]) == 2
    assert "SALESCOACH_FEISHU_ENCRYPT_KEY" in capsys.readouterr().err
    assert not (tmp_path / "never.db").exists()


def test_feishu_speaks_chinese_and_lark_english_until_the_client_says() -> None:
    from bot.feishu.run import applink, default_language
    from bot.settings import Settings

    feishu = Settings(SALESCOACH_FEISHU_DOMAIN="https://open.feishu.cn")
    lark = Settings(SALESCOACH_FEISHU_DOMAIN="https://open.larksuite.com")
    assert (default_language(feishu), default_language(lark)) == ("zh", None)
    assert applink(lark, "cli_1") == "https://applink.larksuite.com/client/bot/open?appId=cli_1"
    assert applink(feishu, "cli_1").startswith("https://applink.feishu.cn/")


def test_the_tenant_token_is_fetched_ahead_so_sends_never_wait_for_it(fake: FakeFeishu) -> None:
    transport = FeishuTransport(build_client(fake.app_id, fake.app_secret, fake.base_url), Limits())
    token_path = "/open-apis/auth/v3/tenant_access_token/internal"
    transport.warm_token()
    assert fake.calls.count(("POST", token_path)) == 1
    asyncio.run(transport.send("ou_a", Outgoing("hello")))
    assert fake.calls.count(("POST", token_path)) == 1  # the send found it cached
    assert [message.text for message in fake.messages_to("ou_a")] == ["hello"]
