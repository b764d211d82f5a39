<?php
// Minimal SimpleSAMLphp 1.19 config for a loopback test IdP (php -S, no Apache).
$config = [
    'baseurlpath' => 'http://127.0.0.1:8081/',
    'certdir' => '/tmp/saml-probe/idp/cert/',
    'loggingdir' => '/tmp/saml-probe/idp/log/',
    'datadir' => '/tmp/saml-probe/idp/data/',
    'tempdir' => '/tmp/saml-probe/idp/tmp/',
    'metadatadir' => '/tmp/saml-probe/idp/metadata/',
    'secretsalt' => 'roster-test-salt-not-secret',
    'auth.adminpassword' => 'admin-test-password',
    'timezone' => 'UTC',
    'technicalcontact_name' => 'Roster tests',
    'technicalcontact_email' => 'na@example.org',
    'enable.saml20-idp' => true,
    'module.enable' => [
        'exampleauth' => true,
        'core' => true,
        'saml' => true,
        'admin' => true,
    ],
    'logging.level' => SimpleSAML\Logger::DEBUG,
    'logging.handler' => 'file',
    'logging.logfile' => 'simplesamlphp.log',
    'session.cookie.secure' => false,      // plain http on loopback
    'session.cookie.samesite' => null,
    'language.cookie.secure' => false,
    'store.type' => 'phpsession',
    'admin.checkforupdates' => false,
    'debug' => ['saml' => true, 'backtraces' => true, 'validatexml' => false],
    'showerrors' => true,
    'production' => true,
];
