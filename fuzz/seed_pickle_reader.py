#!/usr/bin/env python3
"""Seeds fuzz/corpus/pickle_reader with values as Django's RedisCache stores sessions: real
logins through the cache session engine on the local Redis (the raw bytes read back from Redis),
the same session dicts pickled with every protocol, and sessions holding objects (the reader
refuses those). Run once with the venv's Python from the repository root:

    .venv/bin/python fuzz/seed_pickle_reader.py

It needs the fixture database (`make fixture-db`) and Redis at 127.0.0.1:6379; the keys it
writes are deleted again. Files are named by their SHA-1, as libFuzzer names corpus entries.
"""
import datetime
import decimal
import hashlib
import os
import pickle
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fuzz" / "corpus" / "pickle_reader"
PREFIX = f"drfgate-fuzz-seed-{os.getpid()}"

os.environ.update(
    DJANGO_SETTINGS_MODULE="refproj.settings",
    DRFGATE_DJANGO_DB=str(ROOT / "build" / "django" / "db.sqlite3"),
    DRFGATE_SESSION_ENGINE="django.contrib.sessions.backends.cache",
    DRFGATE_REDIS_CACHE="redis://127.0.0.1:6379/0",
    DRFGATE_CACHE_KEY_PREFIX=PREFIX,
)
sys.path.insert(0, str(ROOT / "tests" / "django"))

import django  # noqa: E402

django.setup()
from django.contrib.auth import login  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.contrib.sessions.backends.cache import SessionStore  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.middleware.csrf import get_token  # noqa: E402
from django.test import RequestFactory  # noqa: E402
import redis  # noqa: E402

raw = redis.Redis.from_url("redis://127.0.0.1:6379/0")
seeds = []
extras = [
    {},
    {"cart": [1, 2.5, None, True, (b"x", "y")], "n": 2**70, "neg": -5, "big": 70000},
    {"when": datetime.datetime(2020, 1, 1, 12, 0)},
    {"id": uuid.UUID(int=7), "price": decimal.Decimal("1.50"), "tags": {"a", "b"}},
    {"text": "é\n\\u005c", "nested": {"a": {"b": [[], {}]}}},
]
for username in ("john", "admin"):
    for extra in extras:
        request = RequestFactory().get("/")
        request.session = SessionStore()
        login(request, User.objects.get(username=username),
              backend="django.contrib.auth.backends.ModelBackend")
        get_token(request)
        request.session.update(extra)
        request.session.save()
        key = cache.make_key(request.session.cache_key)
        seeds.append(raw.get(key))
        data = dict(request.session.items())
        for protocol in range(0, pickle.HIGHEST_PROTOCOL + 1):
            try:
                seeds.append(pickle.dumps(data, protocol))
            except Exception:
                pass
        raw.delete(key)
seeds += [b"42", b"cos\nsystem\n(S'true'\ntR.", pickle.dumps([1, 2], 5)]
OUT.mkdir(parents=True, exist_ok=True)
for seed in seeds:
    (OUT / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
print(f"{len(set(seeds))} seeds in {OUT}")
