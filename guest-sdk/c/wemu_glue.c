/*
 * The wasm side of the C SDK: implements the contract's exports (declared
 * in device_model.h, which wit-bindgen's C generator makes from
 * wit/device.wit) by calling the device's dev_* functions, and the wemu_*
 * host functions by calling the contract's imports.
 *
 * Ownership follows wit-bindgen's C conventions: an export owns its
 * arguments (freed here), and what it returns is freed by the generated
 * post-return functions, so everything returned is malloc'd.
 */
#include <stdlib.h>
#include <string.h>

#include "device_model.h"
#include "wemu.h"

/* --- defaults for the optional callbacks -------------------------------- */

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

/* --- exports ------------------------------------------------------------ */

static char *cstr(const device_model_string_t *s) {
    char *out = malloc(s->len + 1);
    memcpy(out, s->ptr, s->len);
    out[s->len] = '\0';
    return out;
}

static void dup_str(device_model_string_t *out, const char *s) {
    device_model_string_dup(out, s != NULL ? s : "");
}

static void fill_dt_node(wemu_device_types_dt_node_t *node, const wemu_description *d) {
    dup_str(&node->name, d->dt_name);
    node->compatible.len = d->n_compatible;
    node->compatible.ptr = d->n_compatible ? malloc(d->n_compatible * sizeof(device_model_string_t)) : NULL;
    for (size_t i = 0; i < d->n_compatible; i++) dup_str(&node->compatible.ptr[i], d->compatible[i]);
    node->properties.len = d->n_dt_props;
    node->properties.ptr =
        d->n_dt_props ? malloc(d->n_dt_props * sizeof(wemu_device_types_dt_property_t)) : NULL;
    for (size_t i = 0; i < d->n_dt_props; i++) {
        const wemu_dt_prop *p = &d->dt_props[i];
        wemu_device_types_dt_property_t *q = &node->properties.ptr[i];
        dup_str(&q->name, p->name);
        switch (p->kind) {
        case WEMU_DT_CELLS:
            q->value.tag = WEMU_DEVICE_TYPES_DT_VALUE_CELLS;
            q->value.val.cells.len = p->n_cells;
            q->value.val.cells.ptr = p->n_cells ? malloc(p->n_cells * sizeof(uint32_t)) : NULL;
            if (p->n_cells) memcpy(q->value.val.cells.ptr, p->cells, p->n_cells * sizeof(uint32_t));
            break;
        case WEMU_DT_TEXT:
            q->value.tag = WEMU_DEVICE_TYPES_DT_VALUE_TEXT;
            dup_str(&q->value.val.text, p->text);
            break;
        case WEMU_DT_EMPTY:
        default:
            q->value.tag = WEMU_DEVICE_TYPES_DT_VALUE_EMPTY;
            break;
        }
    }
}

static void fill_description(exports_wemu_device_device_description_t *ret, const wemu_description *d) {
    dup_str(&ret->name, d->model);
    dup_str(&ret->version, d->version);
    ret->regions.len = d->n_regions;
    ret->regions.ptr = d->n_regions ? malloc(d->n_regions * sizeof(wemu_device_types_region_t)) : NULL;
    for (size_t i = 0; i < d->n_regions; i++) {
        dup_str(&ret->regions.ptr[i].name, d->regions[i].name);
        ret->regions.ptr[i].size = d->regions[i].size;
    }
    ret->irq_outputs = d->irq_outputs;
    ret->irq_inputs = d->irq_inputs;
    ret->dt_node.is_some = d->dt_name != NULL;
    if (d->dt_name != NULL) fill_dt_node(&ret->dt_node.val, d);
}

bool exports_wemu_device_device_create(exports_wemu_device_device_list_property_t *props,
                                       exports_wemu_device_device_description_t *ret,
                                       device_model_string_t *err) {
    size_t n = props->len;
    wemu_prop *items = n ? calloc(n, sizeof *items) : NULL;
    for (size_t i = 0; i < n; i++) {
        const exports_wemu_device_device_property_t *p = &props->ptr[i];
        items[i].name = cstr(&p->name);
        switch (p->value.tag) {
        case WEMU_DEVICE_TYPES_PROP_VALUE_BOOLEAN:
            items[i].kind = WEMU_PROP_BOOL;
            items[i].boolean = p->value.val.boolean;
            break;
        case WEMU_DEVICE_TYPES_PROP_VALUE_INTEGER:
            items[i].kind = WEMU_PROP_INT;
            items[i].integer = p->value.val.integer;
            break;
        default:
            items[i].kind = WEMU_PROP_TEXT;
            items[i].text = cstr(&p->value.val.text);
            break;
        }
    }
    wemu_props view = {items, n};
    wemu_description d;
    memset(&d, 0, sizeof d);
    const char *e = dev_create(&view, &d);
    /* Copy the result before the properties it may point into are freed. */
    if (e != NULL) {
        dup_str(err, e);
    } else {
        fill_description(ret, &d);
    }
    for (size_t i = 0; i < n; i++) {
        free((char *)items[i].name);
        free((char *)items[i].text);
    }
    free(items);
    exports_wemu_device_device_list_property_free(props);
    return e == NULL;
}

void exports_wemu_device_device_reset(void) { dev_reset(); }

static exports_wemu_device_device_access_error_t access_error(wemu_access a) {
    return a == WEMU_ACCESS_INVALID_SIZE ? WEMU_DEVICE_TYPES_ACCESS_ERROR_INVALID_SIZE
                                         : WEMU_DEVICE_TYPES_ACCESS_ERROR_INVALID_OFFSET;
}

bool exports_wemu_device_device_read(uint32_t region, uint64_t offset, uint8_t size, uint64_t *ret,
                                     exports_wemu_device_device_access_error_t *err) {
    uint64_t value = 0;
    wemu_access a = dev_read(region, offset, size, &value);
    if (a == WEMU_ACCESS_OK) {
        *ret = value;
        return true;
    }
    *err = access_error(a);
    return false;
}

bool exports_wemu_device_device_write(uint32_t region, uint64_t offset, uint8_t size, uint64_t value,
                                      exports_wemu_device_device_access_error_t *err) {
    wemu_access a = dev_write(region, offset, size, value);
    if (a == WEMU_ACCESS_OK) return true;
    *err = access_error(a);
    return false;
}

void exports_wemu_device_device_irq_input(uint32_t line, bool level) { dev_irq_input(line, level); }

void exports_wemu_device_device_timer_fired(uint32_t id) { dev_timer_fired(id); }

uint32_t exports_wemu_device_device_char_input(uint32_t port, device_model_list_u8_t *data) {
    uint32_t taken = dev_char_input(port, data->ptr, data->len);
    if (taken > data->len) taken = (uint32_t)data->len;
    device_model_list_u8_free(data);
    return taken;
}

struct wemu_state_out {
    uint8_t *data;
    size_t len;
    size_t cap;
};

void wemu_state_put(wemu_state_out *out, const void *data, size_t len) {
    if (out->len + len > out->cap) {
        size_t cap = out->cap ? out->cap : 64;
        while (cap < out->len + len) cap *= 2;
        out->data = realloc(out->data, cap);
        out->cap = cap;
    }
    memcpy(out->data + out->len, data, len);
    out->len += len;
}

void exports_wemu_device_device_save(device_model_list_u8_t *ret) {
    wemu_state_out out = {NULL, 0, 0};
    dev_save(&out);
    ret->ptr = out.data;
    ret->len = out.len;
}

bool exports_wemu_device_device_restore(device_model_list_u8_t *state, device_model_string_t *err) {
    const char *e = dev_restore(state->ptr, state->len);
    if (e != NULL) dup_str(err, e);
    device_model_list_u8_free(state);
    return e == NULL;
}

/* --- host functions ------------------------------------------------------ */

void wemu_log(wemu_log_level level, const char *message) {
    device_model_string_t s;
    device_model_string_set(&s, message);
    wemu_device_log_log((wemu_device_log_log_level_t)level, &s);
}

void wemu_irq_set(uint32_t line, bool level) { wemu_device_irq_set(line, level); }

uint64_t wemu_now_ns(void) { return wemu_device_clock_now_ns(); }

void wemu_set_timer(uint32_t id, uint64_t deadline_ns) { wemu_device_clock_set_timer(id, deadline_ns); }

void wemu_cancel_timer(uint32_t id) { wemu_device_clock_cancel_timer(id); }

static wemu_dma_status dma_status(wemu_device_dma_dma_error_t e) {
    switch (e) {
    case WEMU_DEVICE_DMA_DMA_ERROR_DENIED: return WEMU_DMA_DENIED;
    case WEMU_DEVICE_DMA_DMA_ERROR_UNMAPPED: return WEMU_DMA_UNMAPPED;
    default: return WEMU_DMA_TOO_LARGE;
    }
}

wemu_dma_status wemu_dma_read(uint64_t addr, void *buf, uint32_t len) {
    device_model_list_u8_t got;
    wemu_device_dma_dma_error_t e;
    if (!wemu_device_dma_read(addr, len, &got, &e)) return dma_status(e);
    size_t n = got.len < len ? got.len : len;
    memcpy(buf, got.ptr, n);
    memset((uint8_t *)buf + n, 0, len - n);
    device_model_list_u8_free(&got);
    return WEMU_DMA_OK;
}

wemu_dma_status wemu_dma_write(uint64_t addr, const void *buf, uint32_t len) {
    device_model_list_u8_t data = {(uint8_t *)buf, len};
    wemu_device_dma_dma_error_t e;
    return wemu_device_dma_write(addr, &data, &e) ? WEMU_DMA_OK : dma_status(e);
}

uint32_t wemu_chardev_write(uint32_t port, const void *data, uint32_t len) {
    device_model_list_u8_t bytes = {(uint8_t *)data, len};
    return wemu_device_chardev_write(port, &bytes);
}

static wemu_block_status block_status(wemu_device_block_block_error_t e) {
    switch (e) {
    case WEMU_DEVICE_BLOCK_BLOCK_ERROR_OUT_OF_RANGE: return WEMU_BLOCK_OUT_OF_RANGE;
    case WEMU_DEVICE_BLOCK_BLOCK_ERROR_READ_ONLY: return WEMU_BLOCK_READ_ONLY;
    case WEMU_DEVICE_BLOCK_BLOCK_ERROR_IO: return WEMU_BLOCK_IO;
    default: return WEMU_BLOCK_NO_BACKEND;
    }
}

uint64_t wemu_block_size(uint32_t port) { return wemu_device_block_size(port); }

wemu_block_status wemu_block_read(uint32_t port, uint64_t offset, void *buf, uint32_t len) {
    device_model_list_u8_t got;
    wemu_device_block_block_error_t e;
    if (!wemu_device_block_read(port, offset, len, &got, &e)) return block_status(e);
    size_t n = got.len < len ? got.len : len;
    memcpy(buf, got.ptr, n);
    memset((uint8_t *)buf + n, 0, len - n);
    device_model_list_u8_free(&got);
    return WEMU_BLOCK_OK;
}

wemu_block_status wemu_block_write(uint32_t port, uint64_t offset, const void *buf, uint32_t len) {
    device_model_list_u8_t data = {(uint8_t *)buf, len};
    wemu_device_block_block_error_t e;
    return wemu_device_block_write(port, offset, &data, &e) ? WEMU_BLOCK_OK : block_status(e);
}

wemu_block_status wemu_block_flush(uint32_t port) {
    wemu_device_block_block_error_t e;
    return wemu_device_block_flush(port, &e) ? WEMU_BLOCK_OK : block_status(e);
}

void wemu_poweroff(uint32_t code) { wemu_device_power_poweroff(code); }

void wemu_machine_reset(void) { wemu_device_power_reset(); }
