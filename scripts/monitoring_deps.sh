#!/usr/bin/env bash
# Install Debian's prometheus and prometheus-alertmanager for the alerting tests (tests/deploy),
# only when they are missing and we are root with apt-get; otherwise say why the tests skip.
# The packages' init scripts are kept from starting daemons (they would hold :9090 and :9093):
# a policy-rc.d that denies starts is in place for the install, removed after if it was ours.
set -uo pipefail
PACKAGES=(prometheus prometheus-alertmanager)
if command -v prometheus >/dev/null && command -v promtool >/dev/null \
    && command -v prometheus-alertmanager >/dev/null; then
  exit 0
fi
if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
  echo "note: no Prometheus/Alertmanager (needs apt-get install -y ${PACKAGES[*]} as root);" \
    "the alerting tests in tests/deploy skip"
  exit 0
fi
echo "installing the alerting tests' ${PACKAGES[*]} (apt-get)"
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$POLICY" && chmod 755 "$POLICY" && trap 'rm -f "$POLICY"' EXIT
fi
apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${PACKAGES[@]}" >/dev/null 2>&1
}
apt_install || { apt-get update -qq >/dev/null 2>&1 && apt_install; } \
  || echo "note: apt-get could not install ${PACKAGES[*]}; the alerting tests in tests/deploy skip"
exit 0
