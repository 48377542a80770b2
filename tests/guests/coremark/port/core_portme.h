/*
 * CoreMark's port to wemu's test machine (QEMU's `virt` layout: RAM at
 * 0x8000_0000, entered in M-mode, ns16550a UART at 0x1000_0000,
 * sifive_test finisher at 0x10_0000). Ours, not EEMBC's: the files in
 * ../upstream are CoreMark's, unmodified.
 *
 * The standard performance-run seeds (0, 0, 0x66) and data size (2000)
 * make CoreMark check its list, matrix and state CRCs against the known
 * values; the iteration count is fixed when the program is built.
 */
#ifndef CORE_PORTME_H
#define CORE_PORTME_H

#define HAS_FLOAT   0 /* integer only: no F/D instructions in the image */
#define HAS_TIME_H  0
#define USE_CLOCK   0
#define HAS_STDIO   0
#define HAS_PRINTF  0 /* ee_printf is ours (core_portme.c) */
#define SEED_METHOD SEED_VOLATILE
#define MEM_METHOD  MEM_STACK
#define MULTITHREAD 1
#define USE_PTHREAD 0
#define USE_FORK    0
#define USE_SOCKET  0
/* core_main.c's main is built as coremark_main (-Dmain=coremark_main):
 * the Rust runtime's `main` is the program's entry. */
#define MAIN_HAS_NOARGC   1
#define MAIN_HAS_NORETURN 0

#define COMPILER_VERSION "clang " __clang_version__
#ifndef COMPILER_FLAGS
#define COMPILER_FLAGS "(unknown)" /* build.rs passes the real ones */
#endif
#define MEM_LOCATION "STACK"

typedef signed short   ee_s16;
typedef unsigned short ee_u16;
typedef signed int     ee_s32;
typedef double         ee_f32; /* unused with HAS_FLOAT 0 */
typedef unsigned char  ee_u8;
typedef unsigned int   ee_u32;
typedef unsigned long  ee_ptr_int; /* must hold a pointer: 64 bits here */
typedef __SIZE_TYPE__  ee_size_t;
#define NULL ((void *)0)

/* Aligns an offset to point to a 32-bit value (the matrix's blocks). */
#define align_mem(x) (void *)(4 + (((ee_ptr_int)(x)-1) & ~3))

#define CORETIMETYPE ee_u32
typedef ee_u32 CORE_TICKS;

extern ee_u32 default_num_contexts;

typedef struct CORE_PORTABLE_S
{
    ee_u8 portable_id;
} core_portable;

void portable_init(core_portable *p, int *argc, char *argv[]);
void portable_fini(core_portable *p);

#if !defined(PROFILE_RUN) && !defined(PERFORMANCE_RUN) \
    && !defined(VALIDATION_RUN)
#if (TOTAL_DATA_SIZE == 1200)
#define PROFILE_RUN 1
#elif (TOTAL_DATA_SIZE == 2000)
#define PERFORMANCE_RUN 1
#else
#define VALIDATION_RUN 1
#endif
#endif

int ee_printf(const char *fmt, ...);

#endif /* CORE_PORTME_H */
