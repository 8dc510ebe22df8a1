/* NULL and garbage arguments, config errors, the fork rule, and the version macros: every
 * misuse gives a result code, never a crash, and out-pointers stay untouched.
 * Usage: abuse CONFIG|-   (with "-", the parts that need the Django fixture database are
 * skipped) */
#include <stddef.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "requests.h"

#define SENTINEL_GATE ((drfgate_gate *)0x1)
#define SENTINEL_DECISION ((drfgate_decision *)0x1)

static int contains(const char *haystack, const char *needle) { return strstr(haystack, needle) != NULL; }

static void version_and_texts(void) {
    CHECK(strcmp(drfgate_version(), DRFGATE_VERSION) == 0);
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", DRFGATE_VERSION_MAJOR, DRFGATE_VERSION_MINOR, DRFGATE_VERSION_PATCH);
    CHECK(strcmp(expected, DRFGATE_VERSION) == 0);
    CHECK(strcmp(DRFGATE_DENY_CONTENT_TYPE, "application/json") == 0);
    for (uint32_t code = 0; code <= DRFGATE_RESULT_PANIC; code++) CHECK(strlen(drfgate_result_text(code)) > 0);
    CHECK(contains(drfgate_result_text(12345), "unknown"));
    CHECK(contains(drfgate_result_text(UINT32_MAX), "unknown"));
}

static void error_message_copy_out(void) {
    size_t n = 77;
    char buf[8];
    CHECK_RESULT(drfgate_last_error_message(NULL, 0, NULL), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_last_error_message(NULL, 5, &n), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK(n == 77);
    /* Make a known error, then read it back whole, truncated, and by length only. */
    CHECK_RESULT(drfgate_gate_new_from_path(NULL, NULL), DRFGATE_RESULT_NULL_PARAMETER);
    const char *full = "drfgate_gate_new_from_path: argument `path` is NULL";
    CHECK(strcmp(last_error(), full) == 0);
    CHECK_RESULT(drfgate_last_error_message(NULL, 0, &n), DRFGATE_RESULT_OK);
    CHECK(n == strlen(full));
    memset(buf, 'x', sizeof buf);
    CHECK_RESULT(drfgate_last_error_message(buf, sizeof buf, &n), DRFGATE_RESULT_OK);
    CHECK(n == strlen(full) && strcmp(buf, "drfgate") == 0);
    CHECK_RESULT(drfgate_last_error_message(buf, 1, &n), DRFGATE_RESULT_OK);
    CHECK(buf[0] == 0);
}

static char *write_temp(const char *text) {
    static char path[64];
    strcpy(path, "/tmp/drfgate-abuse-XXXXXX.toml");
    int fd = mkstemps(path, 5);
    if (fd < 0) die("mkstemps");
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) die("write");
    close(fd);
    return path;
}

static void config_errors(void) {
    drfgate_gate *gate = SENTINEL_GATE;
    CHECK_RESULT(drfgate_gate_new_from_path(NULL, &gate), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_gate_new_from_path("/x", NULL), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_gate_new_from_str(NULL, 3, NULL, &gate), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_gate_new_from_str("x", 1, NULL, NULL), DRFGATE_RESULT_NULL_PARAMETER);
    /* NULL outranks malformed: the out-pointer is checked before the text. */
    CHECK_RESULT(drfgate_gate_new_from_str("\xff", 1, NULL, NULL), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK(strcmp(last_error(), "drfgate_gate_new_from_str: argument `out_gate` is NULL") == 0);
    /* An empty range may be NULL: an empty config, which lacks [django]. */
    CHECK_RESULT(drfgate_gate_new_from_str(NULL, 0, NULL, &gate), DRFGATE_RESULT_CONFIG);

    CHECK_RESULT(drfgate_gate_new_from_path("/nonexistent/drfgate.toml", &gate), DRFGATE_RESULT_CONFIG);
    CHECK(contains(last_error(), "/nonexistent/drfgate.toml"));

    const char *typo =
        "[django]\n"
        "DATABASE = \"sqlite:///nonexistent/db.sqlite3\"\n"
        "[[routes]]\n"
        "path = \"api/\"\n"
        "permission_classes = [\"IsAuthenticatd\"]\n";
    char *path = write_temp(typo);
    CHECK_RESULT(drfgate_gate_new_from_path(path, &gate), DRFGATE_RESULT_CONFIG);
    char expected_origin[96];
    snprintf(expected_origin, sizeof expected_origin, "%s:5:", path);
    CHECK(contains(last_error(), expected_origin));
    CHECK(contains(last_error(), "routes[0].permission_classes[0]"));
    CHECK(contains(last_error(), "IsAuthenticatd"));
    CHECK(contains(last_error(), "did you mean"));
    unlink(path);

    CHECK_RESULT(drfgate_gate_new_from_str(typo, strlen(typo), NULL, &gate), DRFGATE_RESULT_CONFIG);
    CHECK(contains(last_error(), "<config>:5:"));
    const char *garbage = "[django\n\x01\x02 = = =";
    CHECK_RESULT(drfgate_gate_new_from_str(garbage, strlen(garbage), NULL, &gate), DRFGATE_RESULT_CONFIG);
    const char not_utf8[] = "[django]\nDATABASE = \"\xff\xfe\"\n";
    CHECK_RESULT(drfgate_gate_new_from_str(not_utf8, sizeof not_utf8 - 1, NULL, &gate), DRFGATE_RESULT_INVALID_ARGUMENT);
    const char *no_db = "[django]\nDATABASE = \"sqlite:///nonexistent/dir/db.sqlite3\"\n";
    CHECK_RESULT(drfgate_gate_new_from_str(no_db, strlen(no_db), "/", &gate), DRFGATE_RESULT_DATABASE);
    CHECK(contains(last_error(), "nonexistent"));
    CHECK(gate == SENTINEL_GATE);

    drfgate_gate_free(NULL);
    drfgate_decision_free(NULL);
}

static void null_handles(void) {
    drfgate_request req = DRFGATE_REQUEST_INIT;
    drfgate_decision *d = SENTINEL_DECISION;
    drfgate_stats stats = DRFGATE_STATS_INIT;
    size_t dropped = 99;
    drfgate_bytes body = {0};
    drfgate_str s = {0};
    CHECK_RESULT(drfgate_gate_decide(NULL, &req, &d), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK(d == SENTINEL_DECISION);
    CHECK_RESULT(drfgate_gate_invalidate_token(NULL, (const uint8_t *)"k", 1), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_gate_invalidate_user_id(NULL, 1, &dropped), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_gate_invalidate_user_pk(NULL, "1", 1, &dropped), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK(dropped == 99);
    CHECK_RESULT(drfgate_gate_stats(NULL, &stats), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK(!drfgate_decision_is_allow(NULL));
    CHECK(drfgate_decision_status(NULL) == 0);
    CHECK(!drfgate_decision_is_authenticated(NULL));
    CHECK(!drfgate_decision_is_staff(NULL));
    CHECK(!drfgate_decision_is_superuser(NULL));
    CHECK_RESULT(drfgate_decision_body(NULL, &body), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_decision_www_authenticate(NULL, &s), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_decision_allow(NULL, &s), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_decision_retry_after(NULL, &s), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_decision_user_pk(NULL, &s), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_decision_username(NULL, &s), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_decision_scheme(NULL, &s), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_decision_authenticator(NULL, &s), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_decision_handoff(NULL, &s, &s), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK(body.data == NULL && s.data == NULL);
}

/* A callback that answers every index: a server bug that must not hang the gate. */
static bool endless(void *userdata, const char *name, size_t name_len, size_t index, drfgate_bytes *out) {
    (void)userdata, (void)name_len, (void)index;
    if (strcasecmp(name, "Authorization") != 0) return false;
    *out = bytes_of("Token abcd1234");
    return true;
}

static bool null_value(void *userdata, const char *name, size_t name_len, size_t index, drfgate_bytes *out) {
    (void)userdata, (void)name, (void)name_len, (void)index;
    out->data = NULL;
    out->len = 4;
    return true;
}

static void bad_requests(const drfgate_gate *gate) {
    drfgate_decision *d = SENTINEL_DECISION;
    drfgate_request req = DRFGATE_REQUEST_INIT;
    req.method = bytes_of("GET");
    req.path = bytes_of("/api/orders/42/");
    CHECK_RESULT(drfgate_gate_decide(gate, NULL, &d), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_gate_decide(gate, &req, NULL), DRFGATE_RESULT_NULL_PARAMETER);

    drfgate_request r = req;
    r.method.data = NULL;
    CHECK_RESULT(drfgate_gate_decide(gate, &r, &d), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK(contains(last_error(), "request->method"));
    r = req;
    r.headers_len = 2;
    CHECK_RESULT(drfgate_gate_decide(gate, &r, &d), DRFGATE_RESULT_NULL_PARAMETER);
    drfgate_header broken[2] = {{bytes_of("Authorization"), bytes_of("Token abcd1234")},
                                {bytes_of("X-Other"), {NULL, 5}}};
    r = req;
    r.headers = broken;
    r.headers_len = 2;
    CHECK_RESULT(drfgate_gate_decide(gate, &r, &d), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK(contains(last_error(), "request->headers[1]"));
    r = req;
    r.header_value = endless;
    CHECK_RESULT(drfgate_gate_decide(gate, &r, &d), DRFGATE_RESULT_INVALID_ARGUMENT);
    CHECK(contains(last_error(), "index"));
    r = req;
    r.header_value = null_value;
    CHECK_RESULT(drfgate_gate_decide(gate, &r, &d), DRFGATE_RESULT_INVALID_ARGUMENT);
    r = req;
    r.path_form = 7;
    CHECK_RESULT(drfgate_gate_decide(gate, &r, &d), DRFGATE_RESULT_INVALID_ARGUMENT);
    CHECK(contains(last_error(), "path_form"));
    CHECK(d == SENTINEL_DECISION);

    /* The route that decided is lent, or absent when none matched. */
    drfgate_str route = {NULL, 0};
    CHECK_RESULT(drfgate_decision_route(NULL, &route), DRFGATE_RESULT_NULL_PARAMETER);
    r = req;
    r.path_form = DRFGATE_PATH_INFO;
    CHECK_RESULT(drfgate_gate_decide(gate, &r, &d), DRFGATE_RESULT_OK);
    CHECK_RESULT(drfgate_decision_route(d, NULL), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_decision_route(d, &route), DRFGATE_RESULT_OK);
    CHECK(route.data != NULL && route.len > 0);
    drfgate_decision_free(d);
    r.path = bytes_of("/no/such/route/");
    CHECK_RESULT(drfgate_gate_decide(gate, &r, &d), DRFGATE_RESULT_OK);
    CHECK_RESULT(drfgate_decision_route(d, &route), DRFGATE_RESULT_ABSENT);
    drfgate_decision_free(d);
    d = SENTINEL_DECISION;

    /* Reading a decision through NULL out-pointers. */
    CHECK_RESULT(drfgate_gate_decide(gate, &req, &d), DRFGATE_RESULT_OK);
    CHECK_RESULT(drfgate_decision_body(d, NULL), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK(strcmp(last_error(), "drfgate_decision_body: argument `out_body` is NULL") == 0);
    CHECK_RESULT(drfgate_decision_username(d, NULL), DRFGATE_RESULT_NULL_PARAMETER);
    drfgate_decision_free(d);

    /* One NULL policy: a byte range may be NULL when empty, in a request as in arguments. */
    r = req;
    r.query.data = NULL;
    r.query.len = 0;
    CHECK_RESULT(drfgate_gate_decide(gate, &r, &d), DRFGATE_RESULT_OK);
    drfgate_decision_free(d);
    CHECK_RESULT(drfgate_gate_invalidate_token(gate, NULL, 0), DRFGATE_RESULT_OK);
    CHECK_RESULT(drfgate_gate_invalidate_user_pk(gate, NULL, 0, NULL), DRFGATE_RESULT_OK);

    drfgate_stats stats = DRFGATE_STATS_INIT;
    size_t dropped = 99;
    CHECK_RESULT(drfgate_gate_stats(gate, NULL), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_gate_stats(gate, &stats), DRFGATE_RESULT_OK);
    CHECK_RESULT(drfgate_gate_invalidate_token(gate, NULL, 3), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_gate_invalidate_token(gate, (const uint8_t *)"", 0), DRFGATE_RESULT_OK);
    CHECK_RESULT(drfgate_gate_invalidate_user_pk(gate, NULL, 1, &dropped), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_gate_invalidate_user_pk(gate, "\xff", 1, &dropped), DRFGATE_RESULT_INVALID_ARGUMENT);
    CHECK(dropped == 99);
    CHECK_RESULT(drfgate_gate_invalidate_user_pk(gate, "no-such-user", 12, NULL), DRFGATE_RESULT_OK);
    CHECK_RESULT(drfgate_gate_invalidate_user_id(gate, INT64_MIN, NULL), DRFGATE_RESULT_OK);
}

/* The route that decided, or "" when none matched. */
static const char *route_of(const drfgate_gate *gate, const drfgate_request *req) {
    static char route[128];
    drfgate_decision *d = NULL;
    drfgate_str s = {NULL, 0};
    route[0] = 0;
    if (drfgate_gate_decide(gate, req, &d) != DRFGATE_RESULT_OK) return "(no decision)";
    if (drfgate_decision_route(d, &s) == DRFGATE_RESULT_OK) snprintf(route, sizeof route, "%.*s", (int)s.len, s.data);
    drfgate_decision_free(d);
    return route;
}

/* struct_size: too small is refused; an older, shorter layout is read as far as it goes;
 * a newer, longer one is accepted only with zeroes past what the library knows. */
static void extensible_request(const drfgate_gate *gate) {
    drfgate_decision *d = SENTINEL_DECISION;
    drfgate_request req = DRFGATE_REQUEST_INIT;
    CHECK(req.struct_size == sizeof(drfgate_request));
    CHECK(req.path_form == DRFGATE_PATH_RAW_TARGET && req.headers == NULL && req.method.data == NULL);
    req.method = bytes_of("GET");
    /* Raw, %34%32 is 42 and the orders route matches; as PATH_INFO it is no integer. */
    req.path = bytes_of("/api/orders/%34%32/");
    CHECK(strcmp(route_of(gate, &req), "api/orders/<int:pk>/") == 0);
    req.path_form = DRFGATE_PATH_INFO;
    CHECK(strcmp(route_of(gate, &req), "") == 0);

    /* Declared `= {0}`: refused, saying what to do. */
    drfgate_request zeroed = {0};
    zeroed.method = req.method;
    zeroed.path = req.path;
    CHECK_RESULT(drfgate_gate_decide(gate, &zeroed, &d), DRFGATE_RESULT_INVALID_ARGUMENT);
    CHECK(contains(last_error(), "request->struct_size is 0") && contains(last_error(), "DRFGATE_REQUEST_INIT"));
    drfgate_request r = req;
    r.struct_size = DRFGATE_REQUEST_MIN_SIZE - 1;
    CHECK_RESULT(drfgate_gate_decide(gate, &r, &d), DRFGATE_RESULT_INVALID_ARGUMENT);
    CHECK(d == SENTINEL_DECISION);

    /* The oldest layout ends before path_form: it is not read (even an invalid value), and a
     * request from such a program is judged as a raw target, as before path_form existed. */
    r.struct_size = DRFGATE_REQUEST_MIN_SIZE;
    CHECK(DRFGATE_REQUEST_MIN_SIZE == offsetof(drfgate_request, path_form));
    CHECK(strcmp(route_of(gate, &r), "api/orders/<int:pk>/") == 0);
    r.path_form = 7;
    CHECK(strcmp(route_of(gate, &r), "api/orders/<int:pk>/") == 0);
    /* A size that covers only part of a field does not read that field. */
    r.path_form = DRFGATE_PATH_INFO;
    r.struct_size = offsetof(drfgate_request, path_form) + sizeof(uint32_t) - 1;
    CHECK(strcmp(route_of(gate, &r), "api/orders/<int:pk>/") == 0);
    r.struct_size = sizeof(drfgate_request);
    CHECK(strcmp(route_of(gate, &r), "") == 0);

    /* Built against a newer header: its extra fields must be zero for this library. */
    struct {
        drfgate_request known;
        uint64_t future;
    } newer;
    memset(&newer, 0, sizeof newer);
    newer.known = req;
    newer.known.struct_size = sizeof newer;
    CHECK(strcmp(route_of(gate, &newer.known), "") == 0);
    newer.future = 1;
    CHECK_RESULT(drfgate_gate_decide(gate, &newer.known, &d), DRFGATE_RESULT_INVALID_ARGUMENT);
    CHECK(contains(last_error(), "newer drfgate.h"));
    CHECK(d == SENTINEL_DECISION);
}

static void extensible_stats(const drfgate_gate *gate) {
    CHECK(decide_known(gate, 0, 0) && decide_known(gate, 0, 1));
    drfgate_stats full = DRFGATE_STATS_INIT;
    CHECK_RESULT(drfgate_gate_stats(gate, &full), DRFGATE_RESULT_OK);
    CHECK(full.struct_size == sizeof(drfgate_stats));
    CHECK(full.tokens.hits > 0 && full.tokens.misses > 0);

    /* Canary bytes after the part the struct_size covers must stay untouched. */
    struct {
        drfgate_stats stats;
        uint64_t future[2];
    } out;
    unsigned char canary[sizeof out];
    memset(canary, 0xAB, sizeof canary);

    memset(&out, 0xAB, sizeof out);
    out.stats.struct_size = 0;
    CHECK_RESULT(drfgate_gate_stats(gate, &out.stats), DRFGATE_RESULT_INVALID_ARGUMENT);
    CHECK(contains(last_error(), "DRFGATE_STATS_INIT"));
    out.stats.struct_size = DRFGATE_STATS_MIN_SIZE - 1;
    CHECK_RESULT(drfgate_gate_stats(gate, &out.stats), DRFGATE_RESULT_INVALID_ARGUMENT);
    CHECK(memcmp((char *)&out + sizeof(size_t), canary, sizeof out - sizeof(size_t)) == 0);

    /* An older layout without the permissions cache: written up to passwords, no further. */
    size_t short_size = offsetof(drfgate_stats, permissions);
    out.stats.struct_size = short_size;
    CHECK_RESULT(drfgate_gate_stats(gate, &out.stats), DRFGATE_RESULT_OK);
    CHECK(out.stats.struct_size == short_size);
    CHECK(memcmp(&out.stats.tokens, &full.tokens, sizeof full.tokens) == 0);
    CHECK(memcmp(&out.stats.passwords, &full.passwords, sizeof full.passwords) == 0);
    CHECK(memcmp((char *)&out + short_size, canary, sizeof out - short_size) == 0);

    /* A size inside a counter writes the counters before it only. */
    memset(&out, 0xAB, sizeof out);
    out.stats.struct_size = short_size + sizeof(uint64_t) + 4;
    CHECK_RESULT(drfgate_gate_stats(gate, &out.stats), DRFGATE_RESULT_OK);
    CHECK(out.stats.permissions.hits == full.permissions.hits);
    CHECK(memcmp((char *)&out + short_size + sizeof(uint64_t), canary, sizeof out - short_size - sizeof(uint64_t)) == 0);

    /* A newer layout: the fields this library does not know are zeroed, within struct_size. */
    memset(&out, 0xAB, sizeof out);
    out.stats.struct_size = sizeof out.stats + sizeof(uint64_t);
    CHECK_RESULT(drfgate_gate_stats(gate, &out.stats), DRFGATE_RESULT_OK);
    CHECK(memcmp(&out.stats.permissions, &full.permissions, sizeof full.permissions) == 0);
    CHECK(out.future[0] == 0);
    CHECK(memcmp(&out.future[1], canary, sizeof out.future[1]) == 0);
}

/* What the log callback received. */
static struct {
    int calls;
    drfgate_log_level level;
    char message[512];
    int terminated; /* message[len] was a NUL */
    void *userdata;
} logged;

static void record_log(void *userdata, drfgate_log_level level, const char *message, size_t message_len) {
    logged.calls++;
    logged.level = level;
    logged.userdata = userdata;
    logged.terminated = message[message_len] == 0;
    snprintf(logged.message, sizeof logged.message, "%.*s", (int)message_len, message);
    /* drfgate may be called from the callback, but not to replace it. */
    if (drfgate_set_log_callback(NULL, NULL) != DRFGATE_RESULT_INVALID_ARGUMENT) logged.calls += 1000;
}

/* The known config with a REST_FRAMEWORK key drfgate ignores, which it warns about. */
static char *config_that_warns(const char *config_path) {
    size_t len = 0;
    char *text = read_file(config_path, &len);
    const char *table = "[rest_framework]\n";
    char *at = strstr(text, table);
    if (!at) die("%s has no [rest_framework] table", config_path);
    const char *key = "PAGE_SIZE = 10\n";
    char *out = malloc(len + strlen(key) + 1);
    size_t head = (size_t)(at - text) + strlen(table);
    memcpy(out, text, head);
    strcpy(out + head, key);
    strcat(out, text + head);
    free(text);
    return out;
}

/* "t=<digits>,v1=<64 lowercase hex>": the X-Drfgate-Signature shape. */
static int is_signature(drfgate_str s) {
    size_t i = 2;
    if (s.len < 2 || strncmp(s.data, "t=", 2) != 0) return 0;
    while (i < s.len && s.data[i] >= '0' && s.data[i] <= '9') i++;
    if (i == 2 || s.len != i + 4 + 64 || strncmp(s.data + i, ",v1=", 4) != 0) return 0;
    for (i += 4; i < s.len; i++) {
        if (!strchr("0123456789abcdef", s.data[i])) return 0;
    }
    return 1;
}

/* [handoff]: an allow carries the signed identity for the application, a deny none; without
 * the table, no decision has one. */
static void handoff(const drfgate_gate *unsigned_gate, const char *config_path) {
    drfgate_request req = DRFGATE_REQUEST_INIT;
    drfgate_header token = {bytes_of("Authorization"), bytes_of("Token admin123")};
    drfgate_decision *d = NULL;
    drfgate_str signature = {NULL, 0}, flags = {NULL, 0};
    req.method = bytes_of("GET");
    req.path = bytes_of("/api/admin/");
    req.headers = &token;
    req.headers_len = 1;

    CHECK_RESULT(drfgate_gate_decide(unsigned_gate, &req, &d), DRFGATE_RESULT_OK);
    CHECK_RESULT(drfgate_decision_handoff(d, NULL, &flags), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_decision_handoff(d, &signature, NULL), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_decision_handoff(d, &signature, &flags), DRFGATE_RESULT_ABSENT);
    CHECK(signature.data == NULL && flags.data == NULL);
    drfgate_decision_free(d);

    char *key_path = write_temp("0123456789abcdef0123456789abcdef\n");
    size_t len = 0;
    char *text = read_file(config_path, &len);
    char *config = malloc(len + strlen(key_path) + 64);
    snprintf(config, len + strlen(key_path) + 64, "%s\n[handoff]\nSECRET_FILE = \"%s\"\n", text, key_path);
    drfgate_gate *gate = NULL;
    CHECK_RESULT(drfgate_gate_new_from_str(config, strlen(config), NULL, &gate), DRFGATE_RESULT_OK);
    if (gate != NULL) {
        CHECK_RESULT(drfgate_gate_decide(gate, &req, &d), DRFGATE_RESULT_OK);
        CHECK_RESULT(drfgate_decision_handoff(d, &signature, &flags), DRFGATE_RESULT_OK);
        CHECK(is_signature(signature));
        CHECK(str_is(flags, "staff"));
        drfgate_decision_free(d);
        /* Anonymous allows are signed too (as `anonymous`), so a forged identity on an
         * anonymous request is refused by the application. */
        req.path = bytes_of("/api/public/");
        req.headers_len = 0;
        CHECK_RESULT(drfgate_gate_decide(gate, &req, &d), DRFGATE_RESULT_OK);
        CHECK_RESULT(drfgate_decision_handoff(d, &signature, &flags), DRFGATE_RESULT_OK);
        CHECK(is_signature(signature) && flags.len == 0);
        drfgate_decision_free(d);
        req.path = bytes_of("/api/orders/42/");
        CHECK_RESULT(drfgate_gate_decide(gate, &req, &d), DRFGATE_RESULT_OK);
        CHECK(!drfgate_decision_is_allow(d));
        CHECK_RESULT(drfgate_decision_handoff(d, &signature, &flags), DRFGATE_RESULT_ABSENT);
        drfgate_decision_free(d);
        drfgate_gate_free(gate);
    }
    free(config);
    free(text);
    unlink(key_path);
}

static void log_callback(const char *config_path) {
    static int userdata;
    CHECK_RESULT(drfgate_set_log_level(0), DRFGATE_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(drfgate_set_log_level(DRFGATE_LOG_LEVEL_DEBUG + 1), DRFGATE_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(drfgate_set_log_callback(NULL, NULL), DRFGATE_RESULT_OK);
    if (!config_path) return;
    char *config = config_that_warns(config_path);
    drfgate_gate *gate = NULL;

    /* A config warning reaches the callback while the gate is created. */
    memset(&logged, 0, sizeof logged);
    CHECK_RESULT(drfgate_set_log_callback(record_log, &userdata), DRFGATE_RESULT_OK);
    CHECK_RESULT(drfgate_gate_new_from_str(config, strlen(config), NULL, &gate), DRFGATE_RESULT_OK);
    drfgate_gate_free(gate);
    CHECK(logged.calls == 1);
    CHECK(logged.level == DRFGATE_LOG_LEVEL_WARN && logged.userdata == &userdata && logged.terminated);
    CHECK(strcmp(logged.message, "<config>:4: rest_framework.PAGE_SIZE is not used by drfgate and is ignored") == 0);

    /* Filtered by level: errors only. */
    memset(&logged, 0, sizeof logged);
    CHECK_RESULT(drfgate_set_log_level(DRFGATE_LOG_LEVEL_ERROR), DRFGATE_RESULT_OK);
    CHECK_RESULT(drfgate_gate_new_from_str(config, strlen(config), NULL, &gate), DRFGATE_RESULT_OK);
    drfgate_gate_free(gate);
    CHECK(logged.calls == 0);
    CHECK_RESULT(drfgate_set_log_level(DRFGATE_LOG_LEVEL_WARN), DRFGATE_RESULT_OK);

    /* Removed: no more calls. */
    CHECK_RESULT(drfgate_set_log_callback(NULL, NULL), DRFGATE_RESULT_OK);
    CHECK_RESULT(drfgate_gate_new_from_str(config, strlen(config), NULL, &gate), DRFGATE_RESULT_OK);
    drfgate_gate_free(gate);
    CHECK(logged.calls == 0);
    free(config);
}

/* xorshift: the same garbage every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t next_random(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill_garbage(uint8_t *buf, size_t len, const char *prefix) {
    size_t p = prefix ? strlen(prefix) : 0;
    if (p > len) p = len;
    if (p) memcpy(buf, prefix, p);
    for (size_t i = p; i < len; i++) buf[i] = (uint8_t)next_random();
}

static void garbage_requests(const drfgate_gate *gate, long rounds) {
    /* No "Basic ": a well-formed one costs a full password hash (PBKDF2, 1,000,000 rounds)
     * for any user, known or not, by design; the Rust property tests cover its parsing. */
    static const char *prefixes[] = {NULL, "Token ", "token ", "Bearer ", "Token abcd", "Tok"};
    static const char *names[] = {"Authorization", "Cookie", "X-Remote-User", "authorization"};
    uint8_t method[24], path[200], query[64], user[40], hvals[4][300], hnames[4][40];
    for (long round = 0; round < rounds; round++) {
        drfgate_header headers[4];
        size_t n_headers = next_random() % 5;
        for (size_t h = 0; h < n_headers; h++) {
            size_t vlen = next_random() % sizeof hvals[h];
            fill_garbage(hvals[h], vlen, prefixes[next_random() % 6]);
            headers[h].value.data = hvals[h];
            headers[h].value.len = vlen;
            if (next_random() % 4 == 0) {
                size_t nlen = next_random() % sizeof hnames[h];
                fill_garbage(hnames[h], nlen, NULL);
                headers[h].name.data = hnames[h];
                headers[h].name.len = nlen;
            } else {
                headers[h].name = bytes_of(names[next_random() % 4]);
            }
        }
        drfgate_request req = DRFGATE_REQUEST_INIT;
        req.method.len = next_random() % sizeof method;
        fill_garbage(method, req.method.len, next_random() % 2 ? "GET" : NULL);
        req.method.data = method;
        req.path.len = next_random() % sizeof path;
        fill_garbage(path, req.path.len, next_random() % 2 ? "/api/orders/" : "/");
        req.path.data = path;
        req.query.len = next_random() % sizeof query;
        fill_garbage(query, req.query.len, NULL);
        req.query.data = query;
        if (next_random() % 3 == 0) {
            req.remote_user.len = next_random() % sizeof user;
            fill_garbage(user, req.remote_user.len, NULL);
            req.remote_user.data = user;
        }
        req.headers = n_headers ? headers : NULL;
        req.headers_len = n_headers;
        req.secure = next_random() % 2;
        drfgate_decision *d = NULL;
        drfgate_result r = drfgate_gate_decide(gate, &req, &d);
        CHECK(r == DRFGATE_RESULT_OK);
        if (r == DRFGATE_RESULT_OK) {
            unsigned status = drfgate_decision_status(d);
            CHECK(status == 200 || status == 401 || status == 403 || status == 404 || status == 405);
            drfgate_decision_free(d);
        }
    }
}

/* drfgate_gate_decide_cached answers only what needs no database and no hasher, and then
 * exactly as drfgate_gate_decide; otherwise ABSENT with nothing written. */
static void cached_decisions(const char *config) {
    drfgate_gate *gate = gate_from_path_or_die(config);
    drfgate_header header = {bytes_of("Authorization"), bytes_of("Token abcd1234")};
    drfgate_request req = DRFGATE_REQUEST_INIT;
    drfgate_decision *d = SENTINEL_DECISION;
    drfgate_str s = {0};
    req.method = bytes_of("GET");
    req.path = bytes_of("/api/orders/42/");
    CHECK_RESULT(drfgate_gate_decide_cached(NULL, &req, &d), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_gate_decide_cached(gate, NULL, &d), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK_RESULT(drfgate_gate_decide_cached(gate, &req, NULL), DRFGATE_RESULT_NULL_PARAMETER);
    CHECK(d == SENTINEL_DECISION);
    /* No credentials: the request alone answers. */
    CHECK_RESULT(drfgate_gate_decide_cached(gate, &req, &d), DRFGATE_RESULT_OK);
    CHECK(d != SENTINEL_DECISION && !drfgate_decision_is_authenticated(d));
    drfgate_decision_free(d);
    /* A token never seen: the store must be asked. */
    req.headers = &header;
    req.headers_len = 1;
    d = SENTINEL_DECISION;
    CHECK_RESULT(drfgate_gate_decide_cached(gate, &req, &d), DRFGATE_RESULT_ABSENT);
    CHECK(d == SENTINEL_DECISION);
    CHECK_RESULT(drfgate_gate_decide(gate, &req, &d), DRFGATE_RESULT_OK);
    drfgate_decision_free(d);
    /* Now cached: the same user as drfgate_gate_decide found. */
    d = SENTINEL_DECISION;
    CHECK_RESULT(drfgate_gate_decide_cached(gate, &req, &d), DRFGATE_RESULT_OK);
    CHECK(drfgate_decision_is_allow(d) && drfgate_decision_is_authenticated(d));
    CHECK_RESULT(drfgate_decision_username(d, &s), DRFGATE_RESULT_OK);
    CHECK(str_is(s, "john"));
    drfgate_decision_free(d);
    drfgate_gate_free(gate);
}

static void decisions_outlive_their_gate(const char *config) {
    drfgate_gate *gate = gate_from_path_or_die(config);
    drfgate_header header = {bytes_of("Authorization"), bytes_of("Token abcd1234")};
    drfgate_request req = DRFGATE_REQUEST_INIT;
    req.method = bytes_of("GET");
    req.path = bytes_of("/api/orders/42/");
    req.headers = &header;
    req.headers_len = 1;
    drfgate_decision *allow = NULL, *deny = NULL;
    CHECK_RESULT(drfgate_gate_decide(gate, &req, &allow), DRFGATE_RESULT_OK);
    req.headers_len = 0;
    CHECK_RESULT(drfgate_gate_decide(gate, &req, &deny), DRFGATE_RESULT_OK);
    drfgate_gate_free(gate);
    drfgate_str s = {0};
    CHECK_RESULT(drfgate_decision_username(allow, &s), DRFGATE_RESULT_OK);
    CHECK(str_is(s, "john"));
    CHECK_RESULT(drfgate_decision_user_pk(allow, &s), DRFGATE_RESULT_OK);
    CHECK(str_is(s, "1"));
    CHECK_RESULT(drfgate_decision_scheme(allow, &s), DRFGATE_RESULT_OK);
    CHECK(str_is(s, "token"));
    CHECK_RESULT(drfgate_decision_authenticator(allow, &s), DRFGATE_RESULT_OK);
    CHECK(str_is(s, "rest_framework.authentication.TokenAuthentication"));
    CHECK(!drfgate_decision_is_staff(allow) && !drfgate_decision_is_superuser(allow));
    CHECK_RESULT(drfgate_decision_www_authenticate(deny, &s), DRFGATE_RESULT_OK);
    CHECK(str_is(s, "Token"));
    CHECK_RESULT(drfgate_decision_allow(deny, &s), DRFGATE_RESULT_OK);
    CHECK(str_is(s, "GET, PUT, HEAD, OPTIONS"));
    CHECK_RESULT(drfgate_decision_www_authenticate(allow, &s), DRFGATE_RESULT_ABSENT);
    CHECK_RESULT(drfgate_decision_retry_after(deny, &s), DRFGATE_RESULT_ABSENT);
    CHECK_RESULT(drfgate_decision_retry_after(allow, &s), DRFGATE_RESULT_ABSENT);
    drfgate_decision_free(allow);
    drfgate_decision_free(deny);
}

/* The child's inherited gate is deliberately never released; kept reachable here so that
 * Valgrind's leak check in the child does not count it as lost. */
static drfgate_gate *volatile inherited_gate;

static void gates_do_not_cross_fork(const char *config) {
    drfgate_gate *gate = gate_from_path_or_die(config);
    CHECK(decide_known(gate, 0, 0));
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
        drfgate_request req = DRFGATE_REQUEST_INIT;
        drfgate_decision *d = SENTINEL_DECISION;
        drfgate_stats stats = DRFGATE_STATS_INIT;
        int bad = 0;
        bad |= drfgate_gate_decide(gate, &req, &d) != DRFGATE_RESULT_FORKED;
        bad |= d != SENTINEL_DECISION;
        bad |= drfgate_gate_stats(gate, &stats) != DRFGATE_RESULT_FORKED;
        bad |= drfgate_gate_invalidate_user_id(gate, 1, NULL) != DRFGATE_RESULT_FORKED;
        bad |= !contains(last_error(), "fork");
        /* Not released in the child (its memory is the parent's copy). */
        inherited_gate = gate;
        drfgate_gate_free(gate);
        /* A gate made after the fork works. */
        drfgate_gate *own = NULL;
        bad |= drfgate_gate_new_from_path(config, &own) != DRFGATE_RESULT_OK;
        bad |= !decide_known(own, 0, 1);
        drfgate_gate_free(own);
        _exit(bad);
    }
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(decide_known(gate, 1, 0));
    drfgate_gate_free(gate);
}

int main(int argc, char **argv) {
    if (argc != 3) die("usage: %s CONFIG|- GARBAGE_ROUNDS", argv[0]);
    version_and_texts();
    error_message_copy_out();
    config_errors();
    null_handles();
    log_callback(strcmp(argv[1], "-") != 0 ? argv[1] : NULL);
    if (strcmp(argv[1], "-") != 0) {
        drfgate_gate *gate = gate_from_path_or_die(argv[1]);
        bad_requests(gate);
        handoff(gate, argv[1]);
        extensible_request(gate);
        extensible_stats(gate);
        garbage_requests(gate, atol(argv[2]));
        drfgate_gate_free(gate);
        decisions_outlive_their_gate(argv[1]);
        cached_decisions(argv[1]);
        gates_do_not_cross_fork(argv[1]);
    } else {
        fprintf(stderr, "abuse: no fixture database; skipped the parts that decide\n");
    }
    return harness_exit("abuse");
}
