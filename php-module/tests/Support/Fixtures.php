<?php

declare(strict_types=1);

namespace EmaArchiveTests\Support;

use EmaArchiveTests\Whmcs\ServiceModel;

/** Module parameters for tests, built from the shared fixtures in fixtures/whmcs/. */
final class Fixtures
{
    public const SECRET = 'whsec_TEST4xY7zQ2wE9rT6yU1iO3pA5sD8fG0hJ2kL4zX6c';
    public const KEY_ID = 'wk_0123456789ab';
    public const SERVICE_PASSWORD = 'Sv3rv!ce-Pa55';

    public static function path(string $relative): string
    {
        return dirname(__DIR__, 3) . '/' . $relative;
    }

    /** The fixture's $params with placeholders filled and a service model attached. */
    public static function params(string $name, array $overrides = [], string $host = 'archive.test', string $port = '8443'): array
    {
        $text = (string) file_get_contents(self::path('fixtures/whmcs/' . $name . '.json'));
        $text = str_replace(['@HOST@', '@PORT@', '@KEY_ID@', '@SECRET@'], [$host, $port, self::KEY_ID, self::SECRET], $text);
        $params = array_replace(json_decode($text, true, 64, JSON_THROW_ON_ERROR), $overrides);
        if (isset($params['serviceid'])) {
            $params['model'] = new ServiceModel(is_array($params['customfields'] ?? null) ? $params['customfields'] : []);
        }

        return $params;
    }
}
