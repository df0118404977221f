#!/usr/bin/env python3
"""Serves a folder over HTTP on loopback for cluster tests, optionally slowly.

    python3 tests/tools/http_server.py DIR [--rate BYTES_PER_SECOND] [--slow-requests N]

Prints "port N" once listening (port chosen by the kernel). --rate throttles response bodies, so a
task takes long enough to kill its worker in the middle of it; with --slow-requests only the first
N requests are throttled (a reference run afterwards reads at full speed).
"""
import argparse
import functools
import http.server
import os
import sys
import threading
import time


class Handler(http.server.SimpleHTTPRequestHandler):
    rate = 0
    slow_left = -1  # -1: every request
    lock = threading.Lock()

    def copyfile(self, source, outputfile):
        with Handler.lock:
            slow = self.rate > 0 and Handler.slow_left != 0
            if slow and Handler.slow_left > 0:
                Handler.slow_left -= 1
        if not slow:
            return super().copyfile(source, outputfile)
        chunk = max(1, self.rate // 20)
        while True:
            data = source.read(chunk)
            if not data:
                return
            outputfile.write(data)
            outputfile.flush()
            time.sleep(len(data) / self.rate)

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--rate", type=int, default=0)
    parser.add_argument("--slow-requests", type=int, default=-1)
    args = parser.parse_args()
    Handler.rate = args.rate
    Handler.slow_left = args.slow_requests
    handler = functools.partial(Handler, directory=os.path.abspath(args.dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
