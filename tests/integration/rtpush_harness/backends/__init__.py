"""The backends a node talks to, each a real server started for the test:
Redis (one server, a Sentinel set, a Cluster), PostgreSQL, and nginx in
front of nodes."""
from .cluster import RedisCluster
from .nginx import Nginx, nginx_conf, start_nginx
from .postgres import Postgres
from .redis import Redis, persisting
from .sentinel import RedisSentinelSet
