"""The backends a node talks to, each a real server started for the test:
Redis, PostgreSQL, and nginx in front of nodes."""
from .nginx import Nginx, nginx_conf, start_nginx
from .postgres import Postgres
from .redis import Redis, persisting
