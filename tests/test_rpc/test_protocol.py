"""Envelope, error codes and framing, checked against the JSON-RPC 2.0 spec."""

from __future__ import annotations

import pytest

from bridge3d.rpc import errors
from bridge3d.rpc.protocol import decode_frame, encode_frame, parse_request


def test_standard_codes_match_the_specification() -> None:
    # JSON-RPC 2.0, section 5.1.
    assert errors.PARSE_ERROR == -32700
    assert errors.INVALID_REQUEST == -32600
    assert errors.METHOD_NOT_FOUND == -32601
    assert errors.INVALID_PARAMS == -32602
    assert errors.INTERNAL_ERROR == -32603


def test_application_codes_are_unique_and_in_the_server_error_range() -> None:
    app_codes = [
        errors.NOT_FOUND,
        errors.ALREADY_EXISTS,
        errors.UNAUTHORIZED,
        errors.BUSY,
        errors.USER_CODE_ERROR,
        errors.UNSUPPORTED,
        errors.CANCELLED,
    ]
    assert len(set(app_codes)) == len(app_codes)
    assert all(-32099 <= code <= -32000 for code in app_codes)


@pytest.mark.parametrize("error_class", [errors.InvalidParams, errors.NotFound, errors.UserCodeError, errors.Cancelled])
def test_errors_round_trip_through_dicts(error_class: type[errors.RpcError]) -> None:
    original = error_class("it went wrong", {"field": "size"})
    rebuilt = errors.RpcError.from_dict(original.to_dict())
    assert type(rebuilt) is error_class
    assert (rebuilt.code, rebuilt.message, rebuilt.data) == (original.code, "it went wrong", {"field": "size"})


def test_unknown_code_round_trips_as_plain_rpc_error() -> None:
    rebuilt = errors.RpcError.from_dict({"code": -32050, "message": "custom"})
    assert type(rebuilt) is errors.RpcError and rebuilt.code == -32050


def test_frames_are_one_compact_line() -> None:
    frame = encode_frame({"jsonrpc": "2.0", "result": {"a": [1, 2]}, "id": 1})
    assert frame == b'{"jsonrpc":"2.0","result":{"a":[1,2]},"id":1}\n'
    assert decode_frame(frame) == {"jsonrpc": "2.0", "result": {"a": [1, 2]}, "id": 1}


def test_a_result_that_is_not_json_becomes_an_internal_error() -> None:
    frame = encode_frame({"jsonrpc": "2.0", "result": float("nan"), "id": 7})
    message = decode_frame(frame)
    assert message["id"] == 7 and message["error"]["code"] == errors.INTERNAL_ERROR


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ([], "Batch"),
        ([{"jsonrpc": "2.0", "method": "a", "id": 1}], "Batch"),
        ("text", "object"),
        ({"method": "a", "id": 1}, "jsonrpc"),
        ({"jsonrpc": "2.0", "id": 1}, "method"),
        ({"jsonrpc": "2.0", "method": 5, "id": 1}, "method"),
        ({"jsonrpc": "2.0", "method": "a", "id": 1.5}, "id"),
        ({"jsonrpc": "2.0", "method": "a", "id": True}, "id"),
        ({"jsonrpc": "2.0", "method": "a", "params": [1, 2], "id": 1}, "Positional"),
        ({"jsonrpc": "2.0", "method": "a", "params": 3, "id": 1}, "params"),
    ],
)
def test_invalid_requests_are_rejected(message: object, reason: str) -> None:
    with pytest.raises(errors.InvalidRequest, match=reason):
        parse_request(message)


def test_notification_has_no_id() -> None:
    request = parse_request({"jsonrpc": "2.0", "method": "a"})
    assert request.is_notification and request.params == {}


def test_bad_bytes_are_a_parse_error() -> None:
    with pytest.raises(errors.ParseError):
        decode_frame(b"\xff\xfe\x00garbage")
    with pytest.raises(errors.ParseError):
        decode_frame(b'{"jsonrpc": "2.0", ')
