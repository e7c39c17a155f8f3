/* Host driver for a generated dsl_model.c: dsl_driver FORCE [INPUT]
 * Reads raw float32 segments ([DSL_IN_CHANNELS][DSL_IN_FRAMES] each) from INPUT (or stdin when absent or "-"),
 * and writes per segment to stdout: int32 path, float32 predicted, float32 output[DSL_OUT_FLOATS].
 * FORCE: 0 route by the switch, 1 full, 2 light. Exit status 2 for bad arguments or a partial segment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl_model.h"

static float in_buf[DSL_IN_FLOATS];
static float out_buf[DSL_OUT_FLOATS + 1];
static dsl_state_t state;

int main(int argc, char **argv)
{
    FILE *in = stdin;
    int force;
    size_t got;
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s FORCE [INPUT]\n", argv[0]);
        return 2;
    }
    force = atoi(argv[1]);
    if (argc == 3 && strcmp(argv[2], "-") != 0) {
        in = fopen(argv[2], "rb");
        if (!in) {
            fprintf(stderr, "cannot open %s\n", argv[2]);
            return 2;
        }
    }
    dsl_init(&state);
    while ((got = fread(in_buf, sizeof(float), DSL_IN_FLOATS, in)) == DSL_IN_FLOATS) {
        float predicted = 0.0f;
        int path = dsl_process_segment(&state, in_buf, out_buf, force, &predicted);
        if (path < 0) {
            fprintf(stderr, "force %d names a path this model lacks\n", force);
            return 2;
        }
        fwrite(&path, sizeof(int), 1, stdout);
        fwrite(&predicted, sizeof(float), 1, stdout);
        fwrite(out_buf, sizeof(float), DSL_OUT_FLOATS, stdout);
    }
    if (got != 0) {
        fprintf(stderr, "input ends inside a segment (%lu of %d floats)\n", (unsigned long)got, DSL_IN_FLOATS);
        return 2;
    }
    return 0;
}
