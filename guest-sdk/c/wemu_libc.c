/*
 * The little libc a wasm32 device needs (there is no other: the component
 * must not import WASI): a size-class allocator over the linear memory,
 * and the string functions the generated bindings and the SDK call.
 *
 * Built with -mbulk-memory, so __builtin_memcpy/memmove/memset become the
 * wasm `memory.copy`/`memory.fill` instructions instead of calls back into
 * these very functions.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* First byte after the static data and the stack (set by wasm-ld). */
extern unsigned char __heap_base;

/* A block is a power of two (16 B to 1 GiB); its first 8 bytes hold its
 * size class, the rest is the caller's (8-byte aligned). Freed blocks go
 * on a list per class and are reused as they are: a device allocates the
 * same few sizes again and again (MMIO results, saved state). */
#define HEADER 8u
#define MIN_CLASS 4u
#define MAX_CLASS 30u
#define PAGE 65536u

static void *free_list[MAX_CLASS + 1];
static uintptr_t heap_next;
static uintptr_t heap_end;

static unsigned class_of(size_t n) {
    unsigned k = MIN_CLASS;
    while (((size_t)1 << k) < n) k++;
    return k;
}

void *malloc(size_t size) {
    if (size > ((size_t)1 << MAX_CLASS) - HEADER) return NULL;
    unsigned k = class_of(size + HEADER);
    uint8_t *block = free_list[k];
    if (block != NULL) {
        free_list[k] = *(void **)(block + HEADER);
    } else {
        if (heap_next == 0) {
            heap_next = (uintptr_t)&__heap_base;
            heap_end = (uintptr_t)__builtin_wasm_memory_size(0) * PAGE;
        }
        heap_next = (heap_next + 7u) & ~(uintptr_t)7u;
        size_t need = (size_t)1 << k;
        if (need > UINTPTR_MAX - heap_next) return NULL;
        if (heap_next + need > heap_end) {
            size_t pages = (heap_next + need - heap_end + PAGE - 1) / PAGE;
            /* The host refuses growth past the instance's memory limit. */
            if (__builtin_wasm_memory_grow(0, pages) == SIZE_MAX) return NULL;
            heap_end += pages * PAGE;
        }
        block = (uint8_t *)heap_next;
        heap_next += need;
    }
    *(uint32_t *)block = k;
    return block + HEADER;
}

void free(void *ptr) {
    if (ptr == NULL) return;
    uint8_t *block = (uint8_t *)ptr - HEADER;
    unsigned k = *(uint32_t *)block;
    *(void **)ptr = free_list[k];
    free_list[k] = block;
}

void *calloc(size_t n, size_t size) {
    if (size != 0 && n > SIZE_MAX / size) return NULL;
    void *p = malloc(n * size);
    if (p != NULL) __builtin_memset(p, 0, n * size);
    return p;
}

void *realloc(void *ptr, size_t size) {
    if (ptr == NULL) return malloc(size);
    unsigned k = *(uint32_t *)((uint8_t *)ptr - HEADER);
    size_t room = ((size_t)1 << k) - HEADER;
    if (size <= room) return ptr;
    void *bigger = malloc(size);
    if (bigger == NULL) return NULL;
    __builtin_memcpy(bigger, ptr, room);
    free(ptr);
    return bigger;
}

_Noreturn void abort(void) { __builtin_trap(); }

void *memcpy(void *restrict dst, const void *restrict src, size_t n) {
    return __builtin_memcpy(dst, src, n);
}

void *memmove(void *dst, const void *src, size_t n) { return __builtin_memmove(dst, src, n); }

void *memset(void *dst, int c, size_t n) { return __builtin_memset(dst, c, n); }

int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

size_t strlen(const char *s) {
    size_t n = 0;
    while (s[n] != '\0') n++;
    return n;
}

int strcmp(const char *a, const char *b) {
    while (*a != '\0' && *a == *b) a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n) {
    for (; n > 0; n--, a++, b++) {
        if (*a != *b || *a == '\0') return (unsigned char)*a - (unsigned char)*b;
    }
    return 0;
}
