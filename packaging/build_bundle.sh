#!/usr/bin/env bash
# Build the one-folder desktop bundle (PyInstaller) for the platform this runs on.
#
#   packaging/build_bundle.sh [OUT_DIR]        default OUT_DIR: ./dist-bundle
#
# Env: PYTHON (default: .venv/bin/python if present, else python3), NICE=1 to build at low CPU priority,
#      GEOSPOTTR_BUNDLE=predict for the predict-only variant without torch (dist/GeoSpottr-predict: runs .onnx models),
#      CLEAN=0 to reuse PyInstaller's cache in OUT_DIR/build from an earlier build (faster rebuilds).
# Needs the app's dependencies plus the `packaging` extra installed in that Python:
#   pip install torch==2.14.1 torchvision==0.29.1 && pip install -e ".[packaging]"
# Result: OUT_DIR/dist/GeoSpottr/{geospottr-gui,geospottr} (+ GeoSpottr.app on macOS); prints its size.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$(mkdir -p "${1:-$REPO/dist-bundle}" && cd "${1:-$REPO/dist-bundle}" && pwd)"
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$REPO/.venv/bin/python" ]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi
PREFIX=()
if [ "${NICE:-0}" = 1 ] && command -v nice >/dev/null 2>&1; then PREFIX=(nice -n 19); fi

"$PYTHON" -m PyInstaller --version >/dev/null 2>&1 || {
  echo "build_bundle: PyInstaller missing; run: $PYTHON -m pip install -e \"$REPO[packaging]\"" >&2; exit 1; }

cd "$REPO"
start=$(date +%s)
CLEAN_FLAG=(--clean); [ "${CLEAN:-1}" = 0 ] && CLEAN_FLAG=()
# ${a[@]+"${a[@]}"}: empty arrays are "unbound" under `set -u` in macOS's bash 3.2.
${PREFIX[@]+"${PREFIX[@]}"} "$PYTHON" -m PyInstaller --noconfirm ${CLEAN_FLAG[@]+"${CLEAN_FLAG[@]}"} --log-level WARN \
  --distpath "$OUT/dist" --workpath "$OUT/build" packaging/geospottr.spec
echo "build_bundle: built in $(( $(date +%s) - start )) s"

BUNDLE="$OUT/dist/GeoSpottr"; [ "${GEOSPOTTR_BUNDLE:-full}" = predict ] && BUNDLE="$OUT/dist/GeoSpottr-predict"
CLI="$BUNDLE/geospottr"; [ -x "$CLI" ] || CLI="$BUNDLE/geospottr.exe"
"$CLI" --version
echo "build_bundle: $BUNDLE $(du -sh "$BUNDLE" | cut -f1)"
