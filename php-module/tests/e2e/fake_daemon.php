<?php

/*
 * A minimal stand-in for the daemon's WHMCS channel, for CurlTransportTest: run with
 *   EMA_FAKE_SECRET=... EMA_FAKE_KEY_ID=... EMA_FAKE_STATE=/tmp/dir php -S 127.0.0.1:PORT fake_daemon.php
 * It verifies requests in the order of docs/signing.md section 5 and answers a few actions with
 * canned data. It is not the daemon: it only lets the tests drive the real curl transport.
 */

declare(strict_types=1);

function fake_problem(int $status, string $code, string $detail): never
{
    http_response_code($status);
    header('Content-Type: application/problem+json');
    $id = bin2hex(random_bytes(8));
    header('x-request-id: ' . $id);
    echo json_encode(['type' => 'https://ema-bridge.dev/problems/' . $code, 'title' => $code, 'status' => $status,
        'detail' => $detail, 'code' => $code, 'request_id' => $id]);
    exit;
}

function fake_json(int $status, array $data): never
{
    http_response_code($status);
    header('Content-Type: application/json');
    header('x-request-id: ' . bin2hex(random_bytes(8)));
    echo $data === [] ? '{}' : json_encode($data, JSON_UNESCAPED_SLASHES);
    exit;
}

$secret = (string) getenv('EMA_FAKE_SECRET');
$keyId = (string) getenv('EMA_FAKE_KEY_ID');
$state = (string) getenv('EMA_FAKE_STATE');

if ((int) ($_SERVER['CONTENT_LENGTH'] ?? 0) > 65536) {
    fake_problem(413, 'payload_too_large', 'The body is larger than 64 KiB.');
}
$body = (string) file_get_contents('php://input');
$uri = (string) $_SERVER['REQUEST_URI'];
[$path, $query] = array_pad(explode('?', $uri, 2), 2, '');
$h = static fn (string $name): string => (string) ($_SERVER['HTTP_' . strtoupper(str_replace('-', '_', $name))] ?? '');

$checks = [
    'X-Ema-Key-Id' => '/^[a-z0-9_-]{1,32}$/D',
    'X-Ema-Timestamp' => '/^[0-9]{1,12}$/D',
    'X-Ema-Nonce' => '/^[0-9a-f]{32}$/D',
    'X-Ema-Content-Sha256' => '/^[0-9a-f]{64}$/D',
    'X-Ema-Signature' => '/^v1=[0-9a-f]{64}$/D',
];
foreach ($checks as $name => $pattern) {
    if (preg_match($pattern, $h($name)) !== 1) {
        fake_problem(401, 'unauthorized', 'The request signature could not be verified.');
    }
}
$idempotencyKey = $h('Idempotency-Key');
if (isset($_SERVER['HTTP_IDEMPOTENCY_KEY']) && preg_match('/^[A-Za-z0-9:._-]{1,255}$/D', $idempotencyKey) !== 1) {
    fake_problem(401, 'unauthorized', 'The request signature could not be verified.');
}
if (!hash_equals($keyId, $h('X-Ema-Key-Id')) || abs(time() - (int) $h('X-Ema-Timestamp')) > 300
    || !hash_equals(hash('sha256', $body), $h('X-Ema-Content-Sha256'))) {
    fake_problem(401, 'unauthorized', 'The request signature could not be verified.');
}
$toSign = implode("\n", ['EMA-HMAC-SHA256-V1', $_SERVER['REQUEST_METHOD'], $path, $query, $h('X-Ema-Timestamp'),
    $h('X-Ema-Nonce'), $h('X-Ema-Key-Id'), $idempotencyKey, hash('sha256', $body)]);
if (!hash_equals('v1=' . hash_hmac('sha256', $toSign, $secret), $h('X-Ema-Signature'))) {
    fake_problem(401, 'unauthorized', 'The request signature could not be verified.');
}
$nonceFile = $state . '/nonce-' . $h('X-Ema-Nonce');
if (@fopen($nonceFile, 'x') === false) {
    fake_problem(401, 'unauthorized', 'The request signature could not be verified.');
}
file_put_contents($state . '/requests.log', json_encode(['path' => $path, 'idempotency_key' => $idempotencyKey, 'body' => $body]) . "\n", FILE_APPEND | LOCK_EX);

$data = json_decode($body, true);
$tenant = static fn (array $o = []): array => $o + ['slug' => 'acme', 'name' => 'Acme Corp', 'status' => 'active',
    'url' => 'http://acme.localhost', 'service_id' => 1001, 'plan' => 'standard', 'max_users' => 25, 'storage_gb' => 50,
    'sandbox' => false, 'users' => 1, 'active_users' => 1, 'storage_bytes' => 2097152, 'db_bytes' => 2000000, 's3_bytes' => 97152,
    'usage_measured_at' => null, 'created_at' => '2026-12-03T09:00:00Z', 'suspended_at' => null, 'suspension_reason' => null,
    'deletion_requested' => false];

switch ($path) {
    case '/whmcs/v1/test_connection':
        fake_json(200, ['ok' => true, 'reseller' => 'Fake Reseller', 'server_time' => time()]);
    case '/whmcs/v1/create_account':
        if (($data['slug'] ?? '') !== strtolower((string) ($data['slug'] ?? '')) || str_contains((string) ($data['slug'] ?? ''), '_')) {
            fake_problem(422, 'slug_invalid', 'The slug is not valid.');
        }
        fake_json(201, ['tenant' => $tenant(['slug' => $data['slug'], 'name' => $data['name'], 'service_id' => $data['service_id']])]);
    case '/whmcs/v1/suspend_account':
        fake_json(200, ['tenant' => $tenant(['status' => 'suspended', 'suspension_reason' => $data['reason'] ?? null])]);
    case '/whmcs/v1/usage':
        fake_json(200, ['items' => [['service_id' => 1001, 'slug' => 'acme', 'status' => 'active', 'users' => 1, 'active_users' => 1,
            'storage_bytes' => 2097152, 'db_bytes' => 2000000, 's3_bytes' => 97152, 'storage_limit_gb' => 50, 'billable' => true,
            'not_billable_reason' => null, 'licences' => 1, 'measured_at' => null]]]);
    default:
        fake_problem(404, 'not_found', 'Unknown action.');
}
