"""The URLconf flattened, in the order Django's resolver tries it: each endpoint with its whole
pattern (the include() prefixes joined to it) in the gate's spelling, its namespaced name and
its callback.

A pattern made only of path() parts with Django's own converters stays a `path`; anything else
(a re_path() part, a registered converter such as DRF's format suffixes) becomes one `regex`
whose parts are joined as the resolver matches them: each prefix anchored at the start of what
is left of the path.
"""
import re
from dataclasses import dataclass
from typing import Callable, Optional

from django.urls import URLPattern, URLResolver, converters
from django.urls.resolvers import RegexPattern, RoutePattern

# Django's <converter:name> syntax in a path() route.
_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<parameter>[^>]+)>")
_BUILTIN = {
    "str": converters.StringConverter,
    "int": converters.IntConverter,
    "slug": converters.SlugConverter,
    "uuid": converters.UUIDConverter,
    "path": converters.PathConverter,
}


@dataclass
class Endpoint:
    path: Optional[str]  # Django path() syntax, or
    regex: Optional[str]  # a Python regex (re_path() semantics: fullmatch when it ends with $)
    name: Optional[str]
    callback: Callable
    source: str  # how the pattern reads in urls.py, for warnings


@dataclass
class Skipped:
    source: str
    reason: str


def walk(patterns):
    """Yields an Endpoint or a Skipped (a pattern the gate cannot express) per endpoint."""
    yield from _walk(patterns, (), ())


def _walk(patterns, parts, namespaces):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = namespaces + ((entry.namespace,) if entry.namespace else ())
            yield from _walk(entry.url_patterns, parts + (entry.pattern,), inner)
        elif isinstance(entry, URLPattern):
            whole = parts + (entry.pattern,)
            source = "".join(str(p) for p in whole)
            name = ":".join(namespaces + (entry.name,)) if entry.name else None
            try:
                path, regex = _gate_pattern(whole)
            except ValueError as error:
                yield Skipped(source, str(error))
                continue
            yield Endpoint(path, regex, name, entry.callback, source)


def _gate_pattern(parts):
    if all(isinstance(p, RoutePattern) and _builtin_converters_only(p) for p in parts):
        return "".join(str(p._route) for p in parts), None
    pieces = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if isinstance(part, RoutePattern):
            pieces.append(_route_regex(str(part._route)) + ("$" if last else ""))
        elif isinstance(part, RegexPattern):
            text = str(part._regex)
            if not text.startswith("^"):
                # The resolver searches such a pattern anywhere in what is left of the path;
                # joined to its prefix it would mean something else.
                raise ValueError(f"re_path({text!r}) does not start with ^")
            if re.search(r"\(\?[aiLmsux]+\)", text):
                raise ValueError(f"re_path({text!r}) sets inline flags")
            pieces.append(text[1:])
        else:
            raise ValueError(f"{type(part).__name__} (e.g. i18n_patterns) depends on the request")
    return None, "^" + "".join(pieces)


def _builtin_converters_only(part):
    registered = converters.get_converters()
    for match in _PARAMETER.finditer(str(part._route)):
        name = match.group("converter") or "str"
        if type(registered.get(name)) is not _BUILTIN.get(name):
            return False
    return True


def _route_regex(route):
    """A path() route as the regex Django compiles it to, without anchors."""
    registered = converters.get_converters()
    out, position = [], 0
    for match in _PARAMETER.finditer(route):
        converter = registered[match.group("converter") or "str"]
        out.append(re.escape(route[position:match.start()]))
        out.append(f"(?P<{match.group('parameter')}>{converter.regex})")
        position = match.end()
    out.append(re.escape(route[position:]))
    return "".join(out)
