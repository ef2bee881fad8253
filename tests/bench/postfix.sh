#!/usr/bin/env bash
# Makes Debian's Postfix a loopback relay for the benchmark: installed when missing, accepts
# mail from 127.0.0.1 only, queues it like any relay and then discards it. Prints the SMTP URL.
set -euo pipefail
if ! command -v postfix >/dev/null 2>&1; then
  echo "Installing Postfix for the benchmark's relay phase." >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >&2
fi
postconf -e \
  'inet_interfaces = loopback-only' \
  'inet_protocols = ipv4' \
  'mynetworks = 127.0.0.0/8' \
  'mydestination =' \
  'relay_domains =' \
  'default_transport = discard:benchmark' \
  'local_transport = discard:benchmark' \
  'smtpd_relay_restrictions = permit_mynetworks, reject' \
  'smtpd_recipient_restrictions = permit_mynetworks, reject' \
  'smtpd_tls_security_level = none' \
  'maillog_file = /var/log/postfix-bench.log'
if postfix status >/dev/null 2>&1; then postfix reload >&2; else postfix start >&2; fi
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/25) 2>/dev/null && break; sleep 0.1; done
echo "smtp://127.0.0.1:25"
