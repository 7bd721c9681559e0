<?php

/*
 * End-to-end runner for the Rust integration tests, which start a real ema-bridge daemon:
 *
 *   php php-module/tests/e2e/run.php FUNCTION PARAMS_JSON_FILE
 *
 * FUNCTION is the module function without its prefix (CreateAccount, SuspendAccount, ...,
 * MetricProvider, ListAccounts). PARAMS_JSON_FILE holds WHMCS's $params (see fixtures/whmcs/,
 * placeholders already replaced). The service model's properties start from the file's
 * "customfields", overlaid by PARAMS_JSON_FILE.props.json when it exists, and are written back
 * there afterwards, so a second run sees what the first saved (Tenant Slug, EMA Pending Request);
 * like WHMCS, saved properties are also passed back in "customfields".
 *
 * Calls go through the real CurlTransport. Prints one JSON object on stdout:
 *   {"result": ..., "module_log": [...], "capsule_updates": [...], "properties": {...}}
 * For MetricProvider, result is {"metrics": [system names], "usage": {slug: {metric: value}}}.
 * Exits 0 whenever the module function ran (even when it returned an error sentence); 2 on a
 * usage error.
 */

declare(strict_types=1);

require __DIR__ . '/../_bootstrap.php';

use EmaArchiveTests\Whmcs\ServiceModel;
use WHMCS\Database\Capsule;
use WHMCS\UsageBilling\Contracts\Metrics\MetricInterface;
use WHMCS\UsageBilling\Contracts\Metrics\ProviderInterface;

function ema_e2e_fail(string $message): never
{
    fwrite(STDERR, $message . PHP_EOL);
    exit(2);
}

$function = preg_replace('/^emaarchive_/', '', (string) ($argv[1] ?? ''));
$paramsFile = (string) ($argv[2] ?? '');
if ($function === '' || $paramsFile === '') {
    ema_e2e_fail('usage: php run.php FUNCTION PARAMS_JSON_FILE');
}
$callable = 'emaarchive_' . $function;
if (!function_exists($callable)) {
    ema_e2e_fail(sprintf('unknown module function "%s"', $function));
}
if (!is_file($paramsFile)) {
    ema_e2e_fail(sprintf('params file "%s" not found', $paramsFile));
}
try {
    $params = json_decode((string) file_get_contents($paramsFile), true, 64, JSON_THROW_ON_ERROR);
} catch (JsonException $e) {
    ema_e2e_fail('params file is not valid JSON: ' . $e->getMessage());
}
if (!is_array($params)) {
    ema_e2e_fail('params file must hold a JSON object');
}

$propsFile = $paramsFile . '.props.json';
$properties = is_array($params['customfields'] ?? null) ? $params['customfields'] : [];
if (is_file($propsFile)) {
    $saved = json_decode((string) file_get_contents($propsFile), true);
    if (is_array($saved)) {
        $properties = array_replace($properties, $saved);
    }
}
$model = null;
if (isset($params['serviceid'])) {
    $params['customfields'] = $properties;
    $model = new ServiceModel($properties);
    $params['model'] = $model;
}

$result = $callable($params);

if ($result instanceof ProviderInterface) {
    $usage = [];
    foreach ($result->usage() as $tenant => $metrics) {
        foreach ($metrics as $metric) {
            /** @var MetricInterface $metric */
            $usage[(string) $tenant][$metric->systemName()] = $metric->usage()?->value();
        }
    }
    $result = [
        'metrics' => array_values(array_map(static fn (MetricInterface $m): string => $m->systemName(), $result->metrics())),
        'usage' => (object) $usage,
    ];
}

if ($model !== null) {
    file_put_contents($propsFile, json_encode($model->serviceProperties->values, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE) . PHP_EOL);
}

$log = array_map(
    static fn (array $entry): array => array_intersect_key($entry, array_flip(['module', 'action', 'request', 'response', 'processed'])),
    $GLOBALS['WHMCS_MODULE_LOG'] ?? [],
);

echo json_encode([
    'result' => $result,
    'module_log' => $log,
    'capsule_updates' => Capsule::$updates,
    'properties' => (object) ($model?->serviceProperties->values ?? []),
], JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE | JSON_PRESERVE_ZERO_FRACTION), PHP_EOL;
exit(0);
