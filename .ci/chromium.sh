#!/usr/bin/env bash
# Installs Debian's Chromium and ChromeDriver for the admin UI's browser
# tests and exports HALCYTONE_TEST_CHROMEDRIVER. Source it.

if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
    echo "==> apt-get install chromium chromium-driver"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
export HALCYTONE_TEST_CHROMEDRIVER="$(command -v chromedriver)"
echo "==> $(chromedriver --version | head -n 1)"
