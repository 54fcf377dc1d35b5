#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A pretend robot for janus.plugin.camera's control socket (docs/control.md).

    python3 examples/robot.py [SOCKET]

SOCKET defaults to $CAMERA_CONTROL_SOCKET, then /run/janus-camera/control.sock.

It connects to the plugin's Unix socket (one JSON object per line, both
ways), prints every command with the viewer id it came from, drives two
simulated motors from {"type":"drive","x":..,"y":..} commands, and sends
telemetry twice a second: {"battery","speed","heading","uptime",...}.  On
{"event":"stop"} (the plugin's safety stop: the controller fell silent or
left) it stops the motors.  If the socket goes away (Janus restarted) it
reconnects.  Ctrl-C exits cleanly.  Python 3 standard library only.
"""

import json
import math
import os
import selectors
import socket
import sys
import time

DEFAULT_SOCKET = "/run/janus-camera/control.sock"
TELEMETRY_PERIOD = 0.5   # seconds: twice a second
MAX_SPEED = 1.0          # m/s at full stick
TURN_RATE = 90.0         # degrees/s at full stick
RETRY_MIN, RETRY_MAX = 0.5, 5.0
MAX_LINE = 65536         # the plugin's own line limit


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


class Robot:
    """The simulated machine: a speed and a turn rate, integrated over time."""

    def __init__(self):
        self.started = time.monotonic()
        self.battery = 100.0
        self.speed = 0.0      # forward, m/s
        self.turn = 0.0       # degrees/s, clockwise
        self.heading = 0.0    # degrees, 0..360
        self.odometer = 0.0   # metres
        self.controller = None
        self.last = time.monotonic()

    def step(self):
        now = time.monotonic()
        dt, self.last = now - self.last, now
        self.heading = (self.heading + self.turn * dt) % 360.0
        self.odometer += abs(self.speed) * dt
        # Idle drain plus more while the motors run.
        self.battery = max(0.0, self.battery - dt * (0.002 + 0.05 * (abs(self.speed) + abs(self.turn) / TURN_RATE)))

    def drive(self, x, y):
        self.step()
        self.speed = MAX_SPEED * y
        self.turn = TURN_RATE * x

    def stop(self):
        self.step()
        self.speed = self.turn = 0.0

    def telemetry(self):
        self.step()
        return {
            "battery": round(self.battery, 2),
            "speed": round(self.speed, 2),
            "turn": round(self.turn, 1),
            "heading": round(self.heading, 1),
            "odometer": round(self.odometer, 2),
            "uptime": round(time.monotonic() - self.started, 1),
            "controller": self.controller,
        }


def clamp(v):
    """A number in -1..1, or None for anything else (bools are not numbers here)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return max(-1.0, min(1.0, float(v)))


class Link:
    """One connection to the plugin: line framing both ways, never blocking."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(2.0)
        self.sock.connect(path)
        self.sock.setblocking(False)
        self.inbuf = b""
        self.outbuf = b""

    def send(self, obj):
        line = json.dumps(obj, separators=(",", ":")).encode() + b"\n"
        # A robot that cannot get its telemetry out should not pile it up:
        # keep at most a few lines waiting.
        if len(self.outbuf) < 4 * MAX_LINE:
            self.outbuf += line
        self.flush()

    def flush(self):
        while self.outbuf:
            try:
                n = self.sock.send(self.outbuf)
            except BlockingIOError:
                return
            self.outbuf = self.outbuf[n:]

    def read_lines(self):
        """Lines received so far; raises ConnectionError when the plugin is gone."""
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return []
        if not data:
            raise ConnectionError("the plugin closed the socket")
        self.inbuf += data
        *lines, self.inbuf = self.inbuf.split(b"\n")
        if len(self.inbuf) > MAX_LINE:
            self.inbuf = b""   # an overlong line: drop it rather than grow
        return lines

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def handle(robot, link, raw):
    try:
        msg = json.loads(raw)
    except ValueError:
        log("? not JSON:", raw[:200])
        return
    if not isinstance(msg, dict):
        log("? not an object:", raw[:200])
        return
    event = msg.get("event")
    if event == "stop":
        robot.stop()
        log("STOP (safety stop from the plugin): motors stopped")
    elif event == "controller":
        robot.controller = msg.get("controller")
        if robot.controller is None:
            log("controller: nobody")
        else:
            log("controller: viewer", robot.controller)
    elif "from" in msg:
        data = msg.get("data")
        log("command from viewer", msg["from"], json.dumps(data)[:200])
        if isinstance(data, dict) and data.get("type") == "drive":
            x, y = clamp(data.get("x", 0)), clamp(data.get("y", 0))
            if x is None or y is None:
                # Answer the sender only: {"to": id} reaches that viewer.
                link.send({"to": msg["from"], "data": {"error": "drive: x and y must be numbers in -1..1"}})
                return
            robot.drive(x, y)
    elif "error" in msg:
        log("plugin says:", msg["error"])
    else:
        log("? unknown line:", raw[:200])


def run(path):
    robot = Robot()
    retry = RETRY_MIN
    while True:
        try:
            link = Link(path)
        except OSError as e:
            log(f"cannot connect to {path}: {e.strerror or e}; retrying in {retry:.1f} s")
            time.sleep(retry)
            retry = min(RETRY_MAX, retry * 2)
            continue
        log("connected to", path)
        retry = RETRY_MIN
        sel = selectors.DefaultSelector()
        sel.register(link.sock, selectors.EVENT_READ)
        next_telemetry = time.monotonic()
        try:
            while True:
                now = time.monotonic()
                if now >= next_telemetry:
                    link.send({"data": robot.telemetry()})
                    next_telemetry = now + TELEMETRY_PERIOD
                events = selectors.EVENT_READ | (selectors.EVENT_WRITE if link.outbuf else 0)
                sel.modify(link.sock, events)
                for key, mask in sel.select(timeout=max(0.0, next_telemetry - time.monotonic())):
                    if mask & selectors.EVENT_WRITE:
                        link.flush()
                    if mask & selectors.EVENT_READ:
                        for raw in link.read_lines():
                            if raw.strip():
                                handle(robot, link, raw.decode("utf-8", "replace"))
        except (ConnectionError, OSError) as e:
            # Nobody is in charge any more: stop, as the plugin would have.
            robot.stop()
            robot.controller = None
            log(f"lost the plugin ({e}); motors stopped; reconnecting")
        finally:
            sel.close()
            link.close()
        time.sleep(RETRY_MIN)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CAMERA_CONTROL_SOCKET", DEFAULT_SOCKET)
    if path in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    try:
        run(path)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        log("bye")
    return 0


if __name__ == "__main__":
    sys.exit(main())
