<?php
// The Roster SP (entityID must equal samael ServiceProvider.entity_id).
$metadata['https://roster.test/saml/metadata'] = [
    'AssertionConsumerService' => 'http://127.0.0.1:8080/saml/acs',
    'SingleLogoutService' => 'http://127.0.0.1:8080/saml/slo',
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
    'simplesaml.nameidattribute' => 'email',
    'simplesaml.attributes' => true,
    'saml20.sign.assertion' => true,
    'saml20.sign.response' => true,
    'validate.authnrequest' => false,
];
