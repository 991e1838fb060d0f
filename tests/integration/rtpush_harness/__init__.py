"""Starts a real lwsws with the installed rtpush plugins, its backends, and
talks to it. One module per job:

  env         what CTest passes (RTPUSH_PREFIX, LWSWS, the ASan runtime)
  processes   free ports, process groups, waiting for a condition
  server      Server (one lwsws node) and ServerCase
  backends/   Redis, RedisSentinelSet, RedisCluster, Postgres, Nginx: real
              servers started for a test
  clients     Client (every encoding), subscribe, recv_type, no_frame...
  wire        RawWebSocket and upgrade_status: WebSocket byte for byte
  h2          HTTP/2 frames by hand
  tokens      JWTs minted at test time, KeyPair
  raw_http    timed requests from a chosen address, HeadFlood
  publisher   FedPublisher (rtpush-publish fed from a thread)
  metrics     the Prometheus text as a dict

The tests import every name from the package itself (`from rtpush_harness
import Server, recv_type`): this file is that surface, whatever module a
name lives in.
"""
from .backends import (Nginx, Postgres, Redis, RedisCluster, RedisSentinelSet, nginx_conf, persisting,
                       start_nginx)
from .clients import (ENCODINGS, Client, id_pair, no_frame, protobuf_module, recv_json, recv_type, subscribe,
                      subscribe_through)
from .env import (ASAN_RUNTIME, LWSWS, PLUGIN_DIR, PREFIX, PUBLISH_CLI, lwsws_env, required_program,
                  sanitizer_reports)
from .h2 import h2_frame, h2_frames, h2_status, hpack_literal
from .metrics import parse_metrics
from .processes import free_port, stop_process_group, until, wait_until
from .publisher import FedPublisher
from .raw_http import HeadFlood, timed_get, timed_request
from .server import Server, ServerCase
from .tokens import KeyPair, b64url, mint_hs256, mint_unsigned
from .wire import RawWebSocket, upgrade_status

__all__ = [
    "ASAN_RUNTIME", "Client", "ENCODINGS", "FedPublisher", "HeadFlood", "KeyPair", "LWSWS", "Nginx", "PLUGIN_DIR",
    "PREFIX", "PUBLISH_CLI", "Postgres", "RawWebSocket", "Redis", "RedisCluster", "RedisSentinelSet", "Server",
    "ServerCase", "b64url", "free_port",
    "h2_frame", "h2_frames", "h2_status", "hpack_literal", "id_pair", "lwsws_env", "mint_hs256", "mint_unsigned",
    "nginx_conf", "no_frame", "parse_metrics", "persisting", "protobuf_module", "recv_json", "recv_type",
    "required_program", "sanitizer_reports", "start_nginx", "stop_process_group", "subscribe", "subscribe_through",
    "timed_get", "timed_request", "until", "upgrade_status", "wait_until",
]
