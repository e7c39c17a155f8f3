/* Example program shipped with a dslnas C export: stream a WAV file through the routed encoder.
 *
 *   dsl_stream [-f auto|full|light] IN.wav EMBEDDING.f32
 *
 * IN.wav: 16-bit PCM, mono, DSL_SAMPLE_RATE_HZ (resample and downmix first, e.g. with sox). It is cut into
 * segments of DSL_SEGMENT_SAMPLES samples (int16 / 32768, as dslnas reads audio); a last partial segment is
 * padded with zeros, as `dslnas stream` pads. Each segment runs dsl_process_segment once: the base, the mask,
 * the switch, then ONE tail (-f auto: routed by the switch at DSL_THRESHOLD; full / light: forced).
 * EMBEDDING.f32: the encoder's output, float32 in this machine's byte order (little-endian on ARM Linux and
 * x86), [segments][DSL_EMBEDDING_DIM][DSL_FRAMES_PER_SEGMENT].
 * stdout: a CSV line per segment, "segment,path,predicted" (path: full or light; predicted: the switch's
 * predicted discrepancy); stderr: a one-line summary. Exit status 2 for bad arguments or input, 1 for a
 * write error. C99 and the C library only; the model itself allocates nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl_model.h"

#if !defined(DSL_SEGMENT_SAMPLES) || !defined(DSL_SAMPLE_RATE_HZ)
#error "dsl_stream needs a whole exported encoder (audio in): DSL_SEGMENT_SAMPLES and DSL_SAMPLE_RATE_HZ"
#endif

static float pcm[DSL_SEGMENT_SAMPLES];
static unsigned char raw[2 * DSL_SEGMENT_SAMPLES];
static float embedding[DSL_OUT_FLOATS];
static dsl_state_t state;

static unsigned long le32(const unsigned char *p)
{
    return (unsigned long)p[0] | (unsigned long)p[1] << 8 | (unsigned long)p[2] << 16 | (unsigned long)p[3] << 24;
}

static unsigned le16(const unsigned char *p) { return (unsigned)p[0] | (unsigned)p[1] << 8; }

/* Report a bad input or failed write on stderr; returns status (what the caller returns). */
static int fail(const char *path, const char *why, int status)
{
    fprintf(stderr, "error: %s: %s\n", path, why);
    return status;
}

/* Check the RIFF/WAVE header and its fmt chunk; leave `in` at the first sample. Returns 0, or -1 (reported). */
static int open_wav(FILE *in, const char *path, unsigned long *data_bytes)
{
    unsigned char head[12], chunk[8], fmt[16];
    int have_fmt = 0;
    if (fread(head, 1, 12, in) != 12 || memcmp(head, "RIFF", 4) != 0 || memcmp(head + 8, "WAVE", 4) != 0)
        return fail(path, "not a RIFF/WAVE file", -1);
    for (;;) {
        unsigned long size;
        if (fread(chunk, 1, 8, in) != 8) return fail(path, "no data chunk", -1);
        size = le32(chunk + 4);
        if (memcmp(chunk, "data", 4) == 0) {
            if (!have_fmt) return fail(path, "data chunk before the fmt chunk", -1);
            *data_bytes = size;
            return 0;
        }
        if (memcmp(chunk, "fmt ", 4) == 0) {
            unsigned format;
            if (size < 16 || fread(fmt, 1, 16, in) != 16) return fail(path, "short fmt chunk", -1);
            format = le16(fmt);
            if (format != 1u && format != 0xfffeu) return fail(path, "not PCM (16-bit PCM mono expected)", -1);
            if (le16(fmt + 2) != 1u) return fail(path, "not mono (downmix it first)", -1);
            if (le16(fmt + 14) != 16u) return fail(path, "not 16-bit samples", -1);
            if (le32(fmt + 4) != (unsigned long)DSL_SAMPLE_RATE_HZ) {
                fprintf(stderr, "error: %s: %lu Hz; the model runs at %d Hz (resample it first)\n", path,
                        le32(fmt + 4), DSL_SAMPLE_RATE_HZ);
                return -1;
            }
            have_fmt = 1;
            size -= 16;
        }
        if (fseek(in, (long)(size + (size & 1u)), SEEK_CUR) != 0) return fail(path, "truncated chunk", -1);
    }
}

/* Up to one segment of samples (fewer at the end of the data); the rest of pcm[] is zeroed. */
static size_t read_segment(FILE *in, unsigned long *data_left)
{
    size_t want = DSL_SEGMENT_SAMPLES, got, i;
    if (*data_left / 2 < want) want = *data_left / 2;
    got = fread(raw, 2, want, in);
    *data_left -= 2 * (unsigned long)got;
    for (i = 0; i < got; ++i) {
        unsigned u = le16(raw + 2 * i);
        int s = u >= 0x8000u ? (int)u - 0x10000 : (int)u;
        pcm[i] = (float)s / 32768.0f;
    }
    for (i = got; i < DSL_SEGMENT_SAMPLES; ++i) pcm[i] = 0.0f;
    return got;
}

static int parse_force(const char *word)
{
    if (strcmp(word, "auto") == 0) return DSL_FORCE_AUTO;
    if (strcmp(word, "full") == 0) return DSL_PATH_FULL;
    if (strcmp(word, "light") == 0) return DSL_PATH_LIGHT;
    return -1;
}

int main(int argc, char **argv)
{
    FILE *in, *out;
    unsigned long data_left = 0, segments = 0, light = 0, switch_backs = 0;
    int force = DSL_FORCE_AUTO, arg = 1, last = DSL_PATH_NONE;
    if (argc == 5 && strcmp(argv[1], "-f") == 0) {
        force = parse_force(argv[2]);
        arg = 3;
    }
    if (force < 0 || argc - arg != 2) {
        fprintf(stderr, "usage: %s [-f auto|full|light] IN.wav EMBEDDING.f32\n", argv[0]);
        return 2;
    }
    in = fopen(argv[arg], "rb");
    if (!in) return fail(argv[arg], "cannot open", 2);
    if (open_wav(in, argv[arg], &data_left) != 0) return 2;
    out = fopen(argv[arg + 1], "wb");
    if (!out) return fail(argv[arg + 1], "cannot open for writing", 2);
    dsl_init(&state);
    while (read_segment(in, &data_left) > 0) {
        float predicted = 0.0f;
        int path = dsl_process_segment(&state, pcm, embedding, force, &predicted);
        if (path < 0) return fail(argv[0], "the model lacks the forced path", 2);
        if (fwrite(embedding, sizeof(float), DSL_OUT_FLOATS, out) != DSL_OUT_FLOATS)
            return fail(argv[arg + 1], "write failed", 1);
        printf("%lu,%s,%.9g\n", segments, path == DSL_PATH_LIGHT ? "light" : "full", (double)predicted);
        light += path == DSL_PATH_LIGHT;
        switch_backs += path == DSL_PATH_FULL && last == DSL_PATH_LIGHT;
        last = path;
        ++segments;
    }
    if (fclose(out) != 0) return fail(argv[arg + 1], "write failed", 1);
    fclose(in);
    if (segments == 0) return fail(argv[arg], "holds no samples", 2);
    fprintf(stderr, "%s: %lu segments of %d samples, %lu light, %lu switch-backs, threshold %g\n", DSL_MODEL_NAME,
            segments, DSL_SEGMENT_SAMPLES, light, switch_backs, (double)DSL_THRESHOLD);
    return 0;
}
