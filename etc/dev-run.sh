#!/bin/sh
# `make run`: prepares ./run (a self-signed certificate on first start)
# and starts posternd in the foreground on etc/postern.dev.yaml.
# Ctrl-C stops it cleanly.
set -eu
posternd=$1
posternctl=$2
top=$(pwd)
mkdir -p run/tls
chmod 0755 run
if [ ! -f run/tls/key.pem ]; then
	echo "creating a self-signed certificate for localhost in run/tls/"
	openssl req -x509 -newkey rsa:2048 -nodes -days 365 \
	    -subj /CN=localhost -addext subjectAltName=DNS:localhost \
	    -keyout run/tls/key.pem -out run/tls/cert.pem 2>/dev/null
	chmod 0600 run/tls/key.pem
fi
cat <<MSG

postern development server (config: etc/postern.dev.yaml)
  SMTP        127.0.0.1:2525 (STARTTLS)
  submission  127.0.0.1:2587 (STARTTLS), 127.0.0.1:2465 (TLS)
  IMAP        127.0.0.1:1143 (STARTTLS), 127.0.0.1:1993 (TLS)
  demo account: demo@example.org  password: Demo-Postern-2026
  control:    $posternctl -s $top/run/control.sock status
Ctrl-C stops it.

MSG
exec "$posternd" -d -f etc/postern.dev.yaml
