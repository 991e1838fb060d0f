"""The Grafana dashboard (conf/grafana/rtpush.json, as installed) asks only
for series a real node exports: every metric name in every panel's and
variable's PromQL, and every label a panel groups by, is in GET metrics of
a node running with Redis and PostgreSQL (so the backend series exist).
A renamed metric would otherwise leave an empty panel nobody notices."""
import json
import os
import re
import unittest

from rtpush_harness import PREFIX, Postgres, Redis, Server

DASHBOARD = os.path.join(PREFIX, "share", "rtpush", "grafana", "rtpush.json")

# PromQL words that are not metric names (functions are told by their "(").
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}


def expressions(dash):
    """(where, expr) of every panel target and query variable."""
    out = []
    for p in dash["panels"]:
        for t in p.get("targets", []):
            out.append((p["title"], t["expr"]))
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            out.append(("variable " + v["name"], v["query"]["query"]))
    return out


def metric_names(expr):
    """The metric names an expression selects."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)          # label values
    e = re.sub(r"\{[^}]*\}", "", e)                          # matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                         # ranges
    e = re.sub(r"\b(by|without)\s*\([^)]*\)", "", e)         # grouping labels
    e = re.sub(r"label_values\(\s*([a-zA-Z_:][\w:]*)\s*,\s*\w+\s*\)", r"\1", e)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][\w:]*", e):
        word = m.group(0)
        after = e[m.end():].lstrip()
        if after.startswith("(") or word in KEYWORDS or word.startswith("__"):
            continue
        names.add(word)
    return names


def grouping_labels(expr):
    return {label.strip() for group in re.findall(r"\bby\s*\(([^)]*)\)", expr) for label in group.split(",")}


def exported(text):
    """{metric name: set of its label names} of a Prometheus text."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][\w:]*)(\{(.*)\})? ", line)
        out.setdefault(m.group(1), set()).update(re.findall(r'(\w+)="', m.group(3) or ""))
    return out


class Dashboard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(DASHBOARD) as f:
            cls.dash = json.load(f)

    def test_importable(self):
        d = self.dash
        self.assertGreaterEqual(d["schemaVersion"], 36)
        self.assertEqual([i["name"] for i in d["__inputs"]], ["DS_PROMETHEUS"])
        self.assertEqual(d["__inputs"][0]["pluginId"], "prometheus")
        variables = {v["name"]: v for v in d["templating"]["list"]}
        self.assertEqual(variables["datasource"]["type"], "datasource")
        self.assertEqual(variables["datasource"]["query"], "prometheus")
        self.assertIn("instance", variables)
        ids = [p["id"] for p in d["panels"]]
        self.assertEqual(len(ids), len(set(ids)))
        for p in d["panels"]:
            if p["type"] == "row":
                continue
            # Every query goes to the chosen data source, for the chosen nodes.
            self.assertEqual(p["datasource"]["uid"], "${datasource}", p["title"])
            for t in p["targets"]:
                self.assertEqual(t["datasource"]["uid"], "${datasource}", p["title"])
                for name in metric_names(t["expr"]):
                    self.assertRegex(t["expr"], re.escape(name) + r'\{[^}]*instance=~"\$instance"', p["title"])

    def test_every_series_a_panel_uses_is_exported(self):
        with Redis() as redis, Postgres() as pg, Server(redis=redis.url, postgres=pg.conninfo) as node:
            node.publish_http("dash", {"n": 1})  # the histogram and rates have something to show
            status, body = node.get("metrics")
            self.assertEqual(status, 200)
        text = body.decode() if isinstance(body, bytes) else body
        series = exported(text)
        used = set()
        for where, expr in expressions(self.dash):
            names = metric_names(expr)
            self.assertTrue(names, "%s: no metric in %r" % (where, expr))
            for name in names:
                used.add(name)
                self.assertIn(name, series, "%s: %s is not exported (%r)" % (where, name, expr))
                missing = grouping_labels(expr) - {"instance", "job"} - series[name]
                self.assertFalse(missing, "%s: %s has no label %s" % (where, name, missing))
        # What the operator needs is on the dashboard (issue 15's panel list).
        for name in ["rtpush_connections_active", "rtpush_sse_connections_active", "rtpush_channels_active",
                     "rtpush_messages_published_total", "rtpush_messages_delivered_total",
                     "rtpush_message_processing_seconds_bucket", "rtpush_slow_consumers_total",
                     "rtpush_redis_up", "rtpush_redis_failovers_total", "rtpush_redis_redirects_total",
                     "rtpush_publish_failures_total", "rtpush_pg_up", "rtpush_pg_batch_rows_bucket", "rtpush_pg_lag_seconds",
                     "rtpush_pg_replay_rows_total", "rtpush_auth_failures_total", "rtpush_requests_refused_total",
                     "rtpush_errors_total", "process_cpu_seconds_total", "process_resident_memory_bytes",
                     "process_open_fds"]:
            self.assertIn(name, used)
        # Redis is shown by shard, redirects by kind (SPEC section 12): a
        # shard down on one node is one red value, not a node's average.
        legends = [t.get("legendFormat", "") for p in self.dash["panels"] for t in p.get("targets", [])
                   if "rtpush_redis_up" in t["expr"]]
        self.assertTrue(legends and all("{{shard}}" in f for f in legends), legends)
        self.assertTrue(any("kind" in grouping_labels(expr) for _, expr in expressions(self.dash)
                            if "rtpush_redis_redirects_total" in metric_names(expr)))

    def test_the_parser_sees_what_it_must(self):
        """The name extraction itself: functions, groupings, ranges and label
        values are not taken for metric names."""
        self.assertEqual(
            metric_names('histogram_quantile(0.9, sum by (instance, le) (rate(a_bucket{instance=~"$i"}[5m])))'),
            {"a_bucket"})
        self.assertEqual(metric_names('rate(x_total[1m]) / rate(y_total{code="b c"}[1m]) > 0'), {"x_total", "y_total"})
        self.assertEqual(metric_names("time() - process_start_time_seconds"), {"process_start_time_seconds"})
        self.assertEqual(metric_names("label_values(rtpush_node_info, instance)"), {"rtpush_node_info"})


if __name__ == "__main__":
    unittest.main()
