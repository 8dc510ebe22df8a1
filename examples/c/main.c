/* drfgate-example: asks libdrfgate what DRF would answer for one request, the way a
 * web-server module does: one gate for the process, one decision per thread refilled for
 * each request (no allocation per request), fail closed.
 *
 *   drfgate-example CONFIG METHOD PATH [AUTHORIZATION]
 *
 * Build against an installed libdrfgate (see Makefile):
 *   cc -o drfgate-example main.c $(pkg-config --cflags --libs drfgate)                         shared
 *   cc -o drfgate-example main.c -Wl,-Bstatic $(pkg-config --static --cflags --libs drfgate)   static */
#include <stdio.h>
#include <string.h>

#include <drfgate.h>

/* drfgate's own messages (config warnings such as a key it ignores, database errors while
 * deciding), to stderr. It may be called from any thread, during any drfgate call. */
static void log_to_stderr(void *userdata, drfgate_log_level level, const char *message, size_t message_len) {
    static const char *const names[] = {"?", "error", "warning", "info", "debug"};
    (void)userdata;
    fprintf(stderr, "drfgate-example: drfgate %s: %.*s\n", level <= DRFGATE_LOG_LEVEL_DEBUG ? names[level] : "?",
            (int)message_len, message);
}

static void print_error(const char *what, drfgate_result result) {
    char message[1024];
    size_t len = 0;
    drfgate_last_error_message(message, sizeof message, &len);
    fprintf(stderr, "drfgate-example: %s: %s: %s\n", what, drfgate_result_text(result), message);
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: %s CONFIG METHOD PATH [AUTHORIZATION]\n", argv[0]);
        return 2;
    }
    if (strcmp(drfgate_version(), DRFGATE_VERSION) != 0) {
        fprintf(stderr, "drfgate-example: built with drfgate.h %s, running libdrfgate %s\n", DRFGATE_VERSION,
                drfgate_version());
    }

    /* Process-wide, before the gate is created so that its config's warnings are shown. */
    drfgate_set_log_callback(log_to_stderr, NULL);

    /* Once per process, after any fork(): Apache's child_init, nginx's init_process. */
    drfgate_gate *gate = NULL;
    drfgate_result result = drfgate_gate_new_from_path(argv[1], &gate);
    if (result != DRFGATE_RESULT_OK) {
        print_error("cannot load the config", result);
        return 2;
    }

    /* Per request. Borrowed bytes: nothing is copied. DRFGATE_REQUEST_INIT sets struct_size,
     * which lets a newer libdrfgate with more request fields read this one. */
    drfgate_header authorization = {
        {(const uint8_t *)"Authorization", strlen("Authorization")},
        {(const uint8_t *)(argc == 5 ? argv[4] : ""), argc == 5 ? strlen(argv[4]) : 0},
    };
    drfgate_request request = DRFGATE_REQUEST_INIT;
    request.method.data = (const uint8_t *)argv[2];
    request.method.len = strlen(argv[2]);
    request.path.data = (const uint8_t *)argv[3];
    request.path.len = strlen(argv[3]);
    request.headers = &authorization;
    request.headers_len = argc == 5 ? 1 : 0;

    /* Once per thread (or per connection), refilled for each request: deciding into it
     * allocates nothing. drfgate_gate_decide() would make a new one per request instead. */
    drfgate_decision *decision = NULL;
    result = drfgate_decision_new(&decision);
    if (result != DRFGATE_RESULT_OK) {
        print_error("no decision", result);
        drfgate_gate_free(gate);
        return 2;
    }
    result = drfgate_gate_decide_into(gate, &request, decision);
    if (result != DRFGATE_RESULT_OK) {
        /* Fail closed: a server answers 500 and does not pass the request on. (The decision
         * is empty now: it never keeps a previous request's answer.) */
        print_error("no decision", result);
        drfgate_decision_free(decision);
        drfgate_gate_free(gate);
        return 1;
    }

    drfgate_str text;
    if (drfgate_decision_is_allow(decision)) {
        if (drfgate_decision_username(decision, &text) == DRFGATE_RESULT_OK) {
            drfgate_str pk, scheme;
            drfgate_decision_user_pk(decision, &pk);
            drfgate_decision_scheme(decision, &scheme);
            printf("allow %.*s (pk %.*s, %.*s%s%s)\n", (int)text.len, text.data, (int)pk.len, pk.data,
                   (int)scheme.len, scheme.data, drfgate_decision_is_staff(decision) ? ", staff" : "",
                   drfgate_decision_is_superuser(decision) ? ", superuser" : "");
        } else {
            printf("allow anonymous\n");
        }
    } else {
        drfgate_bytes body;
        drfgate_decision_body(decision, &body);
        printf("deny %u", (unsigned)drfgate_decision_status(decision));
        if (drfgate_decision_www_authenticate(decision, &text) == DRFGATE_RESULT_OK) {
            printf(" WWW-Authenticate: %.*s", (int)text.len, text.data);
        }
        printf(" Content-Type: %s %.*s\n", DRFGATE_DENY_CONTENT_TYPE, (int)body.len, (const char *)body.data);
    }

    drfgate_decision_free(decision);
    drfgate_gate_free(gate);
    return 0;
}
