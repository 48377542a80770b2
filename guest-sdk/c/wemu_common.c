/*
 * Property helpers and log formatting: plain C on top of wemu.h, built
 * into both the wasm component and the native unit tests.
 */
#include <string.h>

#include "wemu.h"

/* Error messages returned to dev_create's caller; one call at a time. */
static char message[256];

/* Append `s` to message at *at, truncating at the end of the buffer. */
static void put(size_t *at, const char *s) {
    size_t n = strlen(s);
    size_t room = sizeof message - 1 - *at;
    if (n > room) n = room;
    memcpy(message + *at, s, n);
    *at += n;
    message[*at] = '\0';
}

static void put_int(size_t *at, int64_t v) {
    char digits[24];
    size_t i = sizeof digits;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    digits[--i] = '\0';
    do {
        digits[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0) digits[--i] = '-';
    put(at, digits + i);
}

const wemu_prop *wemu_prop_find(const wemu_props *props, const char *name) {
    for (size_t i = 0; i < props->len; i++) {
        if (strcmp(props->items[i].name, name) == 0) return &props->items[i];
    }
    return NULL;
}

const char *wemu_prop_int(const wemu_props *props, const char *name, int64_t dflt, int64_t min,
                          int64_t max, int64_t *out) {
    const wemu_prop *p = wemu_prop_find(props, name);
    size_t at = 0;
    if (p == NULL) {
        *out = dflt;
        return NULL;
    }
    if (p->kind != WEMU_PROP_INT) {
        put(&at, "property '");
        put(&at, name);
        put(&at, "' must be an integer");
        return message;
    }
    if (p->integer < min || p->integer > max) {
        put(&at, "property '");
        put(&at, name);
        put(&at, "' = ");
        put_int(&at, p->integer);
        put(&at, " is out of range (");
        put_int(&at, min);
        put(&at, " to ");
        put_int(&at, max);
        put(&at, ")");
        return message;
    }
    *out = p->integer;
    return NULL;
}

const char *wemu_prop_bool(const wemu_props *props, const char *name, bool dflt, bool *out) {
    const wemu_prop *p = wemu_prop_find(props, name);
    size_t at = 0;
    if (p == NULL) {
        *out = dflt;
        return NULL;
    }
    if (p->kind != WEMU_PROP_BOOL) {
        put(&at, "property '");
        put(&at, name);
        put(&at, "' must be true or false");
        return message;
    }
    *out = p->boolean;
    return NULL;
}

const char *wemu_props_unknown(const wemu_props *props, const char *const *known, size_t n) {
    for (size_t i = 0; i < props->len; i++) {
        bool found = false;
        for (size_t k = 0; k < n && !found; k++) found = strcmp(props->items[i].name, known[k]) == 0;
        if (found) continue;
        size_t at = 0;
        put(&at, "unknown property '");
        put(&at, props->items[i].name);
        put(&at, "' (known: ");
        for (size_t k = 0; k < n; k++) {
            if (k > 0) put(&at, ", ");
            put(&at, known[k]);
        }
        put(&at, n == 0 ? "none)" : ")");
        return message;
    }
    return NULL;
}

void wemu_log_hex(wemu_log_level level, const char *msg, uint64_t value) {
    char buf[256];
    size_t n = strlen(msg);
    if (n > sizeof buf - 20) n = sizeof buf - 20;
    memcpy(buf, msg, n);
    buf[n++] = ' ';
    buf[n++] = '0';
    buf[n++] = 'x';
    int shift = 60;
    while (shift > 0 && ((value >> shift) & 0xf) == 0) shift -= 4;
    for (; shift >= 0; shift -= 4) buf[n++] = "0123456789abcdef"[(value >> shift) & 0xf];
    buf[n] = '\0';
    wemu_log(level, buf);
}
