/* The conformance table through the C ABI. Reads a case file written by the Rust test
 * (crates/drfgate-ffi/tests/c_tests.rs), decides every case and prints one answer line per
 * case; the Rust side compares the answers with real DRF's.
 *
 * Input lines (tokens are hex, "-" absent, "~" empty):
 *   gate-file <path>           create the gate from a config file
 *   gate-text <config>         create the gate from config text
 *   case <id> <method> <path> <remote_user> <n> (<name> <value>){n}
 * Output lines:
 *   answer <id> <status> <body> <www_authenticate> <allow> <username> <scheme>
 *
 * Every other case passes its headers through the header_value callback instead of the
 * array, so both ways are checked against the same answers. */
#include "harness.h"

#define MAX_HEADERS 32

struct header_table {
    size_t n;
    drfgate_header pairs[MAX_HEADERS];
};

static int ascii_case_equal(const uint8_t *a, size_t a_len, const char *b, size_t b_len) {
    if (a_len != b_len) return 0;
    for (size_t i = 0; i < a_len; i++) {
        int x = a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') x += 32;
        if (y >= 'A' && y <= 'Z') y += 32;
        if (x != y) return 0;
    }
    return 1;
}

/* What a server module would write over its own header table. */
static bool lookup(void *userdata, const char *name, size_t name_len, size_t index, drfgate_bytes *out) {
    const struct header_table *table = userdata;
    CHECK(name[name_len] == 0);
    size_t seen = 0;
    for (size_t i = 0; i < table->n; i++) {
        if (ascii_case_equal(table->pairs[i].name.data, table->pairs[i].name.len, name, name_len)) {
            if (seen++ == index) {
                *out = table->pairs[i].value;
                return true;
            }
        }
    }
    return false;
}

static void print_str_field(FILE *out, drfgate_result r, drfgate_str s) {
    fputc(' ', out);
    if (r == DRFGATE_RESULT_ABSENT) fputc('-', out);
    else print_hex(out, s.data, s.len);
}

static void answer(const char *id, size_t id_len, drfgate_decision *d) {
    printf("answer ");
    print_hex(stdout, id, id_len);
    printf(" %u", (unsigned)drfgate_decision_status(d));

    drfgate_bytes body = {0};
    drfgate_result r = drfgate_decision_body(d, &body);
    CHECK(r == DRFGATE_RESULT_OK || r == DRFGATE_RESULT_ABSENT);
    CHECK((r == DRFGATE_RESULT_ABSENT) == drfgate_decision_is_allow(d));
    fputc(' ', stdout);
    if (r == DRFGATE_RESULT_ABSENT) fputc('-', stdout);
    else print_hex(stdout, body.data, body.len);

    drfgate_str s = {0};
    print_str_field(stdout, drfgate_decision_www_authenticate(d, &s), s);
    print_str_field(stdout, drfgate_decision_allow(d, &s), s);
    print_str_field(stdout, drfgate_decision_username(d, &s), s);
    print_str_field(stdout, drfgate_decision_scheme(d, &s), s);
    putchar('\n');

    /* An authenticated decision has every user field; an anonymous one none. */
    drfgate_str pk = {0};
    r = drfgate_decision_user_pk(d, &pk);
    CHECK((r == DRFGATE_RESULT_OK) == drfgate_decision_is_authenticated(d));
    CHECK(r != DRFGATE_RESULT_OK || pk.len > 0);
    if (!drfgate_decision_is_authenticated(d)) {
        CHECK(!drfgate_decision_is_staff(d) && !drfgate_decision_is_superuser(d));
        CHECK(drfgate_decision_authenticator(d, &s) == DRFGATE_RESULT_ABSENT);
    } else {
        CHECK(drfgate_decision_authenticator(d, &s) == DRFGATE_RESULT_OK && s.len > 0);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) die("usage: %s CASE_FILE", argv[0]);
    char *text = read_file(argv[1], NULL);
    drfgate_gate *gate = NULL;
    size_t cases = 0;
    char *save = NULL;
    char *tok = strtok_r(text, " \n", &save);
    while (tok) {
        int present;
        if (strcmp(tok, "gate-file") == 0 || strcmp(tok, "gate-text") == 0) {
            int from_file = tok[5] == 'f';
            char *arg = strtok_r(NULL, " \n", &save);
            size_t len = unhex(arg, &present);
            drfgate_gate_free(gate);
            gate = NULL;
            drfgate_result r = from_file ? drfgate_gate_new_from_path(arg, &gate)
                                         : drfgate_gate_new_from_str(arg, len, NULL, &gate);
            if (r != DRFGATE_RESULT_OK) die("gate: %s: %s", drfgate_result_text(r), last_error());
        } else if (strcmp(tok, "case") == 0) {
            char *id = strtok_r(NULL, " \n", &save);
            size_t id_len = unhex(id, &present);
            char *method = strtok_r(NULL, " \n", &save);
            char *path = strtok_r(NULL, " \n", &save);
            char *remote_user = strtok_r(NULL, " \n", &save);
            drfgate_request req = DRFGATE_REQUEST_INIT;
            req.method.data = (const uint8_t *)method;
            req.method.len = unhex(method, &present);
            req.path.data = (const uint8_t *)path;
            req.path.len = unhex(path, &present);
            req.remote_user.len = unhex(remote_user, &present);
            req.remote_user.data = present ? (const uint8_t *)remote_user : NULL;
            struct header_table table = {0};
            table.n = (size_t)atoi(strtok_r(NULL, " \n", &save));
            if (table.n > MAX_HEADERS) die("too many headers");
            for (size_t i = 0; i < table.n; i++) {
                char *name = strtok_r(NULL, " \n", &save);
                char *value = strtok_r(NULL, " \n", &save);
                table.pairs[i].name.len = unhex(name, &present);
                table.pairs[i].name.data = (const uint8_t *)name;
                table.pairs[i].value.len = unhex(value, &present);
                table.pairs[i].value.data = (const uint8_t *)value;
            }
            if (cases % 2 == 0) {
                req.headers = table.n ? table.pairs : NULL;
                req.headers_len = table.n;
            } else {
                req.header_value = lookup;
                req.header_userdata = &table;
            }
            if (!gate) die("case before gate");
            drfgate_decision *d = NULL;
            drfgate_result r = drfgate_gate_decide(gate, &req, &d);
            if (r != DRFGATE_RESULT_OK) die("decide: %s: %s", drfgate_result_text(r), last_error());
            answer(id, id_len, d);
            drfgate_decision_free(d);
            cases++;
        } else {
            die("unknown line: %s", tok);
        }
        tok = strtok_r(NULL, " \n", &save);
    }
    drfgate_gate_free(gate);
    free(text);
    fprintf(stderr, "conformance: %zu cases decided\n", cases);
    return harness_exit("conformance");
}
