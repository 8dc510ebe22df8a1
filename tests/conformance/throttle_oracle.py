#!/usr/bin/env python3
"""Answers the throttling timelines of throttle_cases.json with real Django + DRF.

Usage: throttle_oracle.py OUTPUT_JSON [--cases PATH] [--db PATH]

Each scenario is one APIView made here from the scenario (throttle classes, subclasses with
their scope and rate, DEFAULT_THROTTLE_RATES, NUM_PROXIES, permission classes), with
TokenAuthentication over the fixture database. The throttles' `timer` is replaced by a clock
set to each step's `t`, and the cache is cleared before each scenario, so every timeline starts
from empty histories and is exactly repeatable. Requests go through DRF's APIRequestFactory with
REMOTE_ADDR and HTTP_X_FORWARDED_FOR set as a WSGI server would.

Output: {scenario id: [{"status", "body", "retry_after"} per step]}.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DJANGO_DIR = REPO_ROOT / "tests" / "django"


class Clock:
    now = 0.0


def fixed_timer():
    return Clock.now


def make_view(scenario):
    from rest_framework import permissions, throttling
    from rest_framework.authentication import TokenAuthentication
    from rest_framework.response import Response
    from rest_framework.views import APIView

    rates = scenario.get("rates", {})
    builtins = {
        "AnonRateThrottle": throttling.AnonRateThrottle,
        "UserRateThrottle": throttling.UserRateThrottle,
        "ScopedRateThrottle": throttling.ScopedRateThrottle,
    }
    made = {}

    def resolve(name):
        if name in made:
            return made[name]
        spec = scenario.get("classes", {}).get(name)
        if spec is None:
            base = builtins[name]
            attrs = {}
        else:
            base = resolve(spec["base"])
            attrs = {k: spec[k] for k in ("scope", "rate") if k in spec}
        attrs["timer"] = staticmethod(fixed_timer)
        attrs["THROTTLE_RATES"] = rates
        made[name] = type(name, (base,), attrs)
        return made[name]

    throttle_classes = [resolve(name) for name in scenario["throttle_classes"]]
    permission_classes = [
        getattr(permissions, name) for name in scenario.get("permission_classes", ["AllowAny"])
    ]
    attrs = {
        "authentication_classes": [TokenAuthentication],
        "permission_classes": permission_classes,
        "throttle_classes": throttle_classes,
        "get": lambda self, request: Response({"ok": True}),
    }
    if scenario.get("throttle_scope"):
        attrs["throttle_scope"] = scenario["throttle_scope"]
    return type("ThrottledView", (APIView,), attrs).as_view()


def run(scenarios):
    from django.core.cache import cache
    from django.test import override_settings
    from rest_framework.test import APIRequestFactory

    factory = APIRequestFactory()
    answers = {}
    for scenario in scenarios:
        view = make_view(scenario)
        cache.clear()
        rest_framework = {"NUM_PROXIES": scenario.get("num_proxies")}
        steps = []
        with override_settings(REST_FRAMEWORK=rest_framework):
            for step in scenario["steps"]:
                Clock.now = float(step["t"])
                extra = {"REMOTE_ADDR": step.get("remote_addr", "127.0.0.1")}
                if "xff" in step:
                    extra["HTTP_X_FORWARDED_FOR"] = step["xff"]
                if "token" in step:
                    extra["HTTP_AUTHORIZATION"] = "Token " + step["token"]
                method = step.get("method", "GET").lower()
                request = getattr(factory, method)("/throttled/", **extra)
                response = view(request)
                response.render()
                steps.append(
                    {
                        "status": response.status_code,
                        "body": response.content.decode("utf-8"),
                        "retry_after": response.get("Retry-After"),
                    }
                )
        answers[scenario["id"]] = steps
    return answers


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output")
    parser.add_argument("--cases", default=str(Path(__file__).with_name("throttle_cases.json")))
    parser.add_argument("--db", default=str(REPO_ROOT / "build" / "django" / "db.sqlite3"))
    args = parser.parse_args()
    scenarios = json.loads(Path(args.cases).read_text())["scenarios"]
    with tempfile.TemporaryDirectory() as tmp:
        db_copy = Path(tmp) / "db.sqlite3"
        shutil.copy(args.db, db_copy)
        os.environ["DRFGATE_DJANGO_DB"] = str(db_copy)
        os.environ["DJANGO_SETTINGS_MODULE"] = "refproj.settings"
        sys.path.insert(0, str(DJANGO_DIR))
        import django

        django.setup()
        answers = run(scenarios)
    Path(args.output).write_text(json.dumps(answers, indent=1, sort_keys=True) + "\n")
    throttled = sum(a["status"] == 429 for steps in answers.values() for a in steps)
    print(f"throttle oracle: {len(answers)} scenarios, {throttled} answers 429")


if __name__ == "__main__":
    main()
