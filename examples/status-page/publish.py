"""The status app's backend in Python, with the official `pusher` SDK
pointed at Clarion: `python publish.py` plays the whole timeline (one step
every 2 s); `python publish.py degrade incident` publishes just those steps
(names in events.json). Same environment variables as publish.js."""

import datetime
import json
import os
import pathlib
import sys
import time

import pusher

events = json.loads((pathlib.Path(__file__).parent / "events.json").read_text())
client = pusher.Pusher(
    app_id=os.environ.get("CLARION_APP_ID", "1000"),
    key=os.environ.get("CLARION_KEY", "app-key"),
    secret=os.environ.get("CLARION_SECRET", "app-secret"),
    host=os.environ.get("CLARION_HOST", "127.0.0.1"),
    port=int(os.environ.get("CLARION_PORT", "8080")),
    ssl=False,
)
channel = f"organization.{os.environ.get('ORG_ID', '7')}"

steps = sys.argv[1:]
for step in steps or list(events):
    if step not in events:
        sys.exit(f"unknown step {step}; one of {', '.join(events)}")
    name, data = events[step]
    data = {**data, "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat()}
    client.trigger(channel, name, data)
    print(f"{channel} <- {name}")
    if not steps:
        time.sleep(2)
