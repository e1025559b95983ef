"""Clarion's webhooks as a Python backend receives them: every request is
checked with the official SDK's `validate_webhook` (key, HMAC signature of
the body), and a presence join and leave arrive as Pusher's four events."""

import http.server
import queue
import threading

import pusher
import pytest

from conftest import APP_ID, KEY, SECRET, WAIT, Socket, start_clarion


@pytest.fixture(scope="module")
def hooks():
    """A receiver on a free loopback port; yields (url, queue of requests)."""
    received = queue.Queue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            # Header names are matched case-insensitively, as HTTP says.
            received.put((self.headers, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/pusher/webhook", received
    httpd.shutdown()


@pytest.fixture(scope="module")
def hooked_server(hooks):
    url, _ = hooks
    proc, address = start_clarion(
        {
            "REVERB_APP_ID": APP_ID,
            "REVERB_APP_KEY": KEY,
            "REVERB_APP_SECRET": SECRET,
            "CLARION_WEBHOOK_URL": url,
            "CLARION_WEBHOOKS_BATCH_WAIT_MS": "50",
        }
    )
    yield address
    proc.terminate()
    proc.wait(10)


def events(hooks, count, client):
    """The next `count` events, each request validated by the SDK."""
    _, received = hooks
    out = []
    while len(out) < count:
        headers, body = received.get(timeout=WAIT)
        assert headers["Content-Type"] == "application/json"
        webhook = client.validate_webhook(
            headers["X-Pusher-Key"], headers["X-Pusher-Signature"], body
        )
        assert webhook is not None, "the SDK refuses the request"
        assert client.validate_webhook(KEY, headers["X-Pusher-Signature"], body + " ") is None
        out.extend(webhook["events"])
    return out


def test_presence_join_and_leave_validate_with_the_python_sdk(hooks, hooked_server):
    client = pusher.Pusher(
        app_id=APP_ID,
        key=KEY,
        secret=SECRET,
        host=hooked_server["host"],
        port=hooked_server["port"],
        ssl=False,
    )
    sock = Socket(hooked_server)
    channel = "presence-py-hooks"
    auth = client.authenticate(channel, sock.socket_id, {"user_id": "py-1"})
    sock.subscribe(channel, auth["auth"], auth["channel_data"])
    joined = events(hooks, 2, client)
    assert [(e["name"], e.get("user_id")) for e in joined] == [
        ("channel_occupied", None),
        ("member_added", "py-1"),
    ]
    sock.close()
    left = events(hooks, 2, client)
    assert [e["name"] for e in left] == ["member_removed", "channel_vacated"]
    assert len({e["id"] for e in joined + left}) == 4
