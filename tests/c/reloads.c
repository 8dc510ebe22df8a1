/* A server reload loads a new gate and frees the old one (nginx's master loads one at every
 * `nginx -s reload` to check the config, Apache at every graceful restart): nothing a load,
 * a few decisions and the free allocate may stay behind.
 * Usage: reloads CONFIG ROUNDS CHECK_HEAP(0|1)
 * With CHECK_HEAP the bytes malloc has handed out and not had back (mallinfo2's uordblks,
 * which fragmentation does not move, unlike the resident size) may grow by at most 4 KiB
 * between the end of the third round and the end of the last: a gate left behind per reload
 * is hundreds of KiB, and even 32 bytes per round shows over 200 rounds. glibc's per-thread
 * cache (tcache) keeps freed chunks counted as in use, up to ~100 KiB of them, so the program
 * runs itself again with the tcache off. Under ASan and Valgrind pass 0: they report leaks
 * themselves (and Valgrind would not follow the re-run). */
#include <errno.h>
#include <malloc.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "requests.h"

static long heap_in_use(void) {
    struct mallinfo2 info = mallinfo2();
    return (long)info.uordblks + (long)info.hblkhd;
}

int main(int argc, char **argv) {
    if (argc != 4) die("usage: %s CONFIG ROUNDS CHECK_HEAP", argv[0]);
    long rounds = atol(argv[2]);
    int check_heap = atoi(argv[3]);
    long warm_after = 3, heap_warm = 0, mismatches = 0;
    if (rounds <= warm_after) die("ROUNDS must be more than %ld", warm_after);
    const char *tunables = getenv("GLIBC_TUNABLES");
    if (check_heap && (!tunables || !strstr(tunables, "glibc.malloc.tcache_count=0"))) {
        setenv("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0", 1);
        execv("/proc/self/exe", argv);
        die("execv(/proc/self/exe): %s", strerror(errno));
    }
    for (long round = 1; round <= rounds; round++) {
        drfgate_gate *gate = gate_from_path_or_die(argv[1]);
        /* Decide as a worker would between reloads, so that the caches and everything made on
         * first use are filled before the gate goes. */
        for (size_t i = 0; i < 2 * KNOWN_COUNT; i++) {
            if (!decide_known(gate, i % KNOWN_COUNT, (int)(i / KNOWN_COUNT))) mismatches++;
        }
        drfgate_gate_free(gate);
        if (round == warm_after) heap_warm = heap_in_use();
    }
    long heap_end = heap_in_use();
    CHECK(mismatches == 0);
    fprintf(stderr, "reloads: %ld gates loaded and freed; heap in use %ld bytes after %ld, %ld at the end (%+ld)\n",
            rounds, heap_warm, warm_after, heap_end, heap_end - heap_warm);
    if (check_heap) CHECK(heap_end - heap_warm <= 4 * 1024);
    return harness_exit("reloads");
}
