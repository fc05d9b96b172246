#!/usr/bin/env bash
# Register GeoSpottr with the Linux desktop: menu entry, icon in every size, AppStream metainfo, and
# "Open with GeoSpottr" for JPEG/PNG/WebP/BMP/TIFF images.
#
#   packaging/linux/install.sh [--prefix DIR] [--exec PATH] [--uninstall]
#
# --prefix  where to install (default ~/.local; /usr/local for all users, run as root)
# --exec    the GUI launcher to put in the .desktop file (default: geospottr-gui found on PATH; pass the
#           bundle's .../GeoSpottr/geospottr-gui or a venv's bin/geospottr-gui if it is not on PATH)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ICONS="$HERE/../../resources/icons"
ID=io.github.geospottr.GeoSpottr
PREFIX="$HOME/.local"
EXEC=""
UNINSTALL=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --exec) EXEC="$2"; shift 2 ;;
    --uninstall) UNINSTALL=1; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
SHARE="$PREFIX/share"
SIZES="16 32 48 64 128 256 512"

if [ "$UNINSTALL" = 1 ]; then
  rm -f "$SHARE/applications/$ID.desktop" "$SHARE/metainfo/$ID.metainfo.xml" "$SHARE/icons/hicolor/scalable/apps/$ID.svg"
  for s in $SIZES; do rm -f "$SHARE/icons/hicolor/${s}x${s}/apps/$ID.png"; done
else
  if [ -z "$EXEC" ]; then
    EXEC="$(command -v geospottr-gui || true)"
    [ -n "$EXEC" ] || { echo "install.sh: geospottr-gui is not on PATH; pass --exec /path/to/geospottr-gui" >&2; exit 1; }
  fi
  [ -x "$EXEC" ] || { echo "install.sh: $EXEC is not an executable" >&2; exit 1; }
  EXEC="$(cd "$(dirname "$EXEC")" && pwd)/$(basename "$EXEC")"
  install -d "$SHARE/applications" "$SHARE/metainfo" "$SHARE/icons/hicolor/scalable/apps"
  # Absolute Exec/TryExec: menus do not see a venv's PATH. Quote the path per the Desktop Entry spec.
  sed -e "s|^Exec=geospottr-gui|Exec=\"$EXEC\"|" -e "s|^TryExec=.*|TryExec=$EXEC|" \
    "$HERE/$ID.desktop" > "$SHARE/applications/$ID.desktop"
  install -m 644 "$HERE/$ID.metainfo.xml" "$SHARE/metainfo/$ID.metainfo.xml"
  install -m 644 "$ICONS/geospottr.svg" "$SHARE/icons/hicolor/scalable/apps/$ID.svg"
  for s in $SIZES; do
    install -D -m 644 "$ICONS/geospottr-$s.png" "$SHARE/icons/hicolor/${s}x${s}/apps/$ID.png"
  done
fi
# Refresh the caches that menus and "Open with" read; each tool is optional.
command -v update-desktop-database >/dev/null && update-desktop-database -q "$SHARE/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$SHARE/icons/hicolor" || true
echo "install.sh: $([ "$UNINSTALL" = 1 ] && echo removed from || echo installed into) $SHARE"
