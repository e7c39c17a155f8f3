/* Host timing driver for a generated dsl_model.c: dsl_timer REPEATS INPUT
 * Reads raw float32 segments ([DSL_IN_CHANNELS][DSL_IN_FRAMES] each) from INPUT, streams them REPEATS times
 * (dsl_init before each pass) with automatic routing, and writes per pass and segment to stdout:
 * int32 path, float64 elapsed nanoseconds of dsl_process_segment (CLOCK_MONOTONIC).
 * Exit status 2 for bad arguments, an unreadable input or a partial segment. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dsl_model.h"

static float out_buf[DSL_OUT_FLOATS + 1];
static dsl_state_t state;

int main(int argc, char **argv)
{
    FILE *in;
    long size, n, s;
    int repeats, r;
    float *audio;
    if (argc != 3 || (repeats = atoi(argv[1])) < 1) {
        fprintf(stderr, "usage: %s REPEATS INPUT\n", argv[0]);
        return 2;
    }
    if (!(in = fopen(argv[2], "rb")) || fseek(in, 0, SEEK_END) != 0 || (size = ftell(in)) < 0) {
        fprintf(stderr, "cannot read %s\n", argv[2]);
        return 2;
    }
    n = size / (long)(sizeof(float) * DSL_IN_FLOATS);
    if (n < 1 || size != n * (long)(sizeof(float) * DSL_IN_FLOATS)) {
        fprintf(stderr, "%s does not hold whole segments of %d floats\n", argv[2], DSL_IN_FLOATS);
        return 2;
    }
    rewind(in);
    audio = malloc((size_t)size); /* the driver may allocate; the model never does */
    if (!audio || fread(audio, 1, (size_t)size, in) != (size_t)size) {
        fprintf(stderr, "cannot read %s\n", argv[2]);
        return 2;
    }
    for (r = 0; r < repeats; ++r) {
        dsl_init(&state);
        for (s = 0; s < n; ++s) {
            struct timespec t0, t1;
            float predicted = 0.0f;
            int path;
            double ns;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            path = dsl_process_segment(&state, audio + s * DSL_IN_FLOATS, out_buf, 0, &predicted);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
            fwrite(&path, sizeof(int), 1, stdout);
            fwrite(&ns, sizeof(double), 1, stdout);
        }
    }
    free(audio);
    fclose(in);
    return 0;
}
