/*
 * crc32-dma: a DMA engine that computes the CRC-32 (IEEE 802.3, as zlib's
 * crc32()) of a buffer in guest RAM and raises its interrupt when done.
 * Written in C against wemu.h (guest-sdk/c); see
 * docs/device-authoring-c.md.
 *
 * Region "regs" (0x100 bytes), 32-bit registers, 4-byte accesses only:
 *
 * | off  | reg     | access | bits                                        |
 * |------|---------|--------|---------------------------------------------|
 * | 0x00 | ID      | RO     | 0x43524344 ("CRCD")                         |
 * | 0x04 | SRC_LO  | RW     | buffer address, low 32 bits                 |
 * | 0x08 | SRC_HI  | RW     | buffer address, high 32 bits                |
 * | 0x0c | LEN     | RW     | buffer length in bytes                      |
 * | 0x10 | CTRL    | RW     | 0 START (write 1 to start; reads 0), 1 IRQ_EN |
 * | 0x14 | STATUS  | RO/W1C | 0 BUSY (RO), 1 DONE (W1C), 2 ERROR (W1C)    |
 * | 0x18 | RESULT  | RO     | CRC-32 of the last completed transfer       |
 * | 0x1c | ERRCODE | RO     | why ERROR is set: 1 DMA denied, 2 unmapped  |
 *
 * START latches SRC and LEN and sets BUSY; the engine then reads the buffer
 * 64 KiB at a time, one chunk per `bytes-per-us` worth of virtual time (a
 * timer, so the machine must grant `timers`), and at the end clears BUSY
 * and sets DONE (or ERROR at the first refused read). The interrupt line
 * is IRQ_EN && (DONE || ERROR), level-triggered; writing 1s to STATUS
 * acknowledges. START while BUSY is ignored. Capabilities: dma, timers.
 *
 * Property: bytes-per-us (1 to 2^30, default 1000, i.e. 1 GB/s).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "wemu.h"

#define ID_VALUE 0x43524344u

#define REG_ID 0x00
#define REG_SRC_LO 0x04
#define REG_SRC_HI 0x08
#define REG_LEN 0x0c
#define REG_CTRL 0x10
#define REG_STATUS 0x14
#define REG_RESULT 0x18
#define REG_ERRCODE 0x1c

#define CTRL_START (1u << 0)
#define CTRL_IRQ_EN (1u << 1)
#define STATUS_BUSY (1u << 0)
#define STATUS_DONE (1u << 1)
#define STATUS_ERROR (1u << 2)
#define STATUS_W1C (STATUS_DONE | STATUS_ERROR)

#define CHUNK 65536u
#define TIMER 0u

/* Everything saved by dev_save, in this layout (fixed-width fields, the
 * same on wasm32 and on the native test build). */
struct state {
    uint32_t magic;
    uint32_t version;
    uint32_t src_lo, src_hi, len, ctrl, status, result, errcode;
    uint32_t irq_level;
    /* The running transfer (valid while STATUS.BUSY). */
    uint64_t xfer_addr;
    uint32_t xfer_len, xfer_done;
    uint32_t crc;
    uint32_t bytes_per_us;
    uint64_t deadline_ns;
};

#define STATE_MAGIC 0x43524353u /* "CRCS" */
#define STATE_VERSION 1u

static struct state s;
static uint32_t bytes_per_us = 1000;
static uint32_t table[256];
static uint8_t chunk[CHUNK];

static void make_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
}

static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return crc;
}

/* Virtual time one transfer of `n` bytes takes, rounded up. */
static uint64_t ns_for(uint32_t n) { return ((uint64_t)n * 1000u + bytes_per_us - 1) / bytes_per_us; }

static void update_irq(void) {
    uint32_t level = (s.ctrl & CTRL_IRQ_EN) && (s.status & STATUS_W1C) ? 1 : 0;
    if (level != s.irq_level) {
        s.irq_level = level;
        wemu_irq_set(0, level != 0);
    }
}

static void power_on_state(void) {
    memset(&s, 0, sizeof s);
    s.magic = STATE_MAGIC;
    s.version = STATE_VERSION;
    s.bytes_per_us = bytes_per_us;
}

static void arm_next_chunk(void) {
    uint32_t left = s.xfer_len - s.xfer_done;
    s.deadline_ns = wemu_now_ns() + ns_for(left < CHUNK ? left : CHUNK);
    wemu_set_timer(TIMER, s.deadline_ns);
}

static void start(void) {
    if (s.status & STATUS_BUSY) {
        wemu_log(WEMU_LOG_WARN, "START while busy: ignored");
        return;
    }
    s.xfer_addr = ((uint64_t)s.src_hi << 32) | s.src_lo;
    s.xfer_len = s.len;
    s.xfer_done = 0;
    s.crc = 0xffffffffu;
    s.status = (s.status & ~STATUS_W1C) | STATUS_BUSY;
    s.errcode = 0;
    arm_next_chunk();
}

static const char *const known_props[] = {"bytes-per-us"};
static const wemu_region regions[] = {{"regs", 0x100}};
static const char *const compatible[] = {"wemu,crc32-dma"};

const char *dev_create(const wemu_props *props, wemu_description *desc) {
    int64_t rate;
    const char *err = wemu_prop_int(props, "bytes-per-us", 1000, 1, 1 << 30, &rate);
    if (err != NULL) return err;
    err = wemu_props_unknown(props, known_props, 1);
    if (err != NULL) return err;
    bytes_per_us = (uint32_t)rate;
    make_table();
    power_on_state();

    desc->model = "crc32-dma";
    desc->version = "0.1.0";
    desc->regions = regions;
    desc->n_regions = 1;
    desc->irq_outputs = 1;
    desc->dt_name = "crc";
    desc->compatible = compatible;
    desc->n_compatible = 1;
    return NULL;
}

void dev_reset(void) {
    bool line_was_high = s.irq_level != 0;
    if (s.status & STATUS_BUSY) wemu_cancel_timer(TIMER);
    power_on_state();
    if (line_was_high) wemu_irq_set(0, false);
}

wemu_access dev_read(uint32_t region, uint64_t offset, uint8_t size, uint64_t *value) {
    (void)region;
    if (offset >= 0x20 || offset % 4 != 0) return WEMU_ACCESS_INVALID_OFFSET;
    if (size != 4) return WEMU_ACCESS_INVALID_SIZE;
    switch (offset) {
    case REG_ID: *value = ID_VALUE; break;
    case REG_SRC_LO: *value = s.src_lo; break;
    case REG_SRC_HI: *value = s.src_hi; break;
    case REG_LEN: *value = s.len; break;
    case REG_CTRL: *value = s.ctrl; break;
    case REG_STATUS: *value = s.status; break;
    case REG_RESULT: *value = s.result; break;
    default: *value = s.errcode; break;
    }
    return WEMU_ACCESS_OK;
}

wemu_access dev_write(uint32_t region, uint64_t offset, uint8_t size, uint64_t value) {
    (void)region;
    if (offset >= 0x20 || offset % 4 != 0) return WEMU_ACCESS_INVALID_OFFSET;
    if (size != 4) return WEMU_ACCESS_INVALID_SIZE;
    uint32_t v = (uint32_t)value;
    switch (offset) {
    case REG_SRC_LO: s.src_lo = v; break;
    case REG_SRC_HI: s.src_hi = v; break;
    case REG_LEN: s.len = v; break;
    case REG_CTRL:
        s.ctrl = v & CTRL_IRQ_EN;
        if (v & CTRL_START) start();
        break;
    case REG_STATUS: s.status &= ~(v & STATUS_W1C); break;
    default: break; /* ID, RESULT, ERRCODE are read-only */
    }
    update_irq();
    return WEMU_ACCESS_OK;
}

void dev_timer_fired(uint32_t id) {
    if (id != TIMER || !(s.status & STATUS_BUSY)) return;
    uint32_t left = s.xfer_len - s.xfer_done;
    uint32_t n = left < CHUNK ? left : CHUNK;
    wemu_dma_status st = n ? wemu_dma_read(s.xfer_addr + s.xfer_done, chunk, n) : WEMU_DMA_OK;
    if (st != WEMU_DMA_OK) {
        s.status = (s.status & ~STATUS_BUSY) | STATUS_ERROR;
        s.errcode = st == WEMU_DMA_DENIED ? 1 : 2;
        wemu_log_hex(WEMU_LOG_INFO, "DMA read refused at", s.xfer_addr + s.xfer_done);
    } else {
        s.crc = crc_update(s.crc, chunk, n);
        s.xfer_done += n;
        if (s.xfer_done < s.xfer_len) {
            arm_next_chunk();
            return;
        }
        s.result = ~s.crc;
        s.status = (s.status & ~STATUS_BUSY) | STATUS_DONE;
    }
    update_irq();
}

void dev_save(wemu_state_out *out) {
    s.bytes_per_us = bytes_per_us;
    wemu_state_put(out, &s, sizeof s);
}

const char *dev_restore(const uint8_t *data, size_t len) {
    struct state t;
    if (len != sizeof t) return "not a crc32-dma state (wrong length)";
    memcpy(&t, data, sizeof t);
    if (t.magic != STATE_MAGIC || t.version != STATE_VERSION) return "not a crc32-dma state (bad header)";
    if (t.irq_level > 1 || t.xfer_done > t.xfer_len || t.bytes_per_us == 0)
        return "corrupt crc32-dma state";
    if (s.status & STATUS_BUSY) wemu_cancel_timer(TIMER);
    s = t;
    bytes_per_us = t.bytes_per_us;
    if (s.status & STATUS_BUSY) wemu_set_timer(TIMER, s.deadline_ns);
    /* The host's view of the line may differ from the restored one. */
    wemu_irq_set(0, s.irq_level != 0);
    return NULL;
}
