"""The ZAP handler: real CURVE handshakes over loopback served from one poll loop, and the replies
to malformed requests."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from structlog.testing import capture_logs
from zmq.utils import z85

from carbonx.config import load_config
from gateway.access import MemberAccess
from gateway.errors import GatewayError
from gateway.keys import generate_keys, load_member_secret, load_server_secret
from gateway.zap import ZAP_ENDPOINT, ZapHandler, access_domains

ROOT = Path(__file__).resolve().parent.parent
Context = zmq.Context[zmq.Socket[bytes]]


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config_dir = tmp_path_factory.mktemp("zap") / "config"
    shutil.copytree(ROOT / "config", config_dir, ignore=shutil.ignore_patterns("*.key", "*.key_secret"))
    generate_keys(config_dir, config_dir / "keys")
    return config_dir / "keys"


@pytest.fixture(scope="module")
def domains(keys_dir: Path) -> dict[str, dict[bytes, str]]:
    return access_domains(load_config(keys_dir.parent).access)


@pytest.fixture
def context() -> Iterator[Context]:
    context: Context = zmq.Context()
    yield context
    context.destroy(linger=0)


class Node:
    """A CURVE ROUTER server and the ZAP handler in one context, served by one poll loop like the node's."""

    def __init__(self, context: Context, keys_dir: Path, domains: dict[str, dict[bytes, str]], domain: str) -> None:
        self.handler = ZapHandler(domains)
        self.zap = self.handler.bind(context)  # before the CURVE socket, as the node does
        self.server_public, secret = load_server_secret(keys_dir)
        self.server = context.socket(zmq.ROUTER)
        self.server.linger = 0
        self.server.curve_server = True
        self.server.curve_secretkey = secret
        self.server.zap_domain = domain.encode()
        self.server.bind("tcp://127.0.0.1:*")
        self.endpoint = self.server.last_endpoint.decode()

    def client(self, context: Context, public: bytes, secret: bytes) -> zmq.Socket[bytes]:
        client = context.socket(zmq.DEALER)
        client.linger = 0
        client.curve_serverkey = self.server_public
        client.curve_publickey = public
        client.curve_secretkey = secret
        client.connect(self.endpoint)
        return client

    def receive(self, timeout_ms: int, until_refused: bool = False) -> list[zmq.Frame] | None:
        """Serve ZAP requests until a frame reaches the server or the time is up (or, with
        ``until_refused``, until the handler has refused a connection)."""
        poller = zmq.Poller()
        poller.register(self.zap, zmq.POLLIN)
        poller.register(self.server, zmq.POLLIN)
        deadline = time.monotonic() + timeout_ms / 1000
        while (left_ms := (deadline - time.monotonic()) * 1000) > 0:
            ready = dict(poller.poll(left_ms))
            if self.zap in ready:
                self.handler.serve_one(self.zap)
            if self.server in ready:
                return self.server.recv_multipart(copy=False)
            if until_refused and self.handler.refusals:
                return None
        return None


def test_a_member_key_gets_through_with_its_member_id(
    context: Context, keys_dir: Path, domains: dict[str, dict[bytes, str]]
) -> None:
    node = Node(context, keys_dir, domains, "gateway")
    client = node.client(context, *load_member_secret(keys_dir, "M001"))
    client.send(b"logon")

    frames = node.receive(timeout_ms=5_000)

    assert frames is not None
    assert frames[-1].bytes == b"logon"
    assert frames[-1].get("User-Id") == "M001"
    assert frames[-1].get("X-Connection") == "1"  # every frame says which connection it came on
    assert node.handler.refusals == 0


def test_an_unknown_key_never_gets_a_frame_through(
    context: Context, keys_dir: Path, domains: dict[str, dict[bytes, str]]
) -> None:
    node = Node(context, keys_dir, domains, "gateway")
    stranger_public, stranger_secret = zmq.curve_keypair()
    client = node.client(context, stranger_public, stranger_secret)
    client.send(b"logon")

    with capture_logs() as logs:
        refused = node.receive(timeout_ms=5_000, until_refused=True)
        frames = node.receive(timeout_ms=300)

    assert refused is None and frames is None
    assert node.handler.refusals >= 1
    logged = [log for log in logs if log["event"] == "gateway.key_refused"]
    assert len(logged) == 1  # once, however often the client reconnects
    assert logged[0]["domain"] == "gateway"
    assert logged[0]["public_key"] == stranger_public.decode()
    assert logged[0]["address"] == "127.0.0.1"
    assert logged[0]["reason"] == "unknown key"


def test_the_drop_copy_refuses_a_member_key_and_admits_surveillance(
    context: Context, keys_dir: Path, domains: dict[str, dict[bytes, str]]
) -> None:
    node = Node(context, keys_dir, domains, "dropcopy")
    member_public, member_secret = load_member_secret(keys_dir, "M001")
    member = node.client(context, member_public, member_secret)  # kept: a dropped socket is closed
    member.send(b"member")

    with capture_logs() as logs:
        assert node.receive(timeout_ms=5_000, until_refused=True) is None
        assert node.receive(timeout_ms=300) is None
    assert [(log["domain"], log["public_key"]) for log in logs if log["event"] == "gateway.key_refused"] == [
        ("dropcopy", member_public.decode())
    ]

    surveillance = node.client(context, *load_member_secret(keys_dir, "EXCHANGE"))
    surveillance.send(b"surveillance")
    frames = node.receive(timeout_ms=5_000)
    assert frames is not None
    assert (frames[-1].bytes, frames[-1].get("User-Id")) == (b"surveillance", "EXCHANGE")


def test_access_domains_follow_keys_and_roles() -> None:
    def member(member: str, role: str, key: str) -> MemberAccess:
        return MemberAccess(member=member, role=role, public_key=key, accounts=[])  # type: ignore[arg-type]

    keys = [z85.encode(bytes([n]) * 32).decode() for n in range(4)]
    domains = access_domains(
        [
            member("M1", "member", keys[0]),
            member("NOKEY", "member", ""),
            member("EXCH", "surveillance", keys[1]),
            member("REGU", "regulator", keys[2]),
        ]
    )
    assert domains == {
        "gateway": {keys[0].encode(): "M1", keys[1].encode(): "EXCH", keys[2].encode(): "REGU"},
        "dropcopy": {keys[1].encode(): "EXCH"},
    }


# ---------------------------------------------------------------------------------- handle() alone

KEY = bytes(range(32))
KEY_Z85 = z85.encode(KEY)
OTHER = bytes(range(1, 33))
CONNECTION_1 = b"\x0cX-Connection\x00\x00\x00\x011"  # ZAP metadata: the first connection admitted


def request(*, version: bytes = b"1.0", domain: bytes = b"gateway", mechanism: bytes = b"CURVE", creds=(KEY,)):  # type: ignore[no-untyped-def]
    return [version, b"17", domain, b"10.0.0.9", b"", mechanism, *creds]


@pytest.fixture
def handler() -> ZapHandler:
    return ZapHandler({"gateway": {KEY_Z85: "M001"}, "dropcopy": {}})


def test_handle_accepts_a_known_key_and_numbers_its_connection(handler: ZapHandler) -> None:
    first, second = handler.handle(request()), handler.handle(request())

    # The number is ZAP metadata (ZMTP property: name length, name, value length, value).
    assert first == [b"1.0", b"17", b"200", b"OK", b"M001", CONNECTION_1]
    assert second[5] == b"\x0cX-Connection\x00\x00\x00\x012"


@pytest.mark.parametrize(
    ("frames", "text"),
    [
        (request(version=b"2.0"), b"unsupported ZAP version"),
        ([b"1.0", b"17"], b"malformed ZAP request"),
        ([b"1.0", b"17", b"gateway", b"10.0.0.9", b""], b"malformed ZAP request"),
        (request(creds=()), b"malformed CURVE credentials"),
        (request(creds=(KEY, KEY)), b"malformed CURVE credentials"),
        (request(creds=(KEY[:31],)), b"malformed CURVE credentials"),
    ],
)
def test_handle_answers_a_malformed_request_with_500(handler: ZapHandler, frames: list[bytes], text: bytes) -> None:
    with capture_logs() as logs:
        assert handler.handle(frames) == [b"1.0", b"17", b"500", text, b"", b""]
    assert [(log["event"], log["problem"]) for log in logs] == [("gateway.zap_malformed", text.decode())]


@pytest.mark.parametrize("frames", [[], [b"1.0"]])
def test_handle_drops_a_request_without_a_request_id(handler: ZapHandler, frames: list[bytes]) -> None:
    with capture_logs() as logs:
        assert handler.handle(frames) == []
    assert [(log["event"], log["problem"]) for log in logs] == [("gateway.zap_malformed", "no request id")]


@pytest.mark.parametrize(
    ("frames", "reason", "domain", "public_key"),
    [
        (request(creds=(OTHER,)), b"unknown key", "gateway", z85.encode(OTHER).decode()),
        (request(domain=b"dropcopy"), b"unknown key", "dropcopy", KEY_Z85.decode()),
        (request(domain=b"market"), b"unknown domain", "market", KEY_Z85.decode()),
        (request(mechanism=b"PLAIN", creds=(b"user", b"password")), b"CURVE only", "gateway", ""),
        (request(mechanism=b"NULL", creds=()), b"CURVE only", "gateway", ""),
    ],
)
def test_handle_refuses_with_400_and_logs(
    handler: ZapHandler, frames: list[bytes], reason: bytes, domain: str, public_key: str
) -> None:
    with capture_logs() as logs:
        assert handler.handle(frames) == [b"1.0", b"17", b"400", reason, b"", b""]
    assert logs == [
        {
            "event": "gateway.key_refused",
            "log_level": "warning",
            "reason": reason.decode(),
            "domain": domain,
            "address": "10.0.0.9",
            "public_key": public_key,
        }
    ]


def test_each_refusal_is_logged_once(handler: ZapHandler) -> None:
    with capture_logs() as logs:
        for _ in range(3):
            handler.handle(request(creds=(OTHER,)))
        handler.handle(request(creds=(OTHER,), domain=b"dropcopy"))
    assert handler.refusals == 4
    assert [log["domain"] for log in logs] == ["gateway", "dropcopy"]


def test_handle_never_raises(handler: ZapHandler) -> None:
    broken = [b"1.0", b"17", None, b"", b"", b"CURVE", KEY]  # not bytes: a bug upstream
    with capture_logs() as logs:
        assert handler.handle(broken) == [b"1.0", b"17", b"500", b"internal error", b"", b""]  # type: ignore[arg-type]
    assert [log["event"] for log in logs] == ["gateway.zap_failed"]


# -------------------------------------------------------------------------- the handler's socket


def test_serve_one_speaks_the_req_rep_envelope(context: Context, handler: ZapHandler) -> None:
    zap = handler.bind(context)
    handler.serve_one(zap)  # nothing waiting: returns at once
    requester = context.socket(zmq.REQ)
    requester.connect(ZAP_ENDPOINT)
    requester.send_multipart(request())
    assert zap.poll(1_000)
    handler.serve_one(zap)
    assert requester.poll(1_000)
    assert requester.recv_multipart() == [b"1.0", b"17", b"200", b"OK", b"M001", CONNECTION_1]


def test_serve_one_drops_what_it_cannot_answer(context: Context, handler: ZapHandler) -> None:
    zap = handler.bind(context)
    dealer = context.socket(zmq.DEALER)
    dealer.connect(ZAP_ENDPOINT)
    with capture_logs() as logs:
        dealer.send_multipart([b"no envelope"])  # no empty delimiter frame
        dealer.send_multipart([b"", b"1.0"])  # no request id
        dealer.send_multipart([b"", *request()])
        for _ in range(3):
            assert zap.poll(1_000)
            handler.serve_one(zap)
    assert [log["problem"] for log in logs] == ["no envelope", "no request id"]
    assert dealer.poll(1_000)
    assert dealer.recv_multipart() == [b"", b"1.0", b"17", b"200", b"OK", b"M001", CONNECTION_1]  # the only reply
    assert not dealer.poll(50)


def test_a_second_handler_in_one_context_is_refused(context: Context, handler: ZapHandler) -> None:
    first = handler.bind(context)
    with pytest.raises(GatewayError) as error:
        ZapHandler({}).bind(context)
    assert not first.closed
    assert ZAP_ENDPOINT in str(error.value) and "\n" not in str(error.value)
