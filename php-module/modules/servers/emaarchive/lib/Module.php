<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\EmaArchive;

use WHMCS\Module\Server\EmaArchive\Http\CurlTransport;
use WHMCS\Module\Server\EmaArchive\Http\Transport;

/** Wiring shared by the module functions of emaarchive.php. */
final class Module
{
    private static ?Transport $transport = null;

    /** Test seam: every client built afterwards uses $transport (null: back to curl). */
    public static function useTransport(?Transport $transport): void
    {
        self::$transport = $transport;
    }

    public static function transport(): Transport
    {
        return self::$transport ?? new CurlTransport();
    }

    public static function client(array $params, ?ModuleLogger $logger = null): ApiClient
    {
        return ApiClient::fromParams($params, self::transport(), $logger ?? ModuleLogger::fromParams($params));
    }

    public static function accounts(array $params): AccountService
    {
        $logger = ModuleLogger::fromParams($params);

        return new AccountService(self::client($params, $logger), $params, $logger);
    }

    /**
     * Logs a failed module function and returns the sentence to show the admin.
     * Only the exception's class, message and origin are logged: a stack trace could carry
     * truncated secrets that masking by value would miss.
     */
    public static function failure(string $function, array $params, \Throwable $e): string
    {
        $sentence = ErrorMessages::forThrowable($e, [
            'slug' => SlugResolver::tryResolve($params),
            'service_id' => is_numeric($params['serviceid'] ?? null) ? (int) $params['serviceid'] : null,
        ]);
        $origin = $e instanceof ApiException || $e instanceof UserFacingException
            ? []
            : ['class' => $e::class, 'at' => basename($e->getFile()) . ':' . $e->getLine()];
        ModuleLogger::fromParams($params)->log(
            $function,
            ['serviceid' => $params['serviceid'] ?? null, 'domain' => $params['domain'] ?? null],
            $e->getMessage(),
            ['error' => $sentence] + $origin,
        );

        return $sentence;
    }
}
