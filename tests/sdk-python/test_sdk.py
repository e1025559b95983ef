"""Every call of the official Python `pusher` SDK (3.3.4) against Clarion,
as a Python backend would make them: the development app's numeric id,
signed GETs (the SDK signs the empty body's md5), and terminate without
`/apps/{id}`."""

import json

import pusher
import pytest
import websocket

from conftest import APP_ID, KEY, SECRET


def test_the_development_app_id_is_accepted_by_the_sdk():
    pusher.Pusher(app_id=APP_ID, key=KEY, secret=SECRET)


def test_trigger_reaches_a_subscriber_and_skips_the_excluded_socket(sdk, connect):
    a, b = connect(), connect()
    a.subscribe("orders")
    b.subscribe("orders")
    assert sdk.trigger("orders", "order.shipped", {"id": 7}, socket_id=b.socket_id) == {}
    got = a.expect("order.shipped")
    assert got["channel"] == "orders"
    assert json.loads(got["data"]) == {"id": 7}
    sdk.trigger(["orders"], "second", "plain")
    assert b.expect("second")["data"] == "plain", "b skipped the first event only"


def test_trigger_batch_delivers_each_event(sdk, connect):
    s = connect()
    s.subscribe("batch-a")
    s.subscribe("batch-b")
    sdk.trigger_batch(
        [
            {"channel": "batch-a", "name": "one", "data": {"n": 1}},
            {"channel": "batch-b", "name": "two", "data": {"n": 2}},
        ]
    )
    assert json.loads(s.expect("one")["data"]) == {"n": 1}
    assert json.loads(s.expect("two")["data"]) == {"n": 2}


def test_channel_queries_are_signed_gets(sdk, connect):
    s = connect()
    s.subscribe("status-1")
    info = sdk.channels_info(prefix_filter="status-", attributes=["subscription_count"])
    assert info == {"channels": {"status-1": {"subscription_count": 1}}}
    one = sdk.channel_info("status-1", attributes=["subscription_count"])
    assert one == {"occupied": True, "subscription_count": 1}
    assert sdk.channel_info("status-none") == {"occupied": False}


def test_private_and_presence_auth_from_the_sdk_is_accepted(sdk, connect):
    s = connect()
    private = sdk.authenticate("private-security-dashboard", s.socket_id)
    s.subscribe("private-security-dashboard", auth=private["auth"])
    member = {"user_id": "42", "user_info": {"name": "Ann"}}
    presence = sdk.authenticate("presence-room", s.socket_id, member)
    ack = s.subscribe("presence-room", auth=presence["auth"], channel_data=presence["channel_data"])
    roster = json.loads(ack["data"])["presence"]
    assert roster["ids"] == ["42"] and roster["hash"]["42"] == {"name": "Ann"}
    assert sdk.users_info("presence-room") == {"users": [{"id": "42"}]}


def test_sign_in_send_to_user_and_terminate(sdk, connect):
    s, other = connect(), connect()
    signed = sdk.authenticate_user(s.socket_id, {"id": "7", "name": "Bo"})
    s.send("pusher:signin", {"auth": signed["auth"], "user_data": signed["user_data"]})
    s.expect("pusher:signin_success")
    # pusher-js does this itself after signin_success.
    s.subscribe("#server-to-user-7")
    other.subscribe("bystanders")
    sdk.send_to_user("7", "direct", {"hello": "Bo"})
    assert json.loads(s.expect("direct")["data"]) == {"hello": "Bo"}
    assert sdk.terminate_user_connections("7") == {}
    error = s.expect("pusher:error")["data"]
    if isinstance(error, str):
        error = json.loads(error)
    assert error["code"] == 4009
    opcode, payload = s.ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(payload[:2], "big") == 4009, "closed with the same code"
    sdk.trigger("bystanders", "still-here", {})
    other.expect("still-here")


def test_a_wrong_secret_is_refused(server):
    wrong = pusher.Pusher(
        app_id=APP_ID, key=KEY, secret="not-the-secret",
        host=server["host"], port=server["port"], ssl=False,
    )
    with pytest.raises(pusher.errors.PusherBadAuth):
        wrong.trigger("orders", "nope", {})
    with pytest.raises(pusher.errors.PusherBadAuth):
        wrong.channels_info()
