/*
 * CoreMark's port to wemu's test machine (see core_portme.h): seeds,
 * clock, console output and the verdict.
 */
#include <stdarg.h>

#include "coremark.h"

/* The standard performance run: CoreMark knows these seeds' CRCs. */
volatile ee_s32 seed1_volatile = 0x0;
volatile ee_s32 seed2_volatile = 0x0;
volatile ee_s32 seed3_volatile = 0x66;
/* Set by wemu_coremark before the run (each program fixes its count). */
volatile ee_s32 seed4_volatile = 0;
volatile ee_s32 seed5_volatile = 0;

ee_u32 default_num_contexts = 1;

/*
 * No clock. Wall time is measured outside the guest, and a clock would
 * make the output differ between emulators and runs. The port reports a
 * fixed span of 10 s (10,000 ticks of 1 ms): CoreMark counts a run shorter
 * than 10 s as an error (its rule for reportable scores, not a check of
 * the computation), and the CRCs are what is checked here. The "Total
 * ticks", "Total time" and "Iterations/Sec" lines are therefore
 * placeholders, the same on every emulator.
 */
#define EE_TICKS_PER_SEC 1000u
#define FIXED_TICKS      (10u * EE_TICKS_PER_SEC)

void
start_time(void)
{
}

void
stop_time(void)
{
}

CORE_TICKS
get_time(void)
{
    return FIXED_TICKS;
}

secs_ret
time_in_secs(CORE_TICKS ticks)
{
    return ticks / EE_TICKS_PER_SEC;
}

void
portable_init(core_portable *p, int *argc, char *argv[])
{
    (void)argc;
    (void)argv;
    p->portable_id = 1;
}

void
portable_fini(core_portable *p)
{
    p->portable_id = 0;
}

/* The console: the Rust side's polled ns16550a driver (src/lib.rs). */
void coremark_putc(char c);

/* Set when core_main.c reports "Correct operation validated.": it prints
 * that line exactly when its error count is 0 (CRCs as known for the
 * seeds, data types right, run "long enough"), and returns 0 either way. */
static int validated;

static const char VALIDATED[] = "Correct operation validated.";

static int
starts_with(const char *s, const char *prefix)
{
    while (*prefix)
        if (*s++ != *prefix++)
            return 0;
    return 1;
}

static int
put_str(const char *s, int width, char pad)
{
    int len = 0, n = 0;
    while (s[len])
        len++;
    for (; width > len; width--, n++)
        coremark_putc(pad);
    for (; *s; s++, n++)
        coremark_putc(*s);
    return n;
}

static int
put_num(unsigned long v, unsigned base, int negative, int width, char pad)
{
    char  buf[24];
    char *p = buf + sizeof(buf);
    int   n = 0;
    *--p    = '\0';
    do
    {
        *--p = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (negative)
    {
        /* Zero padding goes between the sign and the digits. */
        if (pad == '0')
        {
            coremark_putc('-');
            n++;
            width--;
        }
        else
            *--p = '-';
    }
    return n + put_str(p, width, pad);
}

/* The printf subset CoreMark uses: %d %i %u %x %s %c %%, with a zero flag,
 * a width and an `l` qualifier. */
int
ee_printf(const char *fmt, ...)
{
    va_list args;
    int     n = 0;
    if (starts_with(fmt, VALIDATED))
        validated = 1;
    va_start(args, fmt);
    for (; *fmt; fmt++)
    {
        if (*fmt != '%')
        {
            coremark_putc(*fmt);
            n++;
            continue;
        }
        char pad   = ' ';
        int  width = 0, is_long = 0;
        if (*++fmt == '0')
        {
            pad = '0';
            fmt++;
        }
        for (; *fmt >= '0' && *fmt <= '9'; fmt++)
            width = width * 10 + (*fmt - '0');
        if (*fmt == 'l')
        {
            is_long = 1;
            fmt++;
        }
        switch (*fmt)
        {
            case 'd':
            case 'i': {
                long v = is_long ? va_arg(args, long) : va_arg(args, int);
                n += put_num(v < 0 ? -(unsigned long)v : (unsigned long)v,
                             10, v < 0, width, pad);
                break;
            }
            case 'u':
            case 'x': {
                unsigned long v = is_long ? va_arg(args, unsigned long)
                                          : va_arg(args, unsigned int);
                n += put_num(v, *fmt == 'x' ? 16 : 10, 0, width, pad);
                break;
            }
            case 's':
                n += put_str(va_arg(args, const char *), width, pad);
                break;
            case 'c':
                coremark_putc((char)va_arg(args, int));
                n++;
                break;
            case '\0':
                fmt--; /* a lone '%' at the end */
                break;
            default:
                coremark_putc(*fmt);
                n++;
                break;
        }
    }
    va_end(args);
    return n;
}

int coremark_main(void);

/*
 * Runs CoreMark for `iterations` iterations; 0 if it validated its
 * results, else 1.
 */
int
wemu_coremark(ee_s32 iterations)
{
    seed4_volatile = iterations;
    validated      = 0;
    coremark_main();
    return validated ? 0 : 1;
}
