/* The fake host of wemu_testhost.h (native builds only). */
#include "wemu_testhost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

wemu_test_host_t wemu_test_host;

static unsigned passed, failed;
static bool current_failed;

void wemu_test_reset(void) { memset(&wemu_test_host, 0, sizeof wemu_test_host); }

/* --- optional device callbacks: the same defaults as the wasm glue ------ */

__attribute__((weak)) void dev_irq_input(uint32_t line, bool level) {
    (void)line;
    (void)level;
}

__attribute__((weak)) void dev_timer_fired(uint32_t id) { (void)id; }

__attribute__((weak)) uint32_t dev_char_input(uint32_t port, const uint8_t *data, size_t len) {
    (void)port;
    (void)data;
    (void)len;
    return 0;
}

/* --- host functions ------------------------------------------------------ */

void wemu_log(wemu_log_level level, const char *message) {
    snprintf(wemu_test_host.last_log, sizeof wemu_test_host.last_log, "%s", message);
    wemu_test_host.last_log_level = level;
    wemu_test_host.logs++;
}

void wemu_irq_set(uint32_t line, bool level) {
    wemu_test_host.irq_calls++;
    if (line >= WEMU_TEST_LINES) {
        wemu_test_check(false, "wemu_irq_set line < WEMU_TEST_LINES", __FILE__, __LINE__);
        return;
    }
    wemu_test_host.irq[line] = level;
}

uint64_t wemu_now_ns(void) { return wemu_test_host.now_ns; }

void wemu_set_timer(uint32_t id, uint64_t deadline_ns) {
    if (id >= WEMU_TEST_TIMERS) {
        wemu_test_check(false, "timer id < WEMU_TEST_TIMERS", __FILE__, __LINE__);
        return;
    }
    wemu_test_host.timer_armed[id] = true;
    wemu_test_host.timer_deadline[id] = deadline_ns;
}

void wemu_cancel_timer(uint32_t id) {
    if (id < WEMU_TEST_TIMERS) wemu_test_host.timer_armed[id] = false;
}

/* Offset of [addr, addr + len) inside the DMA window, like the host's check. */
static wemu_dma_status locate(uint64_t addr, uint32_t len, size_t *off) {
    if (len > WEMU_DMA_MAX) return WEMU_DMA_TOO_LARGE;
    if (addr < wemu_test_host.dma_base) return WEMU_DMA_DENIED;
    uint64_t rel = addr - wemu_test_host.dma_base;
    if (rel > wemu_test_host.dma_len || len > wemu_test_host.dma_len - rel) return WEMU_DMA_DENIED;
    *off = (size_t)rel;
    return WEMU_DMA_OK;
}

wemu_dma_status wemu_dma_read(uint64_t addr, void *buf, uint32_t len) {
    size_t off;
    wemu_dma_status s = locate(addr, len, &off);
    if (s == WEMU_DMA_OK) memcpy(buf, wemu_test_host.dma_mem + off, len);
    return s;
}

wemu_dma_status wemu_dma_write(uint64_t addr, const void *buf, uint32_t len) {
    size_t off;
    wemu_dma_status s = locate(addr, len, &off);
    if (s == WEMU_DMA_OK) memcpy(wemu_test_host.dma_mem + off, buf, len);
    return s;
}

uint32_t wemu_chardev_write(uint32_t port, const void *data, uint32_t len) {
    if (port != 0) return len;
    size_t room = sizeof wemu_test_host.chardev - wemu_test_host.chardev_len;
    size_t n = len < room ? len : room;
    memcpy(wemu_test_host.chardev + wemu_test_host.chardev_len, data, n);
    wemu_test_host.chardev_len += n;
    return len;
}

uint64_t wemu_block_size(uint32_t port) {
    (void)port;
    return 0;
}

wemu_block_status wemu_block_read(uint32_t port, uint64_t offset, void *buf, uint32_t len) {
    (void)port, (void)offset, (void)buf, (void)len;
    return WEMU_BLOCK_NO_BACKEND;
}

wemu_block_status wemu_block_write(uint32_t port, uint64_t offset, const void *buf, uint32_t len) {
    (void)port, (void)offset, (void)buf, (void)len;
    return WEMU_BLOCK_NO_BACKEND;
}

wemu_block_status wemu_block_flush(uint32_t port) {
    (void)port;
    return WEMU_BLOCK_NO_BACKEND;
}

void wemu_poweroff(uint32_t code) {
    wemu_test_host.poweroff = true;
    wemu_test_host.poweroff_code = code;
}

void wemu_machine_reset(void) { wemu_test_host.machine_reset = true; }

/* --- saved state ---------------------------------------------------------- */

struct wemu_state_out {
    uint8_t *data;
    size_t len;
};

void wemu_state_put(wemu_state_out *out, const void *data, size_t len) {
    out->data = realloc(out->data, out->len + len);
    if (out->data == NULL) abort();
    memcpy(out->data + out->len, data, len);
    out->len += len;
}

uint8_t *wemu_test_save(size_t *len) {
    wemu_state_out out = {NULL, 0};
    dev_save(&out);
    *len = out.len;
    return out.data;
}

/* --- the runner ------------------------------------------------------------- */

void wemu_test_check(bool ok, const char *what, const char *file, int line) {
    if (ok) return;
    current_failed = true;
    fprintf(stderr, "  %s:%d: check failed: %s\n", file, line, what);
}

void wemu_test_check_eq(uint64_t got, uint64_t want, const char *what, const char *file, int line) {
    if (got == want) return;
    current_failed = true;
    fprintf(stderr, "  %s:%d: check failed: %s (got %#llx, want %#llx)\n", file, line, what,
            (unsigned long long)got, (unsigned long long)want);
}

void wemu_test_run(const char *name, void (*test)(void)) {
    wemu_test_reset();
    current_failed = false;
    test();
    printf("test %s ... %s\n", name, current_failed ? "FAILED" : "ok");
    if (current_failed) failed++;
    else passed++;
}

int wemu_test_summary(void) {
    printf("\ntest result: %s. %u passed; %u failed\n", failed ? "FAILED" : "ok", passed, failed);
    return failed ? 1 : 0;
}
