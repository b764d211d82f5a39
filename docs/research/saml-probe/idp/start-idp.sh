#!/bin/bash
# Start SimpleSAMLphp 1.19 (Debian package) as a SAML IdP on 127.0.0.1:8081 with our own config dir.
set -e
B=/tmp/saml-probe/idp
mkdir -p $B/log $B/data $B/tmp
SIMPLESAMLPHP_CONFIG_DIR=$B/config setsid php -S 127.0.0.1:8081 -t /usr/share/simplesamlphp/www \
  > $B/php-server.log 2>&1 &
echo $! > $B/php.pid
for i in $(seq 1 50); do curl -fsS -o /dev/null http://127.0.0.1:8081/saml2/idp/metadata.php 2>/dev/null && break; sleep 0.2; done
echo "IdP up, pid $(cat $B/php.pid)"
