/* Many decisions in a row must not grow the process: everything a decision allocates is
 * released by drfgate_decision_free (or by the next drfgate_gate_decide_into refilling it:
 * every third decision goes into one reused decision), and the caches stay bounded.
 * Usage: memory CONFIG ITERATIONS CHECK_RSS(0|1)
 * With CHECK_RSS the resident size after the run may exceed the size after the first tenth
 * by at most 1 MiB (a leak of 2 bytes per call would show). Under ASan (its quarantine keeps
 * freed memory) and Valgrind pass 0: they report leaks themselves. */
#include <strings.h>

#include "requests.h"

int main(int argc, char **argv) {
    if (argc != 4) die("usage: %s CONFIG ITERATIONS CHECK_RSS", argv[0]);
    long iterations = atol(argv[2]);
    int check_rss = atoi(argv[3]);
    drfgate_gate *gate = gate_from_path_or_die(argv[1]);
    long warm = iterations / 10, mismatches = 0, rss_warm = 0;
    drfgate_decision *reused = NULL;
    CHECK_RESULT(drfgate_decision_new(&reused), DRFGATE_RESULT_OK);
    for (long i = 0; i < iterations; i++) {
        if (i == warm) rss_warm = rss_kib();
        if (!decide_known_into(gate, (size_t)i % KNOWN_COUNT, (int)((i / KNOWN_COUNT) % 2), i % 3 == 0 ? reused : NULL))
            mismatches++;
        if (i % 50000 == 49999) {
            drfgate_stats stats = DRFGATE_STATS_INIT;
            CHECK_RESULT(drfgate_gate_stats(gate, &stats), DRFGATE_RESULT_OK);
        }
    }
    long rss_end = rss_kib();
    CHECK(mismatches == 0);
    fprintf(stderr, "memory: %ld decisions; RSS %ld KiB after %ld, %ld KiB at the end (%+ld KiB)\n", iterations,
            rss_warm, warm, rss_end, rss_end - rss_warm);
    if (check_rss) CHECK(rss_end - rss_warm <= 1024);
    drfgate_decision_free(reused);
    drfgate_gate_free(gate);
    return harness_exit("memory");
}
