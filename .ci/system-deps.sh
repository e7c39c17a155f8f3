#!/usr/bin/env bash
# Installs the Debian packages some tests need when missing: PostgreSQL server, headless Chromium, and the
# speech synthesisers the generated corpus speaks with (flite, festival + three English festvox voices,
# espeak-ng), and the Cortex-A32 cross compiler the emulated ARM board builds with (gcc-arm-linux-gnueabihf; the
# emulator itself, unicorn, comes from PyPI), and for the exported C's example program the armhf C library
# (libc6-dev-armhf-cross) and qemu-arm (qemu-user) that runs it (tests/test_c_build_qemu.py), and LLVM's llvm-mc and
# llvm-mca (package llvm), whose scheduling models give the emulated boards their cycles (hw_models/runners/cycle_model.py). Never fails the build: a test whose server, browser or synthesiser is absent is skipped with
# the reason printed (the corpus itself falls back to formant synthesis, with a warning).
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v flite >/dev/null 2>&1 || need+=(flite)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v text2wave >/dev/null 2>&1 || need+=(festival)
voices=/usr/share/festival/voices
[ -d "$voices/english/kal_diphone" ] || need+=(festvox-kallpc16k)
[ -d "$voices/english/ked_diphone" ] || need+=(festvox-kdlpc16k)
[ -d "$voices/us/cmu_us_slt_arctic_hts" ] || need+=(festvox-us-slt-hts)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v arm-linux-gnueabihf-gcc >/dev/null 2>&1 || need+=(gcc-arm-linux-gnueabihf)
[ -e /usr/arm-linux-gnueabihf/lib/crt1.o ] || need+=(libc6-dev-armhf-cross)
command -v qemu-arm >/dev/null 2>&1 || need+=(qemu-user)
{ command -v llvm-mca && command -v llvm-mc; } >/dev/null 2>&1 || need+=(llvm)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: cannot install ${need[*]} (not root or no apt-get); those tests will be skipped" >&2
  exit 0
fi
echo "system-deps: installing ${need[*]}" >&2
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null) \
  || echo "system-deps: apt-get install ${need[*]} failed; those tests will be skipped" >&2
exit 0
