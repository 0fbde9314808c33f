#!/usr/bin/env python3
"""Opens one page in a real headless Chromium and answers JavaScript questions about it.

Usage: headless-page.py URL [--screenshot FILE]

Starts Debian's `chromium` with the DevTools protocol on a pipe (--remote-debugging-pipe: no
port, no extra packages), opens URL once, then reads JavaScript expressions from stdin, one per
line, and prints each one's value as one JSON line ({"value": ...} or {"error": "..."}). The page
is never reloaded, so a test can ask, change something on the server, and ask again: what it
sees then came from the page's own live updates. End of input closes the browser; with
--screenshot the page is saved as PNG first.

Chromium is kept off the network except for the page (no background or component traffic).
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile


class Browser:
    def __init__(self):
        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if not binary:
            raise SystemExit("headless-page: chromium is not installed (apt-get install chromium)")
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        # Chromium reads commands on fd 3 and writes replies on fd 4.
        high_r, high_w = os.dup(to_chrome_r), os.dup(from_chrome_w)

        def wire():
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.profile = tempfile.mkdtemp(prefix="flotilla-chromium-")
        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             "--user-data-dir=" + self.profile, "--window-size=1000,1200", "--hide-scrollbars",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-default-apps", "--disable-domain-reliability",
             "--no-pings", "--disable-features=MediaRouter,OptimizationHints,Translate",
             "about:blank"],
            preexec_fn=wire, close_fds=False, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in (to_chrome_r, from_chrome_w, high_r, high_w):
            os.close(fd)
        self.out = os.fdopen(to_chrome_w, "wb", buffering=0)
        self.inp = os.fdopen(from_chrome_r, "rb", buffering=0)
        self.buffer = b""
        self.next_id = 0
        self.session = None

    def _read_message(self):
        while b"\0" not in self.buffer:
            chunk = self.inp.read(65536)
            if not chunk:
                raise SystemExit("headless-page: chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=True):
        self.next_id += 1
        command = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            command["sessionId"] = self.session
        self.out.write(json.dumps(command).encode() + b"\0")
        while True:
            message = self._read_message()
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(message["error"].get("message", str(message["error"])))
                return message.get("result", {})

    def open(self, url):
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        self.call("Page.enable")
        self.call("Page.navigate", {"url": url})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise RuntimeError(details.get("exception", {}).get("description") or details.get("text", "exception"))
        return result.get("result", {}).get("value")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close", session=False)
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else 2
    url, screenshot = args[0], None
    if "--screenshot" in args:
        screenshot = args[args.index("--screenshot") + 1]
    browser = Browser()
    try:
        browser.open(url)
        for line in sys.stdin:
            expression = line.strip()
            if not expression:
                continue
            try:
                answer = {"value": browser.evaluate(expression)}
            except Exception as error:  # the page's own error, reported to the test
                answer = {"error": str(error)}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
        if screenshot:
            browser.screenshot(screenshot)
    finally:
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
