#!/usr/bin/env python3
"""A Clocktower pull agent in Python 3, standard library only.

It registers with a Clocktower server's REST API, long-polls for
assignments, runs each one's executor_config.command with /bin/sh (the
"shell" executor's main field), streams the output, and reports results
until they are acknowledged. The protocol is in Clocktower's README, section
"Pull agents".

    python3 worker.py --server http://127.0.0.1:8080 --node py-1 --tag pool=py

Options: --server URL (repeatable; tried in turn), --node NAME, --tag K=V
(repeatable), --max-concurrent N (default 4), --token TOKEN (sent as
"Authorization: Bearer"; with ACLs on, a token with operator write).
"""

import argparse
import base64
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid


class Rejected(Exception):
    """The server answered with an error status."""

    def __init__(self, status, body):
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class Worker:
    def __init__(self, servers, node, tags, max_concurrent, token):
        self.servers = servers
        self.server = 0
        self.node = node
        self.tags = tags
        self.max_concurrent = max_concurrent
        self.token = token
        self.instance = str(uuid.uuid4())  # new per process: the server learns we restarted
        self.session = None
        self.heartbeat_ms = 1000
        self.max_wait_ms = 1000
        self.output_limit = 256000
        self.tail_limit = 256000
        self.max_body_bytes = 1048576
        self.lock = threading.Lock()
        self.running = {}  # execution id -> subprocess.Popen (None until started)
        self.stopped = set()
        self.results = {}  # execution id -> result, kept until acknowledged
        self.output_sent = {}  # execution id -> bytes sent while running

    # ---- HTTP ---------------------------------------------------------------

    def post(self, path, body, timeout=30):
        url = self.servers[self.server] + path
        data = json.dumps(body).encode()
        headers = {"content-type": "application/json"}
        if self.token:
            headers["authorization"] = "Bearer " + self.token
        req = urllib.request.Request(url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as res:
                return json.loads(res.read())
        except urllib.error.HTTPError as e:
            raise Rejected(e.code, e.read().decode(errors="replace")) from None

    def next_server(self):
        self.server = (self.server + 1) % len(self.servers)

    # ---- the protocol -------------------------------------------------------

    def register(self):
        with self.lock:
            held = list(self.running)
        answer = self.post("/v1/pull/register", {
            "node": self.node, "tags": self.tags, "executors": ["shell"],
            "capacity": self.max_concurrent, "instance": self.instance,
            "version": "pull-worker-python", "running": held,
        })
        self.session = answer["session"]
        self.heartbeat_ms = answer["heartbeat_ms"]
        self.max_wait_ms = answer["max_wait_ms"]
        self.output_limit = answer["output_limit"] or self.output_limit
        # A result's output tail must fit in one request body (base64 grows it by a third).
        self.max_body_bytes = answer["max_body_bytes"]
        self.tail_limit = min(self.output_limit, (self.max_body_bytes - 4096) * 3 // 4)
        print(f"worker: registered with the leader {answer['server']} as {self.node}", file=sys.stderr, flush=True)

    def poll(self):
        with self.lock:
            busy = len(self.running)
            held = list(self.running) + list(self.results)
        free = max(0, self.max_concurrent - busy)
        wait = min(self.max_wait_ms, 5000) if free > 0 else 0
        answer = self.post("/v1/pull/poll", {
            "session": self.session, "running": busy, "queued": 0, "free": free,
            "held": held, "wait_ms": wait,
        }, timeout=(wait + self.heartbeat_ms) / 1000)  # a silent server is given up within the deadline
        for eid in answer["acks"]:
            with self.lock:
                self.results.pop(eid, None)
        for a in answer["assignments"]:
            self.assign(a)
        for eid in answer["stops"]:
            self.stop(eid)
        return len(answer["assignments"]) > 0

    def assign(self, a):
        eid = a["execution_id"]
        with self.lock:
            if eid in self.running or eid in self.results:
                return  # a reattach: never a second run
            if a["resume_only"]:
                # Started by an earlier instance of this agent: we know nothing of it.
                self.results[eid] = self.result(eid, False, -1, "unknown execution", b"", unknown=True)
                return
            self.running[eid] = None
        threading.Thread(target=self.execute, args=(a,), daemon=True).start()

    def stop(self, eid):
        with self.lock:
            self.stopped.add(eid)
            proc = self.running.get(eid)
        if proc is not None:
            proc.kill()

    def execute(self, a):
        eid = a["execution_id"]
        command = a["config"].get("command", "")
        if a["executor"] != "shell" or command == "":
            self.finish(eid, self.result(eid, False, -1, f"this worker runs only shell jobs with a command, not {a['executor']}", b""))
            return
        proc = subprocess.Popen(["/bin/sh", "-c", command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        with self.lock:
            self.running[eid] = proc
            stop_now = eid in self.stopped
        if stop_now:
            proc.kill()
        output = bytearray()
        while True:
            chunk = proc.stdout.read1(65536)
            if not chunk:
                break
            output += chunk
            try:
                self.post("/v1/pull/output", {"session": self.session, "chunks": [
                    {"execution_id": eid, "data": base64.b64encode(chunk).decode()}]})
                self.output_sent[eid] = len(output)
            except (OSError, Rejected):
                pass  # the result carries the output's tail; the server keeps what it has
        code = proc.wait()
        with self.lock:
            stopped = eid in self.stopped
        error = "stopped on request" if stopped else ("" if code == 0 else f"exit status {code}")
        self.finish(eid, self.result(eid, code == 0 and not stopped, code, error, bytes(output), stopped=stopped))

    def result(self, eid, success, exit_code, error, output, stopped=False, unknown=False):
        tail = output[-self.tail_limit:]
        return {
            "execution_id": eid, "success": success, "exit_code": exit_code, "error": error,
            "finished_at_ms": int(time.time() * 1000), "stopped": stopped, "unknown": unknown,
            "output_tail": base64.b64encode(tail).decode(), "output_total_bytes": len(output),
        }

    def finish(self, eid, result):
        with self.lock:
            self.running.pop(eid, None)
            self.stopped.discard(eid)
            self.output_sent.pop(eid, None)
            self.results[eid] = result

    def report(self):
        """Post the results not yet acknowledged (each is applied once, however often it is sent)."""
        with self.lock:
            pending = list(self.results.values())
        batch, size = [], 0
        for r in pending:  # as many as fit in one request body
            n = len(json.dumps(r))
            if batch and size + n > self.max_body_bytes - 4096:
                break
            batch.append(r)
            size += n
        if not batch:
            return
        answer = self.post("/v1/pull/results", {"session": self.session, "results": batch})
        with self.lock:
            for eid in answer["acknowledged"]:
                self.results.pop(eid, None)

    def run(self):
        backoff = 0.001
        while True:
            try:
                if self.session is None:
                    self.register()
                self.report()
                worked = self.poll()
                self.report()
                if worked:
                    backoff = 0.001
                    continue
            except Rejected as e:
                if e.status == 404:
                    self.session = None  # the leader changed or forgot us: register again
                    continue
                print(f"worker: {self.servers[self.server]} answered {e}", file=sys.stderr, flush=True)
                self.next_server()
            except OSError as e:
                print(f"worker: {self.servers[self.server]}: {e}", file=sys.stderr, flush=True)
                self.next_server()
            time.sleep(backoff)
            backoff = min(1.0, backoff + 0.01)


def main():
    p = argparse.ArgumentParser(description="A Clocktower pull agent (shell jobs).")
    p.add_argument("--server", action="append", required=True, help="a server's API URL, e.g. http://127.0.0.1:8080")
    p.add_argument("--node", required=True)
    p.add_argument("--tag", action="append", default=[], help="KEY=VALUE")
    p.add_argument("--max-concurrent", type=int, default=4)
    p.add_argument("--token", default=None)
    args = p.parse_args()
    tags = dict(t.split("=", 1) for t in args.tag)
    Worker([s.rstrip("/") for s in args.server], args.node, tags, args.max_concurrent, args.token).run()


if __name__ == "__main__":
    main()
