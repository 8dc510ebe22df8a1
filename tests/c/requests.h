/* A fixed set of requests against tests' config (written by c_tests.rs over the Django
 * fixture database) with the answers DRF gives them: cached Token allows, refusals of each
 * kind, an anonymous allow. Shared by the threads and memory tests. */
#ifndef DRFGATE_TEST_REQUESTS_H
#define DRFGATE_TEST_REQUESTS_H

#include <strings.h>

#include "harness.h"

struct known_request {
    const char *method;
    const char *path;
    const char *authorization; /* NULL: no header */
    unsigned status;
    const char *username;      /* NULL: anonymous or denied */
    const char *body;          /* NULL: allowed */
};

static const struct known_request KNOWN[] = {
    {"GET", "/api/orders/42/", "Token abcd1234", 200, "john", NULL},
    {"get", "/api/orders/42/", "Token admin123", 200, "admin", NULL},
    {"GET", "/api/orders/42/", "Token not-a-real-token", 401, NULL, "{\"detail\":\"Invalid token.\"}"},
    {"GET", "/api/orders/42/", NULL, 401, NULL, "{\"detail\":\"Authentication credentials were not provided.\"}"},
    {"DELETE", "/api/orders/42/", "Token abcd1234", 405, NULL, "{\"detail\":\"Method \\\"DELETE\\\" not allowed.\"}"},
    {"GET", "/api/admin/", "Token abcd1234", 403, NULL, "{\"detail\":\"You do not have permission to perform this action.\"}"},
    {"GET", "/api/admin/", "Token admin123", 200, "admin", NULL},
    {"GET", "/api/public/", NULL, 200, NULL, NULL},
    {"GET", "/api/orders/42/", "Token inactive1", 401, NULL, "{\"detail\":\"User inactive or deleted.\"}"},
    {"GET", "/nowhere", NULL, 401, NULL, "{\"detail\":\"Authentication credentials were not provided.\"}"},
};
#define KNOWN_COUNT (sizeof KNOWN / sizeof KNOWN[0])

struct one_header {
    const char *name;
    const char *value;
};

static inline bool one_header_lookup(void *userdata, const char *name, size_t name_len, size_t index, drfgate_bytes *out) {
    const struct one_header *h = userdata;
    if (!h->value || index > 0 || strlen(h->name) != name_len || strncasecmp(h->name, name, name_len) != 0) {
        return false;
    }
    *out = bytes_of(h->value);
    return true;
}

/* Decides KNOWN[i], through the header array or the callback, and checks the answer: into
 * a new decision (drfgate_gate_decide, freed after), or into `reused` when it is not NULL
 * (drfgate_gate_decide_into, kept). Returns 1 when it matched. */
static inline int decide_known_into(const drfgate_gate *gate, size_t i, int use_callback, drfgate_decision *reused) {
    const struct known_request *k = &KNOWN[i];
    drfgate_header header = {bytes_of("Authorization"), bytes_of(k->authorization)};
    struct one_header lookup_data = {"Authorization", k->authorization};
    drfgate_request req = DRFGATE_REQUEST_INIT;
    req.method = bytes_of(k->method);
    req.path = bytes_of(k->path);
    req.remote_addr = bytes_of("127.0.0.1");
    if (use_callback) {
        req.header_value = one_header_lookup;
        req.header_userdata = &lookup_data;
    } else if (k->authorization) {
        req.headers = &header;
        req.headers_len = 1;
    }
    drfgate_decision *d = reused;
    drfgate_result r = reused ? drfgate_gate_decide_into(gate, &req, reused) : drfgate_gate_decide(gate, &req, &d);
    if (r != DRFGATE_RESULT_OK) {
        fprintf(stderr, "KNOWN[%zu]: decide returned %s: %s\n", i, drfgate_result_text(r), last_error());
        return 0;
    }
    int ok = drfgate_decision_status(d) == k->status;
    drfgate_str name = {0};
    drfgate_result has_name = drfgate_decision_username(d, &name);
    ok = ok && (k->username ? has_name == DRFGATE_RESULT_OK && str_is(name, k->username)
                            : has_name == DRFGATE_RESULT_ABSENT);
    drfgate_bytes body = {0};
    drfgate_result has_body = drfgate_decision_body(d, &body);
    ok = ok && (k->body ? has_body == DRFGATE_RESULT_OK && bytes_are(body, k->body)
                        : has_body == DRFGATE_RESULT_ABSENT);
    if (!ok) {
        fprintf(stderr, "KNOWN[%zu] %s %s: got status %u, user %.*s, body %.*s\n", i, k->method, k->path,
                (unsigned)drfgate_decision_status(d), has_name == DRFGATE_RESULT_OK ? (int)name.len : 1,
                has_name == DRFGATE_RESULT_OK ? name.data : "-", has_body == DRFGATE_RESULT_OK ? (int)body.len : 1,
                has_body == DRFGATE_RESULT_OK ? (const char *)body.data : "-");
    }
    if (!reused) drfgate_decision_free(d);
    return ok;
}

static inline int decide_known(const drfgate_gate *gate, size_t i, int use_callback) {
    return decide_known_into(gate, i, use_callback, NULL);
}

#endif
