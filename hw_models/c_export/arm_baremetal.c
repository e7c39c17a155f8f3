/* Bare-metal harness for an emulated ARM core: the generated model plus fixed I/O buffers, no OS, no libc.
 * The emulator writes dsl_io_in, calls dsl_bm_init / dsl_bm_segment(force) with lr = dsl_bm_halt, and reads
 * dsl_io_out, dsl_io_path and dsl_io_predicted back. */
#include <stddef.h>

#include "dsl_model.h"

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int value, size_t n);
void dsl_bm_init(void);
int dsl_bm_segment(int force);
void dsl_bm_halt(void);

float dsl_io_in[DSL_IN_FLOATS];
float dsl_io_out[DSL_OUT_FLOATS + 1];
float dsl_io_predicted;
int dsl_io_path;
dsl_state_t dsl_io_state;

/* The compiler may emit calls to these for struct copies or loops; there is no libc to provide them. */
void *memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--) *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s) {
        while (n--) *d++ = *s++;
    } else {
        while (n--) d[n] = s[n];
    }
    return dst;
}

void *memset(void *dst, int value, size_t n)
{
    unsigned char *d = dst;
    while (n--) *d++ = (unsigned char)value;
    return dst;
}

void dsl_bm_init(void) { dsl_init(&dsl_io_state); }

int dsl_bm_segment(int force)
{
    dsl_io_path = dsl_process_segment(&dsl_io_state, dsl_io_in, dsl_io_out, force, &dsl_io_predicted);
    return dsl_io_path;
}

void dsl_bm_halt(void)
{
    for (;;) {
    }
}
