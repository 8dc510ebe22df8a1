"""Differential requests for what Django and DRF answer before authentication
(docs/features.md, "Before authentication"; spec drf-around-auth.md §1, §2, §4): hosts against
ALLOWED_HOSTS, content negotiation (Accept, ?format=, format suffixes) and request targets
(fragments, absolute form).

A request marked `may_pass` may be passed to the application (X-Drfgate-Decision: pass) — where
DRF renders its answer with a renderer the gate does not write (the browsable API's HTML) — or
answered, and then must agree with DRF."""

import base64

GOOD_TOKEN = b"Token abcd1234"
# john's session in the fixture database (tests/django/make_fixture_db.py), and a CSRF secret.
JOHN_SESSION = b"sessionid=johnsessionkey000000000000000001"
CSRF_SECRET = b"Zx8kq2LmN4pR7sTvW1yB3dF5gH6jK9cE"
BAD_TOKEN = b"Token nope-not-a-token"

# (label, Host header value)
HOSTS = [
    ("allowed", b"127.0.0.1"),
    ("allowed with port", b"127.0.0.1:8000"),
    ("upper case", b"LOCALHOST"),
    ("trailing dot", b"localhost."),
    ("ipv6 with port", b"[::1]:80"),
    ("not allowed", b"evil.example"),
    ("not allowed, port", b"evil.example:8000"),
    ("two trailing dots", b"localhost.."),
    ("empty port", b"localhost:"),
    ("underscore", b"a_b.test"),
    ("empty", b""),
    ("comma list", b"localhost,evil.example"),
]

# Accept values of the spec's table (§2.6), judged on views with the default renderers.
ACCEPTS = [
    None, b"", b" ", b",", b"*/*", b"*", b"application/json", b"APPLICATION/JSON",
    b"application/json;q=0", b"text/html", b"text/html, application/json",
    b"text/html;q=1.0, application/json;q=0.1", b"text/html; charset=utf-8, application/json",
    b"application/json; indent=4", b"application/json; indent=4, text/html; charset=utf-8",
    b"application/json; Indent=4", b"application/json; indent=\"5\"", b"application/json; indent=100",
    b"application/json; indent=abc", b"application/json ; indent=1", b"*/*; indent=2",
    b"application/*; indent=3", b"application/*", b"*/json", b"text/*", b"image/png", b"garbage",
    b"application/vnd.api+json", b"image/png, */*;q=0.1", b"application/json, garbage",
    b"application/json; a*=bogus''x",
    b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    b"image/png," * 64 + b"application/json", b"image/png," * 63 + b"application/json",
    b"x" * 300 + b", application/json",
]

QUERIES = [
    b"format=json", b"format=api", b"format=xml", b"format=JSON", b"format=", b"format=json&format=api",
    b"format=api&format=json", b"format=js%6Fn", b"%66ormat=xml", b"a=1&format=xml&b=2",
]


def credentials(auth):
    return [(b"Authorization", auth)] if auth else []


def add_around_auth_requests(generator):
    views = generator.document["views"]

    # DRF renders every refusal of a view whose first renderer is not JSONRenderer as that
    # renderer's page (the browsable API's HTML): the gate passes those on, for every request
    # the other generators made too.
    html_views = {name for name, spec in views.items()
                  if spec.get("renderer_classes", ["JSONRenderer"])[0] != "JSONRenderer"}
    for request in generator.requests:
        if request["view"] in html_views:
            request["may_pass"] = True

    def path(view):
        return ("/" + views[view]["path"]).encode()

    def add(id_, feature, view, method, headers, target=None, host=None, may_pass=False, compare="full"):
        generator.add(id_, feature, view, method, headers, target=target, compare=compare)
        if host is not None:
            generator.requests[-1]["host"] = host
        generator.requests[-1]["may_pass"] = may_pass

    # Hosts: CommonMiddleware refuses them with Django's 400 page before any view.
    for label, host in HOSTS:
        for auth in (None, GOOD_TOKEN, BAD_TOKEN):
            add(f"hosts:{label}:{auth and auth[:9]!r}", "hosts", "token_ia", b"GET", credentials(auth), host=host)
        add(f"hosts:{label}:POST", "hosts", "token_ia", b"POST", credentials(GOOD_TOKEN), host=host)
    add("hosts:x-forwarded-host ignored", "hosts", "token_ia", b"GET",
        [(b"X-Forwarded-Host", b"evil.example")] + credentials(GOOD_TOKEN))
    # No route: the exported config passes unmatched paths on; Django answers 400 itself.
    add("hosts:unmatched", "hosts", None, b"GET", [], target=b"/api/nope/", host=b"evil.example", may_pass=True)

    # Negotiation precedes authentication: a 406 beats a 401.
    for accept in ACCEPTS:
        for auth in (None, GOOD_TOKEN, BAD_TOKEN):
            headers = credentials(auth) + ([(b"Accept", accept)] if accept is not None else [])
            # Ids are unique: the Layer's copies find DRF's answer by them.
            shown = accept if accept is None or len(accept) <= 40 else accept[:40] + b"... (%d bytes)" % len(accept)
            add(f"negotiation:accept {shown!r}:{auth and auth[:9]!r}",
                "negotiation", "token_ia", b"GET", headers, may_pass=True)
    for query in QUERIES:
        for auth in (None, GOOD_TOKEN, BAD_TOKEN):
            add(f"negotiation:?{query.decode()}:{auth and auth[:9]!r}", "negotiation", "token_ia", b"GET",
                credentials(auth), target=path("token_ia") + b"?" + query, may_pass=True)
    for accept, query in ((b"text/html", b"format=json"), (b"application/json", b"format=api"),
                          (b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", b"format=json")):
        add(f"negotiation:{accept[:20]!r}?{query.decode()}", "negotiation", "token_ia", b"GET",
            [(b"Accept", accept)], target=path("token_ia") + b"?" + query, may_pass=True)
    for method in (b"POST", b"DELETE", b"OPTIONS", b"PUT", b"HEAD"):
        add(f"negotiation:{method.decode()} image/png", "negotiation", "token_ia", method,
            [(b"Accept", b"image/png")] + credentials(BAD_TOKEN))
    for view in ("neg_json_only", "neg_html_first"):
        if view not in generator.views:
            continue
        for accept in (None, b"text/html", b"image/png", b"application/json"):
            for auth in (None, GOOD_TOKEN, BAD_TOKEN):
                headers = credentials(auth) + ([(b"Accept", accept)] if accept is not None else [])
                add(f"negotiation:{view}:{accept!r}:{auth and auth[:9]!r}", "negotiation", view, b"GET",
                    headers, may_pass=True)
        add(f"negotiation:{view}:?format=xml", "negotiation", view, b"GET", [],
            target=path(view) + b"?format=xml", may_pass=True)
    if "neg_suffix" in generator.views:
        base = path("neg_suffix").rstrip(b"/")
        for suffix in (b".json", b".api", b".xml", b".json/", b".json?format=api", b".api?format=json"):
            for auth in (None, GOOD_TOKEN, BAD_TOKEN):
                add(f"negotiation:suffix {suffix.decode()}:{auth and auth[:9]!r}", "negotiation",
                    "neg_suffix", b"GET", credentials(auth), target=base + suffix, may_pass=True)
        for suffix in (b".JSON", b"/.json", b".json.api"):
            add(f"negotiation:suffix {suffix.decode()} (no route)", "negotiation (no route, status only)",
                None, b"GET", [], target=base + suffix, may_pass=True, compare="status")

    # Request targets as gunicorn reads them.
    for label, target in (
        ("fragment", path("token_ia") + b"#frag"),
        ("query and fragment", path("token_ia") + b"?format=xml#frag"),
        ("fragment hides the query", path("token_ia") + b"#?format=xml"),
        ("absolute form", b"http://other.example" + path("token_ia")),
        ("absolute form, upper-case scheme", b"HTTP://OTHER.example:99" + path("token_ia") + b"?format=xml"),
    ):
        for auth in (None, GOOD_TOKEN):
            add(f"targets:{label}:{auth and auth[:9]!r}", "request targets", "token_ia", b"GET",
                credentials(auth), target=target)
    # The authority of an absolute-form target against the Host header: gunicorn keeps the
    # Host header, Apache replaces it with the authority (http only), nginx keeps it.
    for label, target, host in (
        ("absolute form, allowed authority, Host not", b"http://127.0.0.1" + path("token_ia"), b"evil.example"),
        ("absolute form, authority with port, Host not", b"http://localhost:8000" + path("token_ia"),
         b"evil.example"),
        ("absolute form https, allowed authority, Host not", b"https://localhost" + path("token_ia"),
         b"evil.example"),
        ("absolute form, authority not allowed, Host allowed", b"http://evil.example:80" + path("token_ia"),
         b"localhost"),
        ("absolute form, no path", b"http://127.0.0.1", b"127.0.0.1"),
    ):
        routed = target.endswith(b"/")
        # No route: the config's `unmatched` policy answers (Django's 404 is its HTML page).
        add(f"targets:{label}", "request targets", "token_ia" if routed else None, b"GET",
            credentials(GOOD_TOKEN), target=target, host=host, may_pass=not routed,
            compare="full" if routed else "status")
    # An https:// absolute-form target over plain HTTP: the connection, not the target, makes
    # the request secure (is_secure(), and so CSRF's Origin and Referer checks): a session's
    # unsafe request without a Referer passes, an https Origin is another origin.
    if "session_ia" in generator.views:
        session = [(b"Cookie", JOHN_SESSION + b"; csrftoken=" + CSRF_SECRET), (b"X-CSRFToken", CSRF_SECRET)]
        for label, extra in (("no Referer", []), ("https Origin", [(b"Origin", b"https://127.0.0.1")]),
                             ("http Origin", [(b"Origin", b"http://127.0.0.1")]),
                             ("https Referer", [(b"Referer", b"https://127.0.0.1/x")])):
            for scheme in (b"https://127.0.0.1", b"http://127.0.0.1", b""):
                add(f"targets:session DELETE {scheme.decode() or 'origin-form'}, {label}", "request targets",
                    "session_ia", b"DELETE", session + extra, target=scheme + path("session_ia"))

    # At the servers' limits (issue 15, part 5): a header line of 8,000 bytes, 90 more headers, a
    # Cookie header of 800 cookies, a path of a thousand escapes. Every front end's server takes
    # them (Apache and gunicorn: 8,190-byte fields and 100 of them, request lines of 8,190 and
    # 4,094 bytes; nginx: 8 KiB header buffers; hyper: 100 headers), so each reaches the gate
    # and must get DRF's answer, and the server must still answer afterwards.
    padding = [(b"X-Pad-%02d" % i, b"v" * 40) for i in range(90)]
    cookies = b"; ".join(b"c%d=%d" % (i, i) for i in range(800))
    add("limits:8,000-byte junk token", "limits", "token_ia", b"GET",
        [(b"Authorization", b"Token " + b"x" * 7980)])
    add("limits:8,000-byte Basic credentials", "limits", "token_ia", b"GET",
        [(b"Authorization", b"Basic " + base64.b64encode(b"john:" + b"p" * 5980))])
    add("limits:90 more headers, good token", "limits", "token_ia", b"GET", padding + credentials(GOOD_TOKEN))
    add("limits:90 more headers, bad token", "limits", "token_ia", b"GET", padding + credentials(BAD_TOKEN))
    add("limits:800 cookies, good token", "limits", "token_ia", b"GET",
        [(b"Cookie", cookies)] + credentials(GOOD_TOKEN))
    add("limits:800 cookies, no credentials", "limits", "token_ia", b"GET", [(b"Cookie", cookies)])
    add("limits:a thousand escapes, no route", "limits", None, b"GET", credentials(GOOD_TOKEN),
        target=path("token_ia") + b"%41" * 1000, may_pass=True, compare="status")
    add("limits:a thousand escaped slashes, no route", "limits", None, b"GET", credentials(BAD_TOKEN),
        target=path("token_ia") + b"%2F" * 1000, may_pass=True, compare="status")


# The `forwarded_hosts` settings variant (session_variants.HOST_SETTINGS_VARIANTS: refproj with
# USE_X_FORWARDED_HOST and USE_X_FORWARDED_PORT, ALLOWED_HOSTS adding .example.test and
# public.example): (label, Host, [(name, value), ...] of forwarded headers).
FORWARDED = [
    ("allowed, Host not", b"evil.example", [(b"X-Forwarded-Host", b"public.example")]),
    ("allowed, with port", b"evil.example", [(b"X-Forwarded-Host", b"public.example:8443")]),
    ("allowed, upper case, trailing dot", b"evil.example", [(b"X-Forwarded-Host", b"PUBLIC.EXAMPLE.")]),
    ("allowed subdomain", b"127.0.0.1", [(b"X-Forwarded-Host", b"a.b.example.test:99")]),
    ("not allowed, Host allowed", b"127.0.0.1", [(b"X-Forwarded-Host", b"evil.example")]),
    ("empty, Host allowed", b"127.0.0.1", [(b"X-Forwarded-Host", b"")]),
    ("comma list", b"127.0.0.1", [(b"X-Forwarded-Host", b"public.example, evil.example")]),
    ("comma list, no space", b"127.0.0.1", [(b"X-Forwarded-Host", b"public.example,127.0.0.1")]),
    ("comma list, both allowed", b"127.0.0.1", [(b"X-Forwarded-Host", b"public.example,public.example")]),
    ("two headers", b"127.0.0.1", [(b"X-Forwarded-Host", b"public.example"),
                                   (b"X-Forwarded-Host", b"public.example")]),
    ("lower-case name", b"evil.example", [(b"x-forwarded-host", b"public.example")]),
    ("spaces around", b"evil.example", [(b"X-Forwarded-Host", b"  public.example  ")]),
    ("underscore name (dropped by the server)", b"127.0.0.1", [(b"X_Forwarded_Host", b"evil.example")]),
    ("empty port", b"127.0.0.1", [(b"X-Forwarded-Host", b"public.example:")]),
    ("underscore", b"127.0.0.1", [(b"X-Forwarded-Host", b"a_b.example.test")]),
    ("ipv6", b"evil.example", [(b"X-Forwarded-Host", b"[::1]:8000")]),
    ("with port header", b"evil.example", [(b"X-Forwarded-Host", b"public.example"),
                                           (b"X-Forwarded-Port", b"8443")]),
    ("port header alone", b"127.0.0.1", [(b"X-Forwarded-Port", b"8443")]),
    ("port header, Host not allowed", b"evil.example", [(b"X-Forwarded-Port", b"443")]),
    ("port header junk", b"localhost", [(b"X-Forwarded-Port", b"abc, 1")]),
]


# The `debug_hosts` settings variant (refproj with DEBUG = True and ALLOWED_HOSTS = []): Django
# then allows the local names only, and refuses any other host with its technical 400 page,
# which the gate leaves to Django (passes on): (label, Host, refused by Django).
DEBUG_HOSTS = [
    ("localhost", b"localhost", False),
    ("upper case", b"LOCALHOST", False),
    ("subdomain", b"a.localhost", False),
    ("port", b"localhost:8000", False),
    ("trailing dot", b"localhost.", False),
    ("127.0.0.1 with port", b"127.0.0.1:9", False),
    ("ipv6 with port", b"[::1]:8000", False),
    ("testserver", b"testserver", True),
    ("not local", b"evil.example", True),
    ("empty", b"", True),
    ("badlocalhost", b"badlocalhost", True),
]


def add_host_variant_requests(generator, variant):
    """The requests of host settings variant `variant` (session_variants.HOST_SETTINGS_VARIANTS),
    on the Token view."""
    if variant == "forwarded_hosts":
        rows = [(label, host, forwarded, False) for label, host, forwarded in FORWARDED]
    elif variant == "debug_hosts":
        rows = [(label, host, [], refused) for label, host, refused in DEBUG_HOSTS]
    else:
        raise ValueError(f"no requests for host settings variant {variant!r}")
    for label, host, headers, may_pass in rows:
        for auth in (None, GOOD_TOKEN, BAD_TOKEN):
            # Django's technical 400 page shows the request itself: status only.
            generator.add(f"{variant}: {label}: {auth and auth[:9]!r}", f"hosts ({variant})", "token_ia",
                          b"GET", headers + credentials(auth), compare="status" if may_pass else "full")
            generator.requests[-1].update(host=host, may_pass=may_pass, settings_variant=variant)
