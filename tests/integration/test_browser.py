"""The demo page in a real browser: Debian's Chromium, headless, driven over
the DevTools protocol, against a node serving the page with the example
configuration's file:// mounts (/demo/, /js/).

A user opens /demo/, subscribes, sees messages published by the HTTP API and
by the page itself; the node is killed and restarted on the same port, and
the page reconnects by itself and shows the messages published while it was
down, in order, once each, with `recovered` true. A browser EventSource on
sse/<channel> resumes by Last-Event-ID the same way. The node shares a Redis:
that is what lets a message be published (rtpush-publish --redis) while the
node is down, so the replay path is taken every run, not by luck of timing.

Screenshots go to build/test-output/browser/ (RTPUSH_TEST_OUTPUT overrides).
"""
import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request

import websockets

from rtpush_harness import PREFIX, PUBLISH_CLI, Redis, Server, stop_process_group

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
OUTPUT_DIR = os.environ.get("RTPUSH_TEST_OUTPUT") or os.path.join(os.path.dirname(PREFIX), "test-output", "browser")
EXAMPLE_VHOST = os.path.join(PREFIX, "share", "rtpush", "lwsws", "conf.d", "rtpush")
SLOW = 60  # seconds: CI has 2 cores, and a reconnect waits out the client's backoff


def example_file_mounts():
    """The file:// mounts of the installed example configuration, as shipped:
    the test serves exactly what `tools/serve` serves."""
    with open(EXAMPLE_VHOST) as f:
        vhost = json.load(f)["vhosts"][0]
    mounts = [m for m in vhost["mounts"] if m["origin"].startswith("file://")]
    assert {m["mountpoint"] for m in mounts} == {"/demo", "/js"}, mounts
    return mounts


def publish_while_down(redis_url, channel, values):
    """Publishes through Redis, as a node does, while no node is up; the ids."""
    out = subprocess.run([PUBLISH_CLI, "--redis", redis_url, "--channel", channel],
                         input="".join(json.dumps(v) + "\n" for v in values),
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    ids = out.stdout.split()
    assert len(ids) == len(values), out.stdout
    return ids


class Chromium:
    """Headless Chromium in its own process group and profile directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rtpush-chromium-")
        self.proc = None
        self.port = None

    def start(self):
        self.log = open(os.path.join(self.dir, "chromium.log"), "w")
        # Port 0: Chromium picks a free one and writes it to DevToolsActivePort,
        # so parallel runs never clash. --no-sandbox: CI runs as root.
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-background-networking", "--disable-component-update", "--window-size=1000,900",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             "--user-data-dir=" + os.path.join(self.dir, "profile"), "about:blank"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        active = os.path.join(self.dir, "profile", "DevToolsActivePort")
        deadline = time.time() + SLOW
        while time.time() < deadline:
            if os.path.exists(active):
                with open(active) as f:
                    first = f.readline().strip()
                if first:
                    self.port = int(first)
                    return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("chromium did not start:\n" + self.log_tail())

    def page_target(self):
        """The DevTools WebSocket URL of the page Chromium opened."""
        with urllib.request.urlopen("http://127.0.0.1:%d/json" % self.port, timeout=10) as r:
            targets = json.loads(r.read())
        pages = [t for t in targets if t["type"] == "page"]
        assert pages, targets
        return pages[0]["webSocketDebuggerUrl"]

    def log_tail(self):
        try:
            with open(os.path.join(self.dir, "chromium.log"), errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None:
            stop_process_group(self.proc, 10)  # renderers and zygotes may outlive the browser process
            self.proc = None
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Page:
    """One page over the DevTools protocol: commands by id, events kept."""

    def __init__(self, ws):
        self.ws = ws
        self.ids = itertools.count(1)
        self.waiting = {}
        self.console = []  # console messages and uncaught exceptions, for failure messages
        self.reader = asyncio.get_running_loop().create_task(self.read())

    @classmethod
    async def open(cls, url):
        page = cls(await websockets.connect(url, max_size=None))
        await page.call("Runtime.enable")
        await page.call("Page.enable")
        await page.call("Log.enable")  # network and module-loading errors
        return page

    async def read(self):
        async for raw in self.ws:
            msg = json.loads(raw)
            if "id" in msg:
                future = self.waiting.pop(msg["id"], None)
                if future and not future.done():
                    future.set_result(msg)
            elif msg.get("method") == "Runtime.consoleAPICalled":
                args = msg["params"]["args"]
                self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
            elif msg.get("method") == "Log.entryAdded":
                entry = msg["params"]["entry"]
                self.console.append("%s: %s %s" % (entry["level"], entry["text"], entry.get("url", "")))
            elif msg.get("method") == "Runtime.exceptionThrown":
                d = msg["params"]["exceptionDetails"]
                self.console.append("exception: " + d.get("exception", {}).get("description", d.get("text", "")))

    async def call(self, method, params=None, timeout=30):
        n = next(self.ids)
        future = asyncio.get_running_loop().create_future()
        self.waiting[n] = future
        await self.ws.send(json.dumps({"id": n, "method": method, "params": params or {}}))
        msg = await asyncio.wait_for(future, timeout)
        if "error" in msg:
            raise AssertionError("%s: %s" % (method, msg["error"]))
        return msg["result"]

    async def eval(self, expression):
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = await self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                      "awaitPromise": True})
        if "exceptionDetails" in result:
            raise AssertionError("in the page: %s\n%s" % (expression, result["exceptionDetails"]))
        return result["result"].get("value")

    async def wait_for(self, expression, what, timeout=SLOW):
        """Polls until the expression is truthy; returns its value."""
        deadline = time.time() + timeout
        while True:
            value = await self.eval(expression)
            if value:
                return value
            if time.time() > deadline:
                raise AssertionError("%s (page console: %s)" % (what, self.console[-10:]))
            await asyncio.sleep(0.1)

    async def navigate(self, url):
        await self.call("Page.navigate", {"url": url})
        await self.wait_for("document.readyState === 'complete' && location.href === %s" % json.dumps(url),
                            "the page did not load: " + url)

    async def fill(self, element_id, value):
        await self.eval("document.getElementById(%s).value = %s" % (json.dumps(element_id), json.dumps(value)))

    async def click(self, element_id):
        await self.eval("document.getElementById(%s).click()" % json.dumps(element_id))

    async def screenshot(self, name):
        data = (await self.call("Page.captureScreenshot", {"format": "png"}))["data"]
        os.makedirs(OUTPUT_DIR, exist_ok=True)
        path = os.path.join(OUTPUT_DIR, name)
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        print("screenshot:", path)
        return path

    async def close(self):
        self.reader.cancel()
        await self.ws.close()


# The messages the page lists, oldest first, as [id, channel, data text].
SHOWN = """[...document.querySelectorAll('#messages li')].map(li =>
             [li.dataset.id, li.dataset.channel, li.querySelector('.data').textContent])"""


class DemoPage(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = Redis().start()
        cls.chromium = Chromium()
        try:
            cls.chromium.start()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.chromium.stop()
        cls.redis.stop()
        shutil.rmtree(cls.redis.dir, ignore_errors=True)

    async def asyncSetUp(self):
        self.server = Server(redis=self.redis.url, mounts=example_file_mounts())
        self.addCleanup(self.server.stop)  # runs even when the setup fails half way
        await asyncio.to_thread(self.server.start)
        self.page = await Page.open(self.chromium.page_target())
        self.addAsyncCleanup(self.page.close)

    async def open_demo(self):
        await self.page.navigate("http://127.0.0.1:%d/demo/" % self.server.port)
        await self.page.wait_for("document.getElementById('state').dataset.state === 'connected'",
                                 "the demo page did not connect")
        # every state the page shows from now on, in order: each change's old
        # value (two changes in one task still give two records), then the last
        await self.page.eval("""window.statesBefore = [];
            new MutationObserver(records => records.forEach(r => statesBefore.push(r.oldValue)))
              .observe(document.getElementById('state'), {attributeFilter: ['data-state'], attributeOldValue: true})""")

    async def test_files_served_with_their_types(self):
        """Over one keep-alive connection, as a browser fetches a page:
        each file whole, with its type, the API between them, and a 404
        for a file that is not there."""
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            for path, status, kind in (("/demo/missing.js", 404, "text/html"), ("/demo/", 200, "text/html"),
                                       ("/demo/style.css", 200, "text/css"), ("/health", 200, "json"),
                                       ("/js/rtpush.js", 200, "javascript"), ("/demo/app.js", 200, "javascript"),
                                       ("/js/missing.js", 404, "text/html"), ("/health", 200, "json")):
                conn.request("GET", path)
                r = conn.getresponse()
                body = r.read()
                self.assertEqual(r.status, status, path)
                self.assertIn(kind, r.getheader("Content-Type"), path)  # a module needs a JavaScript type
                self.assertEqual(len(body), int(r.getheader("Content-Length")), path)
        finally:
            conn.close()

    async def test_subscribe_publish_and_survive_a_restart(self):
        page = self.page
        await self.open_demo()
        for channel in ("news", "sport"):
            await page.fill("channel", channel)
            await page.click("subscribe")
        # the page shows each subscription confirmed before anything is published
        await page.wait_for("""[...document.querySelectorAll('#subscriptions li')].map(li => li.dataset.channel +
                               ':' + li.dataset.subscribed).join() === 'news:true,sport:true'""",
                            "the page did not show both subscriptions confirmed")

        first = self.server.publish_http("news", {"n": 1})
        await page.wait_for("!!document.querySelector('#messages li[data-id=\"%s\"]')" % first,
                            "a message published by the HTTP API did not appear")

        await page.fill("pub-channel", "sport")
        await page.fill("pub-data", '{"score": "2-1"}')
        await page.click("publish")
        result = await page.wait_for("document.getElementById('pub-result').textContent.startsWith('published ')"
                                     " && document.getElementById('pub-result').textContent",
                                     "the page's publish was not acknowledged")
        sport_id = result.split()[1]
        await page.wait_for("!!document.querySelector('#messages li[data-id=\"%s\"]')" % sport_id,
                            "the page's own publish did not come back to it")

        await asyncio.to_thread(self.server.kill)
        await page.wait_for("document.getElementById('state').dataset.state !== 'connected'",
                            "the page did not show the lost connection")
        down = await asyncio.to_thread(publish_while_down, self.redis.url, "news", [{"n": 2}, {"n": 3}, {"n": 4}])
        await asyncio.to_thread(self.server.restart)
        back = time.time()
        await page.wait_for("document.getElementById('state').dataset.state === 'connected'",
                            "the page did not reconnect after the node restarted")
        print("page: connected again %.2f s after the node was back (its backoff)" % (time.time() - back))
        await page.wait_for("""[...document.querySelectorAll('#subscriptions li')].every(li =>
                               li.dataset.subscribed === 'true' && li.querySelector('.recovered').textContent !== '-')""",
                            "the page did not show both channels resubscribed with their `recovered`")
        live = self.server.publish_http("news", {"n": 5})
        await page.wait_for("!!document.querySelector('#messages li[data-id=\"%s\"]')" % live,
                            "no live message after the reconnect")

        shown = await page.eval(SHOWN)
        news = [(i, d) for i, c, d in shown if c == "news"]
        self.assertEqual(news, [(first, '{"n":1}'), (down[0], '{"n":2}'), (down[1], '{"n":3}'),
                                (down[2], '{"n":4}'), (live, '{"n":5}')])  # in order, none missing or twice
        self.assertEqual([(i, d) for i, c, d in shown if c == "sport"], [(sport_id, '{"score":"2-1"}')])
        states = await page.eval("statesBefore.concat(document.getElementById('state').dataset.state)")
        self.assertIn("disconnected", states, states)
        self.assertEqual(states[-1], "connected")
        recovered = await page.eval("""Object.fromEntries([...document.querySelectorAll('#subscriptions li')]
                                       .map(li => [li.dataset.channel, li.querySelector('.recovered').textContent]))""")
        self.assertEqual(recovered, {"news": "true", "sport": "true"})
        await page.screenshot("demo.png")

        # a narrow window (a phone): nothing wider than the screen
        await page.call("Emulation.setDeviceMetricsOverride",
                        {"width": 360, "height": 740, "deviceScaleFactor": 1, "mobile": True})
        width = await page.wait_for("document.documentElement.scrollWidth", "no layout")
        self.assertLessEqual(width, 360)
        await page.screenshot("demo-narrow.png")
        await page.call("Emulation.clearDeviceMetricsOverride")

    async def test_event_source_resumes_by_last_event_id(self):
        page = self.page
        await page.navigate("http://127.0.0.1:%d/demo/" % self.server.port)
        await page.eval("""window.sse = {subscribed: [], messages: [], errors: 0};
            window.source = new EventSource('/sse/feed');
            source.addEventListener('subscribed', e => sse.subscribed.push(JSON.parse(e.data)));
            source.addEventListener('message', e => sse.messages.push([e.lastEventId, JSON.parse(e.data)]));
            source.onerror = () => sse.errors++;""")
        await page.wait_for("sse.subscribed.length === 1", "no `subscribed` event")
        before = [self.server.publish_http("feed", {"n": n}) for n in (1, 2)]
        await page.wait_for("sse.messages.length === 2", "the EventSource got no messages")

        await asyncio.to_thread(self.server.kill)
        await page.wait_for("sse.errors > 0", "the EventSource did not see the node go")
        down = await asyncio.to_thread(publish_while_down, self.redis.url, "feed", [{"n": 3}, {"n": 4}])
        await asyncio.to_thread(self.server.restart)
        back = time.time()
        await page.wait_for("sse.subscribed.length === 2", "the EventSource did not reconnect")
        print("EventSource: resubscribed %.2f s after the node was back" % (time.time() - back))
        live = self.server.publish_http("feed", {"n": 5})
        await page.wait_for("sse.messages.some(([id]) => id === %s)" % json.dumps(live), "no live message")

        got = await page.eval("sse.messages.map(([id, m]) => [id, m.type, m.channel, m.id, m.data.n])")
        ids = before + down + [live]
        self.assertEqual(got, [[i, "message", "feed", i, n + 1] for n, i in enumerate(ids)])  # no gap, no repeat
        resumed = (await page.eval("sse.subscribed"))[1]
        self.assertIs(resumed["recovered"], True)  # it came back with Last-Event-ID
        await page.eval("source.close()")


if __name__ == "__main__":
    unittest.main(verbosity=2)
