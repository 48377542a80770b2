/*
 * Native unit tests of crc32-dma against the SDK's fake host
 * (guest-sdk/c/wemu_testhost.h). wemu's integration test
 * `c_device_unit_tests_pass` builds and runs this with the system's C
 * compiler; by hand:
 *   cc -Iguest-sdk/c devices/crc32-dma/src/crc32_dma.c devices/crc32-dma/tests/test_crc32_dma.c \
 *      guest-sdk/c/wemu_common.c guest-sdk/c/wemu_testhost.c -o /tmp/t && /tmp/t
 */
#include <stdlib.h>
#include <string.h>

#include "wemu_testhost.h"

#define RAM_BASE 0x80000000u

static uint8_t ram[256 * 1024];

static void create(void) {
    wemu_description d;
    memset(&d, 0, sizeof d);
    WEMU_CHECK(dev_create(&(wemu_props){0}, &d) == NULL);
    wemu_test_host.dma_base = RAM_BASE;
    wemu_test_host.dma_mem = ram;
    wemu_test_host.dma_len = sizeof ram;
}

static uint32_t rd(uint64_t off) {
    uint64_t v = 0;
    WEMU_CHECK_EQ(dev_read(0, off, 4, &v), WEMU_ACCESS_OK);
    return (uint32_t)v;
}

static void wr(uint64_t off, uint32_t v) { WEMU_CHECK_EQ(dev_write(0, off, 4, v), WEMU_ACCESS_OK); }

/* Fire timer 0 until the transfer ends, as the host would; returns how many
 * times it fired. */
static unsigned run_to_completion(void) {
    unsigned fired = 0;
    while (wemu_test_host.timer_armed[0] && fired < 1000) {
        wemu_test_host.timer_armed[0] = false;
        wemu_test_host.now_ns = wemu_test_host.timer_deadline[0];
        dev_timer_fired(0);
        fired++;
    }
    return fired;
}

/* Bitwise CRC-32, independent of the device's table. */
static uint32_t reference_crc(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

WEMU_TEST(describes_itself) {
    wemu_description d;
    memset(&d, 0, sizeof d);
    WEMU_CHECK(dev_create(&(wemu_props){0}, &d) == NULL);
    WEMU_CHECK(strcmp(d.model, "crc32-dma") == 0);
    WEMU_CHECK_EQ(d.n_regions, 1);
    WEMU_CHECK_EQ(d.regions[0].size, 0x100);
    WEMU_CHECK_EQ(d.irq_outputs, 1);
    WEMU_CHECK(strcmp(d.compatible[0], "wemu,crc32-dma") == 0);
    WEMU_CHECK_EQ(rd(0x00), 0x43524344);
}

WEMU_TEST(check_value_of_123456789) {
    create();
    memcpy(ram + 0x100, "123456789", 9);
    wr(0x04, RAM_BASE + 0x100);
    wr(0x08, 0);
    wr(0x0c, 9);
    wr(0x10, 0x3); /* START | IRQ_EN */
    WEMU_CHECK_EQ(rd(0x14), 0x1);      /* BUSY */
    WEMU_CHECK_EQ(rd(0x10), 0x2);      /* START reads 0 */
    WEMU_CHECK(!wemu_test_host.irq[0]);
    WEMU_CHECK_EQ(wemu_test_host.timer_deadline[0], 9); /* 9 bytes at 1000 B/us */
    WEMU_CHECK_EQ(run_to_completion(), 1);
    WEMU_CHECK_EQ(rd(0x18), 0xcbf43926); /* the standard CRC-32 check value */
    WEMU_CHECK_EQ(rd(0x14), 0x2);        /* DONE */
    WEMU_CHECK(wemu_test_host.irq[0]);
    wr(0x14, 0x2); /* acknowledge */
    WEMU_CHECK(!wemu_test_host.irq[0]);
    WEMU_CHECK_EQ(rd(0x14), 0);
}

WEMU_TEST(long_buffer_goes_in_chunks_and_matches_reference) {
    create();
    size_t n = 200000;
    for (size_t i = 0; i < n; i++) ram[i] = (uint8_t)(i * 7 + (i >> 8));
    wr(0x04, RAM_BASE);
    wr(0x0c, (uint32_t)n);
    wr(0x10, 0x1); /* START, no IRQ */
    WEMU_CHECK_EQ(run_to_completion(), 4); /* 3 x 64 KiB + the rest */
    WEMU_CHECK_EQ(wemu_test_host.now_ns, 200000);
    WEMU_CHECK_EQ(rd(0x18), reference_crc(ram, n));
    WEMU_CHECK(!wemu_test_host.irq[0]); /* IRQ_EN was off */
    wr(0x10, 0x2);                      /* enabling it raises the pending DONE */
    WEMU_CHECK(wemu_test_host.irq[0]);
}

WEMU_TEST(buffer_outside_the_window_sets_error) {
    create();
    wr(0x04, 0x1000);
    wr(0x0c, 16);
    wr(0x10, 0x3);
    run_to_completion();
    WEMU_CHECK_EQ(rd(0x14), 0x4); /* ERROR */
    WEMU_CHECK_EQ(rd(0x1c), 1);   /* denied */
    WEMU_CHECK(wemu_test_host.irq[0]);
}

WEMU_TEST(start_while_busy_is_ignored) {
    create();
    wr(0x04, RAM_BASE);
    wr(0x0c, 100);
    wr(0x10, 0x1);
    uint64_t deadline = wemu_test_host.timer_deadline[0];
    wemu_test_host.now_ns = 50;
    wr(0x10, 0x1);
    WEMU_CHECK_EQ(wemu_test_host.timer_deadline[0], deadline);
    WEMU_CHECK_EQ(wemu_test_host.last_log_level, WEMU_LOG_WARN);
}

WEMU_TEST(bad_accesses_are_refused) {
    create();
    uint64_t v;
    WEMU_CHECK_EQ(dev_read(0, 0x20, 4, &v), WEMU_ACCESS_INVALID_OFFSET);
    WEMU_CHECK_EQ(dev_read(0, 0x00, 2, &v), WEMU_ACCESS_INVALID_SIZE);
    WEMU_CHECK_EQ(dev_write(0, 0x06, 4, 0), WEMU_ACCESS_INVALID_OFFSET);
    wr(0x00, 0); /* ID is read-only */
    WEMU_CHECK_EQ(rd(0x00), 0x43524344);
}

WEMU_TEST(properties_are_checked) {
    wemu_description d;
    wemu_prop slow = {.name = "bytes-per-us", .kind = WEMU_PROP_INT, .integer = 0};
    const char *err = dev_create(&(wemu_props){&slow, 1}, &d);
    WEMU_CHECK(err != NULL && strstr(err, "bytes-per-us") != NULL);
    wemu_prop other = {.name = "speed", .kind = WEMU_PROP_INT, .integer = 1};
    err = dev_create(&(wemu_props){&other, 1}, &d);
    WEMU_CHECK(err != NULL && strstr(err, "unknown property 'speed'") != NULL);
    wemu_prop fast = {.name = "bytes-per-us", .kind = WEMU_PROP_INT, .integer = 10};
    WEMU_CHECK(dev_create(&(wemu_props){&fast, 1}, &d) == NULL);
    wemu_test_host.dma_base = RAM_BASE;
    wemu_test_host.dma_mem = ram;
    wemu_test_host.dma_len = sizeof ram;
    wr(0x04, RAM_BASE);
    wr(0x0c, 100);
    wr(0x10, 0x1);
    WEMU_CHECK_EQ(wemu_test_host.timer_deadline[0], 10000); /* 100 bytes at 10 B/us */
}

WEMU_TEST(save_restore_round_trips_mid_transfer) {
    create();
    memcpy(ram, "123456789", 9);
    wr(0x04, RAM_BASE);
    wr(0x0c, 9);
    wr(0x10, 0x3);
    size_t len;
    uint8_t *saved = wemu_test_save(&len);
    dev_reset();
    WEMU_CHECK(!wemu_test_host.timer_armed[0]);
    WEMU_CHECK_EQ(rd(0x14), 0);
    WEMU_CHECK(dev_restore(saved, len) == NULL);
    WEMU_CHECK(wemu_test_host.timer_armed[0]); /* the transfer resumes */
    run_to_completion();
    WEMU_CHECK_EQ(rd(0x18), 0xcbf43926);
    WEMU_CHECK(dev_restore(saved, len - 1) != NULL);
    saved[0] ^= 0xff;
    WEMU_CHECK(dev_restore(saved, len) != NULL);
    free(saved);
}

int main(void) {
    WEMU_RUN(describes_itself);
    WEMU_RUN(check_value_of_123456789);
    WEMU_RUN(long_buffer_goes_in_chunks_and_matches_reference);
    WEMU_RUN(buffer_outside_the_window_sets_error);
    WEMU_RUN(start_while_busy_is_ignored);
    WEMU_RUN(bad_accesses_are_refused);
    WEMU_RUN(properties_are_checked);
    WEMU_RUN(save_restore_round_trips_mid_transfer);
    return wemu_test_summary();
}
