<?php
$config = [
    'admin' => ['core:AdminPassword'],
    'example-userpass' => [
        'exampleauth:UserPass',
        'alice:alicepass' => [
            'uid' => ['alice'],
            'email' => ['alice@example.org'],
            'eduPersonAffiliation' => ['member'],
        ],
        'bob:bobpass' => [
            'uid' => ['bob'],
            'email' => ['bob@example.org'],
            'eduPersonAffiliation' => ['member', 'admin'],
        ],
    ],
];
