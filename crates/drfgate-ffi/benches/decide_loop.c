/* The C side of the c_abi bench: times N cached decisions through the C ABI, the way a
 * server module makes them (fill a drfgate_request, decide, read allow/deny).
 * Usage: decide_loop CONFIG ITERATIONS [new|into]; prints the elapsed nanoseconds of the
 * timed loop. `new` (the default): drfgate_gate_decide and drfgate_decision_free per
 * decision; `into`: drfgate_gate_decide_into one decision made once, refilled each time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drfgate.h"

/* NULL: a new decision per call; else this one, refilled. */
static drfgate_decision *reused;

static int decide_once(const drfgate_gate *gate, const drfgate_request *request) {
    if (reused) {
        if (drfgate_gate_decide_into(gate, request, reused) != DRFGATE_RESULT_OK) return -1;
        return drfgate_decision_is_allow(reused);
    }
    drfgate_decision *decision = NULL;
    if (drfgate_gate_decide(gate, request, &decision) != DRFGATE_RESULT_OK) return -1;
    int allowed = drfgate_decision_is_allow(decision);
    drfgate_decision_free(decision);
    return allowed;
}

int main(int argc, char **argv) {
    if (argc != 3 && !(argc == 4 && (strcmp(argv[3], "new") == 0 || strcmp(argv[3], "into") == 0))) {
        fprintf(stderr, "usage: %s CONFIG ITERATIONS [new|into]\n", argv[0]);
        return 2;
    }
    if (argc == 4 && strcmp(argv[3], "into") == 0 && drfgate_decision_new(&reused) != DRFGATE_RESULT_OK) {
        fprintf(stderr, "decide_loop: cannot make a decision\n");
        return 2;
    }
    long iterations = atol(argv[2]);
    drfgate_gate *gate = NULL;
    if (drfgate_gate_new_from_path(argv[1], &gate) != DRFGATE_RESULT_OK) {
        fprintf(stderr, "decide_loop: cannot create the gate\n");
        return 2;
    }
    static const char authorization[] = "Token abcd1234";
    drfgate_header header = {{(const uint8_t *)"Authorization", 13}, {(const uint8_t *)authorization, 14}};
    drfgate_request request = DRFGATE_REQUEST_INIT;
    request.method.data = (const uint8_t *)"GET";
    request.method.len = 3;
    request.path.data = (const uint8_t *)"/api/orders/42/";
    request.path.len = strlen("/api/orders/42/");
    request.headers = &header;
    request.headers_len = 1;
    /* The first decision loads the token's user into the cache. */
    if (decide_once(gate, &request) != 1) {
        fprintf(stderr, "decide_loop: the warm-up decision was not an allow\n");
        return 2;
    }
    long allowed = 0;
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0; i < iterations; i++) allowed += decide_once(gate, &request);
    clock_gettime(CLOCK_MONOTONIC, &end);
    if (allowed != iterations) {
        fprintf(stderr, "decide_loop: %ld of %ld decisions allowed\n", allowed, iterations);
        return 2;
    }
    long long ns = (long long)(end.tv_sec - start.tv_sec) * 1000000000LL + (end.tv_nsec - start.tv_nsec);
    printf("%lld\n", ns);
    drfgate_decision_free(reused);
    drfgate_gate_free(gate);
    return 0;
}
