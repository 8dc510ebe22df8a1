/* A decision the caller owns and refills (drfgate_decision_new, drfgate_gate_decide_into,
 * drfgate_gate_decide_cached_into): it answers exactly as a new decision does, request after
 * request; every result but OK leaves it empty, never with the previous request's answer;
 * NULLs are refused like everywhere else.
 * Usage: reuse CONFIG */
#include <sys/wait.h>
#include <unistd.h>

#include "requests.h"

static drfgate_request known_request(size_t i, drfgate_header *header) {
    drfgate_request req = DRFGATE_REQUEST_INIT;
    *header = (drfgate_header){bytes_of("Authorization"), bytes_of(KNOWN[i].authorization)};
    req.method = bytes_of(KNOWN[i].method);
    req.path = bytes_of(KNOWN[i].path);
    if (KNOWN[i].authorization) {
        req.headers = header;
        req.headers_len = 1;
    }
    return req;
}

/* Every value of an empty decision is absent. */
static void check_empty(const drfgate_decision *d, int line) {
    drfgate_str s = {0};
    drfgate_bytes b = {0};
    int empty = !drfgate_decision_is_allow(d) && drfgate_decision_status(d) == 0 &&
                !drfgate_decision_is_authenticated(d) && !drfgate_decision_is_staff(d) &&
                !drfgate_decision_is_superuser(d) && drfgate_decision_body(d, &b) == DRFGATE_RESULT_ABSENT &&
                drfgate_decision_content_type(d, &s) == DRFGATE_RESULT_ABSENT &&
                drfgate_decision_www_authenticate(d, &s) == DRFGATE_RESULT_ABSENT &&
                drfgate_decision_allow(d, &s) == DRFGATE_RESULT_ABSENT &&
                drfgate_decision_retry_after(d, &s) == DRFGATE_RESULT_ABSENT &&
                drfgate_decision_user_pk(d, &s) == DRFGATE_RESULT_ABSENT &&
                drfgate_decision_username(d, &s) == DRFGATE_RESULT_ABSENT &&
                drfgate_decision_scheme(d, &s) == DRFGATE_RESULT_ABSENT &&
                drfgate_decision_authenticator(d, &s) == DRFGATE_RESULT_ABSENT &&
                drfgate_decision_route(d, &s) == DRFGATE_RESULT_ABSENT &&
                drfgate_decision_handoff(d, &s, &s) == DRFGATE_RESULT_ABSENT;
    if (!empty) {
        fprintf(stderr, "reuse.c:%d: the decision is not empty (status %u)\n", line, (unsigned)drfgate_decision_status(d));
        harness_failures++;
    }
}
#define CHECK_EMPTY(d) check_empty((d), __LINE__)

/* The same answer, field by field. */
static int same_answer(const drfgate_decision *a, const drfgate_decision *b) {
    drfgate_bytes body_a = {0}, body_b = {0};
    drfgate_str sa = {0}, sb = {0};
    int same = drfgate_decision_is_allow(a) == drfgate_decision_is_allow(b) &&
               drfgate_decision_status(a) == drfgate_decision_status(b) &&
               drfgate_decision_body(a, &body_a) == drfgate_decision_body(b, &body_b) && body_a.len == body_b.len &&
               (body_a.len == 0 || memcmp(body_a.data, body_b.data, body_a.len) == 0);
    drfgate_result (*lent[])(const drfgate_decision *, drfgate_str *) = {
        drfgate_decision_www_authenticate, drfgate_decision_allow, drfgate_decision_user_pk,
        drfgate_decision_username,         drfgate_decision_scheme, drfgate_decision_route,
    };
    for (size_t i = 0; i < sizeof lent / sizeof lent[0]; i++) {
        drfgate_result ra = lent[i](a, &sa), rb = lent[i](b, &sb);
        same = same && ra == rb && (ra != DRFGATE_RESULT_OK || (sa.len == sb.len && memcmp(sa.data, sb.data, sa.len) == 0));
    }
    return same;
}

static void nulls_and_empty(const drfgate_gate *gate) {
    drfgate_header header;
    drfgate_request req = known_request(0, &header);
    CHECK_RESULT(drfgate_decision_new(NULL), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_gate_decide_into(gate, &req, NULL), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK(strcmp(last_error(), "drfgate_gate_decide_into: argument `decision` is NULL") == 0);
    CHECK_RESULT(drfgate_gate_decide_cached_into(gate, &req, NULL), DRFGATE_RESULT_NULL_PARAMETER);

    drfgate_decision *d = NULL;
    CHECK_RESULT(drfgate_decision_new(&d), DRFGATE_RESULT_OK);
    CHECK(d != NULL);
    CHECK_EMPTY(d);
    /* A failed call empties the decision it was given, whatever it held. */
    CHECK_RESULT(drfgate_gate_decide_into(gate, &req, d), DRFGATE_RESULT_OK);
    CHECK(drfgate_decision_is_allow(d));
    CHECK_RESULT(drfgate_gate_decide_into(NULL, &req, d), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK(strcmp(last_error(), "drfgate_gate_decide_into: argument `gate` is NULL") == 0);
    CHECK_EMPTY(d);
    CHECK_RESULT(drfgate_gate_decide_into(gate, &req, d), DRFGATE_RESULT_OK);
    CHECK_RESULT(drfgate_gate_decide_into(gate, NULL, d), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_EMPTY(d);
    CHECK_RESULT(drfgate_gate_decide_into(gate, &req, d), DRFGATE_RESULT_OK);
    drfgate_request bad = req;
    bad.path_form = 7;
    CHECK_RESULT(drfgate_gate_decide_into(gate, &bad, d), DRFGATE_RESULT_INVALID_ARGUMENT);
    CHECK_EMPTY(d);
    CHECK_RESULT(drfgate_gate_decide_into(gate, &req, d), DRFGATE_RESULT_OK);
    bad = req;
    bad.struct_size = 8;
    CHECK_RESULT(drfgate_gate_decide_cached_into(gate, &bad, d), DRFGATE_RESULT_INVALID_ARGUMENT);
    CHECK_EMPTY(d);
    drfgate_decision_free(d);
}

/* Request after request into one decision: the answers of new decisions, in any order. */
static void refilled_like_new(const drfgate_gate *gate) {
    drfgate_decision *reused = NULL;
    CHECK_RESULT(drfgate_decision_new(&reused), DRFGATE_RESULT_OK);
    for (size_t round = 0; round < 3; round++) {
        for (size_t k = 0; k < KNOWN_COUNT; k++) {
            size_t i = round == 1 ? KNOWN_COUNT - 1 - k : k;
            drfgate_header header;
            drfgate_request req = known_request(i, &header);
            drfgate_decision *fresh = NULL;
            CHECK_RESULT(drfgate_gate_decide(gate, &req, &fresh), DRFGATE_RESULT_OK);
            CHECK_RESULT(drfgate_gate_decide_into(gate, &req, reused), DRFGATE_RESULT_OK);
            CHECK(drfgate_decision_status(reused) == KNOWN[i].status);
            if (!same_answer(fresh, reused)) {
                fprintf(stderr, "KNOWN[%zu]: the refilled decision differs from a new one\n", i);
                harness_failures++;
            }
            drfgate_decision_free(fresh);
            CHECK(decide_known_into(gate, i, (int)(k % 2), reused));
        }
    }
    drfgate_decision_free(reused);

    /* A decision drfgate_gate_decide made can be refilled too. */
    drfgate_header header;
    drfgate_request allow = known_request(0, &header), deny = known_request(3, &header);
    drfgate_decision *d = NULL;
    CHECK_RESULT(drfgate_gate_decide(gate, &allow, &d), DRFGATE_RESULT_OK);
    CHECK_RESULT(drfgate_gate_decide_into(gate, &deny, d), DRFGATE_RESULT_OK);
    drfgate_str s = {0};
    CHECK(drfgate_decision_status(d) == 401);
    CHECK_RESULT(drfgate_decision_username(d, &s), DRFGATE_RESULT_ABSENT);
    CHECK_RESULT(drfgate_decision_www_authenticate(d, &s), DRFGATE_RESULT_OK);
    CHECK(str_is(s, "Token"));
    drfgate_decision_free(d);
}

/* _cached_into: the cached answer, or ABSENT and an empty decision. */
static void cached_into(const drfgate_gate *gate) {
    drfgate_header header;
    drfgate_request req = known_request(0, &header);
    drfgate_decision *d = NULL;
    CHECK_RESULT(drfgate_decision_new(&d), DRFGATE_RESULT_OK);
    CHECK_RESULT(drfgate_gate_decide_into(gate, &req, d), DRFGATE_RESULT_OK);
    CHECK_RESULT(drfgate_gate_decide_cached_into(gate, &req, d), DRFGATE_RESULT_OK);
    drfgate_str name = {0};
    CHECK_RESULT(drfgate_decision_username(d, &name), DRFGATE_RESULT_OK);
    CHECK(str_is(name, "john"));
    CHECK_RESULT(drfgate_gate_invalidate_token(gate, (const uint8_t *)"abcd1234", 8), DRFGATE_RESULT_OK);
    CHECK_RESULT(drfgate_gate_decide_cached_into(gate, &req, d), DRFGATE_RESULT_ABSENT);
    CHECK_EMPTY(d);
    /* No credentials: answered from the request alone. */
    drfgate_request none = known_request(3, &header);
    CHECK_RESULT(drfgate_gate_decide_cached_into(gate, &none, d), DRFGATE_RESULT_OK);
    CHECK(drfgate_decision_status(d) == 401);
    drfgate_decision_free(d);
}

/* In a forked child the inherited gate refuses, and the decision is emptied. */
static drfgate_gate *volatile inherited_gate;

static void forked(const char *config) {
    drfgate_gate *gate = gate_from_path_or_die(config);
    drfgate_decision *d = NULL;
    CHECK_RESULT(drfgate_decision_new(&d), DRFGATE_RESULT_OK);
    CHECK(decide_known_into(gate, 0, 0, d));
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
        drfgate_header header;
        drfgate_request req = known_request(0, &header);
        int bad = drfgate_gate_decide_into(gate, &req, d) != DRFGATE_RESULT_FORKED;
        bad |= drfgate_decision_is_allow(d) || drfgate_decision_status(d) != 0;
        inherited_gate = gate;
        drfgate_decision_free(d);
        _exit(bad);
    }
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(decide_known_into(gate, 1, 1, d));
    drfgate_decision_free(d);
    drfgate_gate_free(gate);
}

int main(int argc, char **argv) {
    if (argc != 2) die("usage: %s CONFIG", argv[0]);
    drfgate_gate *gate = gate_from_path_or_die(argv[1]);
    nulls_and_empty(gate);
    refilled_like_new(gate);
    cached_into(gate);
    drfgate_gate_free(gate);
    forked(argv[1]);
    return harness_exit("reuse");
}
