/* A routed encoder split across two bare-metal cores at the DSL, linked with arm_baremetal.c (I/O buffers,
 * memcpy, dsl_bm_halt). Build with -DDSL_PAIR_ROLE=1 for the always-on core (front + light tail: calls
 * dsl_pair_front, then dsl_pair_light or dsl_pair_send) or -DDSL_PAIR_ROLE=2 for the application core (full tail:
 * dsl_pair_receive, then dsl_pair_full).
 *
 * The mailbox is shared memory: the front core writes it, the emulator copies its dsl_pair_mailbox_bytes
 * bytes into the application core's mailbox, and the full tail's core decodes it. Layout (little endian):
 *   uint32 resume   1: the full tail did not run on the previous segment (its policy applies: reset / replay)
 *   uint32 replay   masked frames per channel sent before the segment's own (the warm policy's replay)
 *   uint32 floats   values encoded (DSL_BASE_CHANNELS * (replay + DSL_BASE_FRAMES))
 *   uint32 sparse   0: floats fp32 values follow; 1: a bitmap of ceil(floats / 8) bytes (padded to 4 bytes,
 *                   bit i set: value i is non-zero) then the non-zero fp32 values in order
 * The sparse form is sent whenever it is smaller than the dense one. The replayed frames come first, channel
 * by channel, then the segment's masked map, channel by channel. */
#include "dsl_model.h"

#ifndef DSL_PAIR_ROLE
#error "define DSL_PAIR_ROLE: 1 (front + light tail) or 2 (full tail)"
#endif

extern float dsl_io_in[];
extern float dsl_io_out[];
extern float dsl_io_predicted;
extern int dsl_io_path;
extern dsl_state_t dsl_io_state;

#define PAIR_HEADER_WORDS 4
#define PAIR_MAX_FLOATS (DSL_BASE_CHANNELS * (DSL_BASE_FRAMES + DSL_REPLAY_FRAMES_FULL))
#define PAIR_BITMAP_WORDS ((PAIR_MAX_FLOATS + 31) / 32)

unsigned dsl_pair_mailbox[PAIR_HEADER_WORDS + PAIR_BITMAP_WORDS + PAIR_MAX_FLOATS];
unsigned dsl_pair_mailbox_bytes; /* bytes the last segment put in the mailbox (0: nothing sent) */

int dsl_pair_front(int force);
int dsl_pair_light(void);
int dsl_pair_send(void);
int dsl_pair_receive(void);
int dsl_pair_full(void);

typedef union {
    float f;
    unsigned u;
} pair_bits_t;

#if DSL_PAIR_ROLE == 1
/* Channel by channel, `frames` values from each row of `src` (row stride `ld`, starting at column `first`). */
static unsigned pair_put(const float *src, int ld, int first, int frames, unsigned *bitmap, unsigned *values,
                         unsigned index, unsigned *nonzero)
{
    int c, t;
    for (c = 0; c < DSL_BASE_CHANNELS; ++c) {
        for (t = 0; t < frames; ++t, ++index) {
            pair_bits_t v;
            v.f = src[c * ld + first + t];
            if (v.u << 1) {
                bitmap[index >> 5] |= 1u << (index & 31u);
                values[(*nonzero)++] = v.u;
            }
        }
    }
    return index;
}

/* Encode the replayed frames and the masked map into the mailbox; returns the bytes it holds. */
static unsigned pair_encode(int resume, int replay)
{
    unsigned *box = dsl_pair_mailbox, nonzero = 0, index = 0, floats, bitmap_words, i;
    const float *masked = dsl_masked_map();
    floats = (unsigned)(DSL_BASE_CHANNELS * (replay + DSL_BASE_FRAMES));
    bitmap_words = (floats + 31u) / 32u;
    for (i = 0; i < bitmap_words; ++i) box[PAIR_HEADER_WORDS + i] = 0u;
#if DSL_WARM_FRAMES > 0
    index = pair_put(dsl_io_state.warm_window, DSL_WARM_FRAMES, DSL_WARM_FRAMES - replay, replay,
                     box + PAIR_HEADER_WORDS, box + PAIR_HEADER_WORDS + bitmap_words, index, &nonzero);
#endif
    pair_put(masked, DSL_BASE_FRAMES, 0, DSL_BASE_FRAMES, box + PAIR_HEADER_WORDS,
             box + PAIR_HEADER_WORDS + bitmap_words, index, &nonzero);
    box[0] = (unsigned)resume;
    box[1] = (unsigned)replay;
    box[2] = floats;
    box[3] = 1u;
    if (4u * (bitmap_words + nonzero) < 4u * floats) return 4u * (PAIR_HEADER_WORDS + bitmap_words + nonzero);
    box[3] = 0u; /* dense is smaller: rewrite the values in place */
    index = 0;
#if DSL_WARM_FRAMES > 0
    for (i = 0; i < (unsigned)DSL_BASE_CHANNELS; ++i) {
        int t;
        for (t = 0; t < replay; ++t) {
            pair_bits_t v;
            v.f = dsl_io_state.warm_window[i * DSL_WARM_FRAMES + DSL_WARM_FRAMES - replay + t];
            box[PAIR_HEADER_WORDS + index++] = v.u;
        }
    }
#endif
    for (i = 0; i < (unsigned)(DSL_BASE_CHANNELS * DSL_BASE_FRAMES); ++i) {
        pair_bits_t v;
        v.f = masked[i];
        box[PAIR_HEADER_WORDS + index++] = v.u;
    }
    return 4u * (PAIR_HEADER_WORDS + floats);
}

/* Base, mask and switch on dsl_io_in; returns the path chosen (-1: a force naming no path). */
int dsl_pair_front(int force)
{
    dsl_io_path = dsl_front_segment(&dsl_io_state, dsl_io_in, force, &dsl_io_predicted);
    return dsl_io_path;
}

/* A light segment: the light tail here, into dsl_io_out. */
int dsl_pair_light(void)
{
    dsl_tail_segment(&dsl_io_state, DSL_PATH_LIGHT, dsl_io_in, dsl_io_out);
    dsl_end_segment(&dsl_io_state, DSL_PATH_LIGHT);
    return DSL_PATH_LIGHT;
}

/* A full segment: its masked map (after a light run, with the frames the warm policy replays) into the
 * mailbox; returns the bytes it holds. */
int dsl_pair_send(void)
{
    int resume = dsl_io_state.last_path != DSL_PATH_FULL, replay = 0;
#if DSL_WARM_FRAMES > 0
    replay = dsl_io_state.warm_frames < DSL_REPLAY_FRAMES_FULL ? dsl_io_state.warm_frames : DSL_REPLAY_FRAMES_FULL;
    if (!resume) replay = 0;
#endif
    dsl_pair_mailbox_bytes = pair_encode(resume, replay);
    dsl_end_segment(&dsl_io_state, DSL_PATH_FULL);
    return (int)dsl_pair_mailbox_bytes;
}
#else
/* The `count` values at `*index` onward of the mailbox, into rows of `dst` (stride `ld`, from column `first`). */
static void pair_get(float *dst, int ld, int first, int frames, const unsigned *bitmap, const unsigned *values,
                     int sparse, unsigned *index, unsigned *next)
{
    int c, t;
    for (c = 0; c < DSL_BASE_CHANNELS; ++c) {
        for (t = 0; t < frames; ++t, ++*index) {
            pair_bits_t v;
            v.u = !sparse ? values[*index] : (bitmap[*index >> 5] >> (*index & 31u) & 1u) ? values[(*next)++] : 0u;
            dst[c * ld + first + t] = v.f;
        }
    }
}

static int pair_resume;

/* Decode the mailbox into the masked map (and the warm window); returns the values decoded. */
int dsl_pair_receive(void)
{
    const unsigned *box = dsl_pair_mailbox;
    int replay = (int)box[1], sparse = (int)box[3];
    unsigned bitmap_words = sparse ? (box[2] + 31u) / 32u : 0u, index = 0, next = 0;
    const unsigned *bitmap = box + PAIR_HEADER_WORDS, *values = box + PAIR_HEADER_WORDS + bitmap_words;
    (void)replay;
    pair_resume = (int)box[0];
#if DSL_WARM_FRAMES > 0
    pair_get(dsl_io_state.warm_window, DSL_WARM_FRAMES, DSL_WARM_FRAMES - replay, replay, bitmap, values, sparse,
             &index, &next);
    dsl_io_state.warm_frames = replay;
#endif
    pair_get(dsl_masked_map(), DSL_BASE_FRAMES, 0, DSL_BASE_FRAMES, bitmap, values, sparse, &index, &next);
    return (int)index;
}

/* The full tail on the received map (its policy first when it did not run on the previous segment). */
int dsl_pair_full(void)
{
    if (pair_resume) dsl_io_state.last_path = DSL_PATH_LIGHT;
    dsl_tail_segment(&dsl_io_state, DSL_PATH_FULL, dsl_io_in, dsl_io_out);
    dsl_io_state.last_path = DSL_PATH_FULL;
    dsl_io_path = DSL_PATH_FULL;
    return DSL_PATH_FULL;
}
#endif
