/* The part of <stdlib.h> the C SDK provides for wasm32 builds
 * (implemented in ../wemu_libc.c; there is no other libc). */
#ifndef WEMU_LIBC_STDLIB_H
#define WEMU_LIBC_STDLIB_H
#include <stddef.h>

void *malloc(size_t size);
void *calloc(size_t n, size_t size);
void *realloc(void *ptr, size_t size);
void free(void *ptr);
/* Traps: the host reports a device fault. */
_Noreturn void abort(void);

#endif
