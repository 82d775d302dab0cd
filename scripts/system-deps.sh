#!/usr/bin/env bash
# Debian packages the project runs and tests against: Dovecot (the sandbox operator and the mail
# tests), PostgreSQL (the second database), Chromium (browser journeys), LibreOffice (workbooks
# open in a real spreadsheet program), poppler (PDF pages to images), openssl (the test PKI).
set -euo pipefail
packages=(dovecot-imapd dovecot-lmtpd dovecot-submissiond postgresql chromium
          libreoffice-calc poppler-utils openssl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Paquets Debian manquants. Installez-les avec :" >&2
  echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "Installation des paquets Debian : ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
