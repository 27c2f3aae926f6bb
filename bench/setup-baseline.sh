#!/usr/bin/env bash
#===- bench/setup-baseline.sh - Install the framework physc is compared to ===#
#
# Creates a Python virtual environment outside the checkout with JAX (CPU
# jaxlib from PyPI), the baseline that bench/cpu-step.sh measures physc
# against. Idempotent: does nothing when JAX already imports there.
#
# If PyPI cannot be reached, falls back to Debian's python3-torch and records
# PyTorch as the baseline instead. The choice is written to
# $VENV/physc-baseline.env, which cpu-step.sh reads.
#
# Environment: PHYSC_BENCH_VENV (default ~/.cache/physc/bench-venv).
#
#===----------------------------------------------------------------------===#
set -euo pipefail

VENV=${PHYSC_BENCH_VENV:-$HOME/.cache/physc/bench-venv}
ENV_FILE=$VENV/physc-baseline.env

log() { echo "setup-baseline: $*" >&2; }

write_env() { # FW PYTHON
  printf 'PHYSC_BASELINE_FW=%s\nPHYSC_BASELINE_PY=%s\n' "$1" "$2" >"$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

if [[ -x $VENV/bin/python ]] && "$VENV/bin/python" -c 'import jax' 2>/dev/null; then
  write_env jax "$VENV/bin/python"
  log "jax $("$VENV/bin/python" -c 'import jax; print(jax.__version__)') already in $VENV"
  exit 0
fi

mkdir -p "$(dirname "$VENV")"
if [[ ! -x $VENV/bin/python ]]; then
  log "creating $VENV"
  python3 -m venv "$VENV"
fi

# pip's own retries and timeout bound the wait when PyPI is unreachable.
if "$VENV/bin/python" -m pip install --disable-pip-version-check --retries 2 \
     --timeout 60 jax; then
  "$VENV/bin/python" -c 'import jax; print("setup-baseline: jax", jax.__version__, jax.devices())' >&2
  write_env jax "$VENV/bin/python"
  exit 0
fi

log "pip could not install jax; falling back to Debian's python3-torch"
SUDO=
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    log "not root and no sudo: cannot apt-get install python3-torch"
    exit 1
  fi
fi
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y python3-torch
fi
/usr/bin/python3 -c 'import torch; print("setup-baseline: torch", torch.__version__)' >&2
write_env torch /usr/bin/python3
