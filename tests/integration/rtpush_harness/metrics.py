"""The Prometheus text of GET metrics, as tests read it."""


def parse_metrics(text):
    """{'name{labels}': value} of the Prometheus text (comments left out)."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out
