#!/usr/bin/env python3
"""A heimdall protocol client in Python, standard library only.

Written from docs/protocol.md (not from the Rust code), to show that the
protocol can be spoken from any language. The test suite runs it against a
real `hm`, so the document and the server cannot drift apart.

Usage as a script:

    python3 heimdall_client.py SOCKET TEXT

connects, says HELLO, reads the screen, submits TEXT as a line, waits until
the program is idle, and prints the screen as JSON. SOCKET is the session's
socket, `<socket dir>/<id>.sock` (`hm start --json` prints it). When it
cannot connect, or the session ends before the screen is read, it says why
in one line on stderr and exits 1.
"""

import errno
import json
import os
import socket
import stat
import struct
import sys

# Client -> server frame types.
INPUT, SUBSCRIBE, STATUS, RESIZE, KILL = 0x01, 0x02, 0x03, 0x04, 0x05
HELLO, SCREEN, SIGNAL, EVENTS, SUBSCRIBE_FROM, SUBMIT, WAIT = range(0x06, 0x0D)
# Server -> client frame types.
OUTPUT, STATUS_RESP, EXIT = 0x81, 0x82, 0x83
HELLO_RESP, SCREEN_RESP, EVENT, RESULT, ERROR = 0x84, 0x85, 0x86, 0x87, 0x8F

STATES = {0x00: "idle", 0x01: "thinking", 0x02: "streaming", 0x03: "tool_use",
          0x04: "active", 0x05: "waiting", 0xFF: "dead"}


class HeimdallError(Exception):
    """The server answered a request with ERROR."""

    def __init__(self, body):
        super().__init__(f"{body.get('error')}: {body.get('message')}")
        self.body = body


class SessionEnded(ConnectionError):
    """The supervisor closed the connection (or reset it): the session has
    ended, or its supervisor is gone. The exit record says how it ended."""


def ended(how):
    """SessionEnded saying how: `how` has the `code` and `signal` of an exit
    record, or of a WAIT's `exited` answer."""
    if how.get("signal") is not None:
        return SessionEnded(f"the session has ended (killed by signal {how['signal']}, "
                            f"code {how['code']})")
    return SessionEnded(f"the session has ended (exit code {how['code']})")


def check_ours(path):
    """Refuse a socket that someone else may have put in a session's place
    (docs/protocol.md, Connecting): its directory must be ours, with no
    group or other permission bits, and the socket (what a link to it points
    at, as connect() follows it) a socket and ours too."""
    uid = os.getuid()
    folder = os.path.dirname(os.path.abspath(path))
    st = os.stat(folder)
    if st.st_uid != uid or st.st_mode & 0o077:
        raise PermissionError(errno.EACCES, "the socket directory is not ours alone "
                              f"(owner uid {st.st_uid}, mode {st.st_mode & 0o777:o})", folder)
    st = os.stat(path)
    if not stat.S_ISSOCK(st.st_mode):
        raise PermissionError(errno.EACCES, "not a socket", path)
    if st.st_uid != uid:
        raise PermissionError(errno.EACCES, "the socket belongs to another user", path)


class Client:
    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            check_ours(self.path)
            self.sock.connect(self.path)
            cred = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                        struct.calcsize("3i"))
            if struct.unpack("3i", cred)[1] != os.getuid():
                raise PermissionError(errno.EACCES, "the server runs as another user")
        except OSError as e:
            self.sock.close()
            # The same error, naming the socket it could not reach.
            raise type(e)(e.errno, e.strerror, self.path) from None
        mode = self._read_exact(1)
        if mode != b"\x00":
            raise ValueError(f"unexpected mode byte {mode!r}")
        self.next_id = 1
        self.pending = []  # frames that arrived while waiting for an answer

    def exit_record(self):
        """The session's exit record (`<id>.exit` next to its socket) as a
        dict, or None while there is none."""
        try:
            with open(os.path.splitext(self.path)[0] + ".exit") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def _ended(self):
        record = self.exit_record()
        if record is None:
            return SessionEnded("the session closed the connection: it has ended "
                                "or its supervisor is gone")
        return ended(record)

    def _read_exact(self, n):
        data = b""
        while len(data) < n:
            try:
                chunk = self.sock.recv(n - len(data))
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise self._ended()
            data += chunk
        return data

    def send(self, kind, payload=b""):
        try:
            self.sock.sendall(struct.pack(">BI", kind, len(payload)) + payload)
        except (BrokenPipeError, ConnectionResetError):
            raise self._ended() from None

    def send_json(self, kind, obj):
        self.send(kind, json.dumps(obj).encode())

    def recv(self):
        """The next frame as (type, payload)."""
        if self.pending:
            return self.pending.pop(0)
        kind, length = struct.unpack(">BI", self._read_exact(5))
        return kind, self._read_exact(length)

    def _answer(self, want_kind, request_kind, request_id=None):
        """Wait for a frame of want_kind (or an ERROR about the request)."""
        skipped = []
        try:
            while True:
                kind, payload = self.recv()
                if kind == ERROR:
                    body = json.loads(payload)
                    if body.get("request") == request_kind and body.get("id") in (None, request_id):
                        raise HeimdallError(body)
                if kind == want_kind:
                    if want_kind in (RESULT, SCREEN_RESP, HELLO_RESP):
                        body = json.loads(payload)
                        if request_id is None or body.get("id") in (None, request_id):
                            return body
                    else:
                        return payload
                skipped.append((kind, payload))
        finally:
            self.pending = skipped + self.pending

    def _id(self):
        self.next_id += 1
        return self.next_id

    def hello(self, name="python-example"):
        self.send_json(HELLO, {"client": name, "protocol": 2})
        return self._answer(HELLO_RESP, HELLO)

    def status(self):
        self.send(STATUS)
        p = self._answer(STATUS_RESP, STATUS)
        pid, idle_ms, alive, state, state_ms, _ = struct.unpack(">IIBBIB", p[:15])
        return {"pid": pid, "idle_ms": idle_ms, "alive": bool(alive),
                "state": STATES.get(state, state), "state_ms": state_ms}

    def screen(self, fmt="text", scrollback_lines=0):
        rid = self._id()
        self.send_json(SCREEN, {"format": fmt, "scrollback_lines": scrollback_lines, "id": rid})
        return self._answer(SCREEN_RESP, SCREEN, rid)

    def submit(self, text, timeout_ms=5000):
        rid = self._id()
        self.send_json(SUBMIT, {"text": text, "timeout_ms": timeout_ms, "id": rid})
        return self._answer(RESULT, SUBMIT, rid)

    def wait(self, condition, timeout_ms=None):
        rid = self._id()
        req = dict(condition, id=rid)
        if timeout_ms is not None:
            req["timeout_ms"] = timeout_ms
        self.send_json(WAIT, req)
        return self._answer(RESULT, WAIT, rid)

    def signal(self, sig):
        rid = self._id()
        self.send_json(SIGNAL, {"signal": sig, "id": rid})
        return self._answer(RESULT, SIGNAL, rid)

    def input(self, data):
        self.send(INPUT, data if isinstance(data, bytes) else data.encode())

    def resize(self, cols, rows):
        self.send(RESIZE, struct.pack(">HH", cols, rows))

    def close(self):
        self.sock.close()


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return run(sys.argv[1], sys.argv[2])
    except (OSError, HeimdallError) as e:
        print(f"heimdall_client.py: {e}", file=sys.stderr)
        return 1


def run(path, text):
    c = Client(path)
    hello = c.hello()
    before = c.screen()
    result = c.submit(text)
    idle = c.wait({"until": "idle", "idle_ms": 300}, timeout_ms=20000)
    if not idle["ok"]:
        if idle["error"] == "exited":
            raise ended(idle)
        raise HeimdallError({"error": idle["error"], "message": "no idle moment in 20 s"})
    after = c.screen()
    print(json.dumps({
        "session": hello["session"]["id"],
        "protocol": hello["protocol"],
        "before": before["lines"],
        "submit": result,
        "idle": idle,
        "status": c.status(),
        "screen": after["lines"],
    }))
    c.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
