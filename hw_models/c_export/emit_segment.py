"""``dsl_process_segment`` as three steps a deployment split across cores calls one by one (``c_export.pair``).

``dsl_front_segment`` runs the base, the mask and the switch and picks the path (``force`` 0 = by threshold,
1 = full, 2 = light), leaving the masked map in the scratch (``dsl_masked_map``); ``dsl_tail_segment``
applies the state policy to a tail that did not run on the previous segment and runs that one tail;
``dsl_end_segment`` keeps the masked frames the warm policy replays and remembers the path.
``dsl_process_segment`` calls the three in order.
"""

from __future__ import annotations

from dslnas.hw_models.c_export.program import Program


def process_functions(program: Program, has_switch: bool, hist: dict[str, int], policy: str, warm_frames: int) -> str:
    """``dsl_front_segment`` (base, mask, switch, route), ``dsl_tail_segment`` (the policy and one tail),
    ``dsl_end_segment`` (warm window, last path) and ``dsl_process_segment`` calling the three in order: a
    split deployment (``c_export.pair``) calls them on different cores."""
    masked = [MASKED_MAP] if (program.mask or program.base) else []
    return "\n\n".join([_front(program, has_switch), _tail(program, hist, policy, warm_frames),
                        _end(warm_frames), *masked, PROCESS_SEGMENT])


MASKED_MAP = """/* The masked map the front leaves for the tail: [DSL_BASE_CHANNELS][DSL_BASE_FRAMES] floats in the scratch. */
float *dsl_masked_map(void) { return S_M; }"""


PROCESS_SEGMENT = """int dsl_process_segment(dsl_state_t *st, const float *pcm, float *embedding_out, int force,
                        float *predicted_out)
{
    int path = dsl_front_segment(st, pcm, force, predicted_out);
    if (path < 0) return path;
    dsl_tail_segment(st, path, pcm, embedding_out);
    dsl_end_segment(st, path);
    return path;
}"""


def _front(program: Program, has_switch: bool) -> str:
    ld = "DSL_BASE_FRAMES" if (program.mask or program.base) else "DSL_IN_FRAMES"
    body = ["    float predicted = 0.0f;", "    int path;", "    (void)st;", "    (void)pcm;"]
    if program.base:
        hop = program.base.hop_frames
        body = ["    int chunk;"] + body + [
            "    for (chunk = 0; chunk < DSL_BASE_FRAMES; chunk += DSL_BASE_CHUNK_FRAMES)",
            f"        dsl_chain_base(st, pcm + chunk * {hop}, DSL_IN_FRAMES, DSL_BASE_CHUNK_FRAMES * {hop}, S_M + chunk, "
            "DSL_BASE_FRAMES);"]
    if program.mask:
        src = "S_M" if program.base else "pcm"
        body.append(f"    dsl_mask(MASK_SCALE, MASK_THRESHOLD, {src}, {ld if program.base else 'DSL_IN_FRAMES'}, "
                    "S_M, DSL_BASE_FRAMES, DSL_BASE_CHANNELS, DSL_BASE_FRAMES);")
    if has_switch:
        body.append("    predicted = dsl_switch(&L_switch_embed, SWITCH_HEAD_W, SWITCH_HEAD_B, S_M, DSL_BASE_FRAMES, "
                    "DSL_BASE_FRAMES, S_A);")
    body += _choose_path(program)
    body += ["    if (predicted_out) *predicted_out = predicted;", "    return path;"]
    signature = ("/* Base, mask and switch on one segment (the masked map left in the scratch); returns the path chosen,\n"
                 " * or -1 for a force naming a path the program lacks. */\n"
                 "int dsl_front_segment(dsl_state_t *st, const float *pcm, int force, float *predicted_out)")
    return "\n".join([signature, "{", *body, "}"])


def _tail(program: Program, hist: dict[str, int], policy: str, warm_frames: int) -> str:
    feat, ld = ("S_M", "DSL_BASE_FRAMES") if (program.mask or program.base) else ("pcm", "DSL_IN_FRAMES")
    body = ["    (void)st;", "    (void)path;", "    (void)pcm;", "    (void)embedding_out;"]
    for path, tail in sorted(program.tails.items()):
        if len(program.tails) > 1 and policy != "stale":
            call = f"dsl_replay_{tail.name}(st, embedding_out);" if warm_frames else f"dsl_reset_{tail.name}(st);"
            body.append(f"    if (path == {path} && st->last_path != {path}) " + call)
        body.append(f"    if (path == {path}) dsl_chain_{tail.name}(st, {feat}, {ld}, DSL_BASE_FRAMES, "
                    "embedding_out, DSL_FRAMES_PER_SEGMENT);")
    if not program.tails and not program.switch:
        body.append("    dsl_copy(embedding_out, DSL_BASE_FRAMES, S_M, DSL_BASE_FRAMES, DSL_BASE_CHANNELS, DSL_BASE_FRAMES);")
    head = ("/* The state policy for a tail that did not run on the previous segment, then that one tail on the\n"
            " * masked map the front left in the scratch (pcm: the input of a program without base or mask). */\n"
            "void dsl_tail_segment(dsl_state_t *st, int path, const float *pcm, float *embedding_out)")
    return "\n".join([head, "{", *body, "}"])


def _end(warm_frames: int) -> str:
    push = ["    dsl_warm_push(st, S_M);"] if warm_frames else []
    return "\n".join(["/* After a segment: keep the masked frames the warm policy replays, remember the path. */",
                      "void dsl_end_segment(dsl_state_t *st, int path)", "{", *push, "    st->last_path = path;", "}"])


def _choose_path(program: Program) -> list[str]:
    if len(program.tails) == 2:
        return ["    if (force == DSL_FORCE_AUTO) path = predicted < st->threshold ? DSL_PATH_LIGHT : DSL_PATH_FULL;",
                "    else if (force == DSL_PATH_FULL || force == DSL_PATH_LIGHT) path = force;",
                "    else return -1;"]
    only = next(iter(program.tails), 0)
    return [f"    if (force != DSL_FORCE_AUTO && force != {only}) return -1;", f"    path = {only};"]
