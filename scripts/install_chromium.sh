#!/bin/sh
# Installs Debian's headless Chromium, which tests/test_html_render.py uses to render the HTML
# reports to PNG (those tests skip where it is missing). Needs root (or sudo) and apt.
set -eu
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium-headless-shell fonts-dejavu-core
command -v chromium-headless-shell || ls /usr/lib/chromium/chromium-headless-shell
