"""Seed 002's mobile client, in Python with `pysher` (a Pusher protocol
client, standing in for Flutter's pusher_client): it connects through the
balancer, authorises `private-security-dashboard` at /broadcasting/auth
with the guard's bearer token — Clarion's built-in endpoint — and prints
every panic alert as one JSON line.

    python mobile.py                 # until interrupted
    python mobile.py --count 2       # exit after two events (tests)

Environment: BALANCER_HOST (127.0.0.1), BALANCER_PORT (8080), CLARION_KEY
(app-key), BACKEND (http://127.0.0.1:3002: where the token comes from).
"""

import json
import os
import sys
import threading
import urllib.request

import pysher

host = os.environ.get("BALANCER_HOST", "127.0.0.1")
port = int(os.environ.get("BALANCER_PORT", "8080"))
backend = os.environ.get("BACKEND", "http://127.0.0.1:3002")
count = int(sys.argv[sys.argv.index("--count") + 1]) if "--count" in sys.argv else None

with urllib.request.urlopen(f"{backend}/api/session", timeout=10) as res:
    token = json.load(res)["token"]

done = threading.Event()
seen = 0
lock = threading.Lock()


def on_alert(event):
    def handler(data):
        global seen
        print(json.dumps({"event": event, "data": json.loads(data)}), flush=True)
        with lock:
            seen += 1
            if count is not None and seen >= count:
                done.set()

    return handler


client = pysher.Pusher(
    os.environ.get("CLARION_KEY", "app-key"),
    custom_host=host,
    port=port,
    secure=False,
    auth_endpoint=f"http://{host}:{port}/broadcasting/auth",
    auth_endpoint_headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    reconnect_interval=1,
)


def connected(_data):
    channel = client.subscribe("private-security-dashboard")
    for event in ("panic-alert.triggered", "panic-alert.updated"):
        channel.bind(event, on_alert(event))
    channel.bind("pusher_internal:subscription_succeeded", lambda _d: print('{"subscribed": true}', flush=True))


client.connection.bind("pusher:connection_established", connected)
client.connect()
# pysher's threads are daemons: leaving the process closes the socket
# (its own disconnect() waits out a reconnect interval).
done.wait(None if count is None else 30)
sys.exit(0 if count is None or done.is_set() else 1)
