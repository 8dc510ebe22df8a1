"""Django-shaped databases on the PostgreSQL and MariaDB/MySQL servers, for the network stores'
tests (issue 12). A database is named by a URL, as drfgate's DATABASE setting names it:

  postgres://user[:password]@host[:port]/name     (psycopg 3)
  mysql://user[:password]@host[:port]/name        (PyMySQL, installed as MySQLdb)

anything else is a SQLite file. Used by refproj.settings (DATABASES), make_fixture_db.py
(recreate) and oracle.py (copy: logins may rewrite password hashes).
"""
from urllib.parse import unquote, urlsplit

ENGINES = {
    "postgres": "django.db.backends.postgresql",
    "postgresql": "django.db.backends.postgresql",
    "mysql": "django.db.backends.mysql",
}


def is_server(url):
    return urlsplit(str(url)).scheme in ENGINES


def parts(url):
    split = urlsplit(url)
    return {
        "scheme": split.scheme,
        "user": unquote(split.username or ""),
        "password": unquote(split.password or ""),
        "host": split.hostname or "127.0.0.1",
        "port": split.port or (5432 if split.scheme.startswith("postgres") else 3306),
        "name": split.path.lstrip("/"),
    }


def django_database(url):
    """DATABASES["default"] for a URL or a SQLite path."""
    if not is_server(url):
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(url)}
    p = parts(url)
    database = {
        "ENGINE": ENGINES[p["scheme"]],
        "NAME": p["name"],
        "USER": p["user"],
        "PASSWORD": p["password"],
        "HOST": p["host"],
        "PORT": str(p["port"]),
    }
    if p["scheme"] == "mysql":
        import pymysql

        pymysql.install_as_MySQLdb()
        # What a Django site on MariaDB has: utf8mb4 and the server's default collation.
        database["OPTIONS"] = {"charset": "utf8mb4"}
    return database


def _admin(url):
    """A connection to the server (not to the database `url` names), autocommitting."""
    p = parts(url)
    if p["scheme"] == "mysql":
        import pymysql

        return pymysql.connect(host=p["host"], port=p["port"], user=p["user"],
                               password=p["password"], autocommit=True)
    import psycopg

    return psycopg.connect(host=p["host"], port=p["port"], user=p["user"],
                           password=p["password"] or None, dbname="postgres", autocommit=True)


def recreate(url):
    """Drops the database `url` names and makes it again, empty."""
    p = parts(url)
    with _admin(url) as conn:
        cursor = conn.cursor()
        if p["scheme"] == "mysql":
            cursor.execute(f"DROP DATABASE IF EXISTS `{p['name']}`")
            cursor.execute(f"CREATE DATABASE `{p['name']}` CHARACTER SET utf8mb4")
        else:
            cursor.execute(f'DROP DATABASE IF EXISTS "{p["name"]}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{p["name"]}"')


def copy(url, new_name):
    """A copy of the database `url` names, as `new_name`; returns its URL."""
    p = parts(url)
    new_url = url.rsplit("/", 1)[0] + "/" + new_name
    with _admin(url) as conn:
        cursor = conn.cursor()
        if p["scheme"] == "mysql":
            cursor.execute(f"DROP DATABASE IF EXISTS `{new_name}`")
            cursor.execute(f"CREATE DATABASE `{new_name}` CHARACTER SET utf8mb4")
            cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
            cursor.execute("SELECT table_name FROM information_schema.tables "
                           "WHERE table_schema = %s AND table_type = 'BASE TABLE'", (p["name"],))
            for (table,) in cursor.fetchall():
                cursor.execute(f"CREATE TABLE `{new_name}`.`{table}` LIKE `{p['name']}`.`{table}`")
                cursor.execute(f"INSERT INTO `{new_name}`.`{table}` SELECT * FROM `{p['name']}`.`{table}`")
        else:
            cursor.execute(f'DROP DATABASE IF EXISTS "{new_name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{new_name}" TEMPLATE "{p["name"]}"')
    return new_url
