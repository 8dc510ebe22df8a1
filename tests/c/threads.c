/* Many threads deciding at once on one shared gate, while another invalidates cache
 * entries and reads the counters: every answer must stay what DRF says. Each thread makes
 * every other decision into a decision of its own, refilled (drfgate_gate_decide_into).
 * Usage: threads CONFIG THREADS ITERATIONS_PER_THREAD */
#include <pthread.h>
#include <strings.h>

#include "requests.h"

static drfgate_gate *shared_gate;
static long iterations;
static volatile int deciders_done;

struct worker {
    pthread_t thread;
    size_t id;
    long mismatches;
};

static void *decide_loop(void *arg) {
    struct worker *w = arg;
    drfgate_decision *own = NULL;
    if (drfgate_decision_new(&own) != DRFGATE_RESULT_OK) die("drfgate_decision_new: %s", last_error());
    for (long i = 0; i < iterations; i++) {
        size_t which = (size_t)(i + (long)w->id) % KNOWN_COUNT;
        drfgate_decision *reused = i % 2 ? own : NULL;
        if (!decide_known_into(shared_gate, which, (int)((i / KNOWN_COUNT + w->id) % 2), reused)) w->mismatches++;
    }
    drfgate_decision_free(own);
    return NULL;
}

static void *maintenance_loop(void *arg) {
    long *failures = arg;
    while (!__atomic_load_n(&deciders_done, __ATOMIC_ACQUIRE)) {
        drfgate_stats stats = DRFGATE_STATS_INIT;
        size_t dropped = 0;
        if (drfgate_gate_invalidate_token(shared_gate, (const uint8_t *)"abcd1234", 8) != DRFGATE_RESULT_OK) (*failures)++;
        if (drfgate_gate_invalidate_user_id(shared_gate, 3, &dropped) != DRFGATE_RESULT_OK) (*failures)++;
        if (drfgate_gate_stats(shared_gate, &stats) != DRFGATE_RESULT_OK) (*failures)++;
        for (volatile int spin = 0; spin < 20000; spin++) {
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) die("usage: %s CONFIG THREADS ITERATIONS", argv[0]);
    size_t threads = (size_t)atol(argv[2]);
    iterations = atol(argv[3]);
    shared_gate = gate_from_path_or_die(argv[1]);
    for (size_t i = 0; i < KNOWN_COUNT; i++) CHECK(decide_known(shared_gate, i, 0));

    struct worker *workers = calloc(threads, sizeof *workers);
    long maintenance_failures = 0;
    pthread_t maintenance;
    for (size_t t = 0; t < threads; t++) {
        workers[t].id = t;
        if (pthread_create(&workers[t].thread, NULL, decide_loop, &workers[t]) != 0) die("pthread_create");
    }
    if (pthread_create(&maintenance, NULL, maintenance_loop, &maintenance_failures) != 0) die("pthread_create");
    long mismatches = 0;
    for (size_t t = 0; t < threads; t++) {
        pthread_join(workers[t].thread, NULL);
        mismatches += workers[t].mismatches;
    }
    __atomic_store_n(&deciders_done, 1, __ATOMIC_RELEASE);
    pthread_join(maintenance, NULL);
    CHECK(mismatches == 0);
    CHECK(maintenance_failures == 0);

    drfgate_stats stats = DRFGATE_STATS_INIT;
    CHECK_RESULT(drfgate_gate_stats(shared_gate, &stats), DRFGATE_RESULT_OK);
    CHECK(stats.tokens.hits > 0);
    fprintf(stderr, "threads: %zu threads x %ld decisions, %ld mismatches; token cache: %llu hits, %llu misses, %llu loads, %llu coalesced\n",
            threads, iterations, mismatches, (unsigned long long)stats.tokens.hits,
            (unsigned long long)stats.tokens.misses, (unsigned long long)stats.tokens.loads,
            (unsigned long long)stats.tokens.coalesced);
    free(workers);
    drfgate_gate_free(shared_gate);
    return harness_exit("threads");
}
