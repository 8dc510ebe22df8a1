"""What the revocation tests share (revocation.py: `drfgate serve`; frontends.py: the Apache and
nginx modules): a Django database made by Django's own `migrate` on PostgreSQL or MariaDB, with
drfgate_django's publishers (PostgreSQL's triggers, or the signal handlers that publish on
Redis); users and tokens made through Django; the gates' config; and the connections each
process holds on the database server and on Redis, told apart by their client ports (Linux
/proc).
"""
import os
import socket
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DJANGO_DIR = REPO / "tests" / "django"
SERVERS = {
    "postgres": "postgres://postgres@127.0.0.1:5432",
    "mysql": "mysql://root@127.0.0.1:3306",
}
REDIS = ("127.0.0.1", 6379)
PASSWORD = "s3cret-password"
# The listener's name on the server: the application_name of the PostgreSQL connection, the
# CLIENT SETNAME of the Redis one (followed by ":" and the channel).
LISTENER_NAME = "drfgate-revocation"


class Failure(Exception):
    pass


def database_url(engine, name):
    return f"{SERVERS[engine]}/{name}"


def setup_django(url, engine, channel):
    """Django on a new, empty database `url`, migrated (drfgate_django's migration installs the
    PostgreSQL triggers), publishing on `channel` (through Redis on MariaDB)."""
    os.environ["DRFGATE_DJANGO_DB"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refproj.settings")
    sys.path.insert(0, str(DJANGO_DIR))
    import server_db

    server_db.recreate(url)
    import django
    from django.conf import settings

    django.setup()
    drfgate = {"REVOCATION_CHANNEL": channel}
    if engine == "mysql":
        drfgate["REVOCATION_REDIS_URL"] = "redis://%s:%d/0" % REDIS
    settings.DRFGATE = drfgate
    # Fast hashing: the tests are about revocation, not PBKDF2's cost in a debug build.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def gate_config(url, engine, channel, pool_size):
    """Token and Basic authentication, IsAuthenticated, a 300 s cache (so that only a revocation
    makes a gate refuse a credential it allowed), and the revocation listener: LISTEN on the
    database itself (PostgreSQL) or SUBSCRIBE on Redis (MariaDB)."""
    source = '"database"' if engine == "postgres" else '"redis://%s:%d/0"' % REDIS
    return f"""
[django]
DATABASE = "{url}?pool_size={pool_size}"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = [
    "rest_framework.authentication.TokenAuthentication",
    "rest_framework.authentication.BasicAuthentication",
]
DEFAULT_PERMISSION_CLASSES = ["rest_framework.permissions.IsAuthenticated"]

[cache]
ttl_seconds = 300
permissions_ttl_seconds = 300

[revocation]
source = {source}
channel = "{channel}"
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def token_header(key):
    return "Token " + key


def basic_header(username, password):
    import base64

    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def wait_for(predicate, what, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise Failure(f"timed out waiting for {what}")


def make_user(name, with_token=True):
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    user = User.objects.create_user(name, password=PASSWORD)
    token = Token.objects.create(user=user) if with_token else None
    return user, token


def raw_delete_token(engine, key):
    """Deletes a token behind Django's back and without a notification: the control that shows
    the gates do answer from their cache (so a refusal elsewhere is the revocation's doing)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if engine == "postgres":
            cursor.execute("SET session_replication_role = replica")
        column = connection.ops.quote_name("key")  # a reserved word on MySQL
        cursor.execute(f"DELETE FROM authtoken_token WHERE {column} = %s", [key])
        if engine == "postgres":
            cursor.execute("SET session_replication_role = DEFAULT")


def redis_call(*args):
    sys.path.insert(0, str(REPO / "python" / "drfgate-django" / "src"))
    from drfgate_django.revocation import _command

    with socket.create_connection(REDIS, timeout=5) as sock:
        sock.sendall(_command(*args))
        stream = sock.makefile("rb")
        line = stream.readline()
        if line.startswith(b"$"):
            return stream.read(int(line[1:]) + 2)[:-2]
        return line


def redis_clients():
    """CLIENT LIST, one dict of fields per connection."""
    return [
        dict(part.split("=", 1) for part in line.split() if "=" in part)
        for line in redis_call("CLIENT", "LIST").decode().splitlines()
    ]


def process_socket_ports(pid):
    """The local TCP ports of `pid`'s sockets (Linux /proc): how a server-side connection, seen
    by its client port, is told to belong to one process. Empty for a process that is gone."""
    inodes = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return set()
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            return set()
        for line in lines:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def server_connections(engine, database=None):
    """(client port, name) of every connection the database server has open over TCP, to
    `database` if given; the name is PostgreSQL's application_name (MariaDB has none: '')."""
    from django.db import connection

    with connection.cursor() as cursor:
        if engine == "postgres":
            cursor.execute(
                "SELECT client_port, application_name FROM pg_stat_activity "
                "WHERE client_port > 0 AND (%s::text IS NULL OR datname = %s)",
                [database, database],
            )
            return [(port, name) for port, name in cursor.fetchall()]
        cursor.execute(
            "SELECT host FROM information_schema.PROCESSLIST WHERE %s IS NULL OR db = %s",
            [database, database],
        )
        return [
            (int(host.rsplit(":", 1)[1]), "")
            for (host,) in cursor.fetchall()
            if host and ":" in host
        ]


def count_server_connections(engine, pids, database=None):
    """Connections on the database server per process of `pids`, now."""
    server_ports = [port for port, _ in server_connections(engine, database)]
    return [
        sum(1 for port in server_ports if port in process_socket_ports(pid)) for pid in pids
    ]


def count_redis_connections(pids):
    """Connections on Redis per process of `pids` (the revocation listener's), now."""
    redis_ports = [int(fields["addr"].rsplit(":", 1)[1]) for fields in redis_clients()]
    return [
        sum(1 for port in redis_ports if port in process_socket_ports(pid)) for pid in pids
    ]


def listening_pids(engine, channel, pids, database):
    """The processes of `pids` whose revocation listener is on the server and listening: a
    PostgreSQL connection named LISTENER_NAME whose last statement was its LISTEN, or a Redis
    connection named LISTENER_NAME:channel subscribed to a channel."""
    if engine == "postgres":
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT client_port FROM pg_stat_activity WHERE application_name = %s "
                "AND datname = %s AND query LIKE 'LISTEN%%'",
                [LISTENER_NAME, database],
            )
            ports = {row[0] for row in cursor.fetchall()}
    else:
        ports = {
            int(fields["addr"].rsplit(":", 1)[1])
            for fields in redis_clients()
            if fields.get("name") == f"{LISTENER_NAME}:{channel}"
            and int(fields.get("sub", "0")) >= 1
        }
    return {pid for pid in pids if process_socket_ports(pid) & ports}
