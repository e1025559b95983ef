"""A Clarion process per test module, serving the development app
(1000 / app-key / app-secret) on a free loopback port, and small WebSocket
clients that wait for frames with a timeout."""

import json
import os
import re
import subprocess
import threading

import pusher
import pytest
import websocket

APP_ID, KEY, SECRET = "1000", "app-key", "app-secret"
WAIT = 5.0


def start_clarion(extra_env=None):
    """Starts the binary on a free loopback port; returns (process, address)."""
    binary = os.environ.get("CLARION_BIN")
    assert binary, "set CLARION_BIN to the clarion binary (scripts/test.sh does)"
    # No drain pause or spread: the server stops at once after the module.
    env = {
        "PATH": os.environ.get("PATH", ""),
        "RUST_LOG": "info",
        "CLARION_DRAIN_PAUSE": "0",
        "CLARION_DRAIN_SPREAD": "0",
        **(extra_env or {}),
    }
    proc = subprocess.Popen(
        [binary, "--host", "127.0.0.1", "--port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    found = threading.Event()
    address = {}

    def read_log():
        for line in proc.stderr:
            m = re.search(r"listening on (\S+)", line)
            if m and not found.is_set():
                address["addr"] = m.group(1)
                found.set()

    threading.Thread(target=read_log, daemon=True).start()
    assert found.wait(10), "clarion did not start"
    host, port = address["addr"].rsplit(":", 1)
    return proc, {"host": host, "port": int(port)}


@pytest.fixture(scope="module")
def server():
    proc, address = start_clarion()
    yield address
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def sdk(server):
    return pusher.Pusher(
        app_id=APP_ID,
        key=KEY,
        secret=SECRET,
        host=server["host"],
        port=server["port"],
        ssl=False,
    )


class Socket:
    """One Pusher protocol 7 WebSocket connection."""

    def __init__(self, server):
        url = f"ws://{server['host']}:{server['port']}/app/{KEY}?protocol=7&client=py"
        self.ws = websocket.create_connection(url, timeout=WAIT)
        hello = self.expect("pusher:connection_established")
        self.socket_id = json.loads(hello["data"])["socket_id"]

    def send(self, event, data):
        self.ws.send(json.dumps({"event": event, "data": data}))

    def frame(self):
        return json.loads(self.ws.recv())

    def expect(self, event):
        """The next frame that is `event`, skipping pings; fails after WAIT."""
        while True:
            f = self.frame()
            if f.get("event") == "pusher:ping":
                self.send("pusher:pong", {})
                continue
            assert f.get("event") == event, f
            return f

    def subscribe(self, channel, auth=None, channel_data=None):
        data = {"channel": channel}
        if auth is not None:
            data["auth"] = auth
        if channel_data is not None:
            data["channel_data"] = channel_data
        self.send("pusher:subscribe", data)
        return self.expect("pusher_internal:subscription_succeeded")

    def close(self):
        self.ws.close()


@pytest.fixture
def connect(server):
    sockets = []

    def make():
        s = Socket(server)
        sockets.append(s)
        return s

    yield make
    for s in sockets:
        try:
            s.close()
        except Exception:
            pass
