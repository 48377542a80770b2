/*
 * A fake host for unit-testing a C device natively (no wasm): compile the
 * device's .c files, wemu_common.c, wemu_testhost.c and a test file with
 * the system's C compiler. The host functions of wemu.h record what the
 * device asked for in `wemu_test_host`; tests call the dev_* functions
 * directly and look at it.
 *
 *   WEMU_TEST(reads_id) {
 *       wemu_description d;
 *       WEMU_CHECK(dev_create(&(wemu_props){0}, &d) == NULL);
 *       uint64_t v;
 *       WEMU_CHECK_EQ(dev_read(0, 0, 4, &v), WEMU_ACCESS_OK);
 *       WEMU_CHECK_EQ(v, 0x12345678);
 *   }
 *   int main(void) { WEMU_RUN(reads_id); return wemu_test_summary(); }
 */
#ifndef WEMU_TESTHOST_H
#define WEMU_TESTHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wemu.h"

#define WEMU_TEST_LINES 64
#define WEMU_TEST_TIMERS 64

typedef struct {
    /* What wemu_now_ns returns; tests move it forward. */
    uint64_t now_ns;
    /* Output line levels, and how many times wemu_irq_set was called. */
    bool irq[WEMU_TEST_LINES];
    unsigned irq_calls;
    /* Armed timers by id. */
    bool timer_armed[WEMU_TEST_TIMERS];
    uint64_t timer_deadline[WEMU_TEST_TIMERS];
    /* The DMA window: guest addresses [dma_base, dma_base + dma_len) map
     * to dma_mem; anything else is WEMU_DMA_DENIED. */
    uint64_t dma_base;
    uint8_t *dma_mem;
    size_t dma_len;
    /* Bytes written to chardev port 0 (truncated at the buffer's size). */
    uint8_t chardev[4096];
    size_t chardev_len;
    /* wemu_poweroff / wemu_machine_reset requests. */
    bool poweroff;
    uint32_t poweroff_code;
    bool machine_reset;
    /* The last log line and how many were logged. */
    char last_log[256];
    wemu_log_level last_log_level;
    unsigned logs;
} wemu_test_host_t;

extern wemu_test_host_t wemu_test_host;

/* Clear the fake host (WEMU_RUN does it before each test). */
void wemu_test_reset(void);

/* Call dev_save; returns a malloc'd buffer (free it) and its length. */
uint8_t *wemu_test_save(size_t *len);

void wemu_test_check(bool ok, const char *what, const char *file, int line);
void wemu_test_check_eq(uint64_t got, uint64_t want, const char *what, const char *file, int line);
void wemu_test_run(const char *name, void (*test)(void));
/* Prints the summary; returns the process exit status (0 = all passed). */
int wemu_test_summary(void);

#define WEMU_TEST(name) static void name(void)
#define WEMU_RUN(name) wemu_test_run(#name, name)
#define WEMU_CHECK(cond) wemu_test_check((cond), #cond, __FILE__, __LINE__)
#define WEMU_CHECK_EQ(got, want) \
    wemu_test_check_eq((uint64_t)(got), (uint64_t)(want), #got " == " #want, __FILE__, __LINE__)

#endif /* WEMU_TESTHOST_H */
