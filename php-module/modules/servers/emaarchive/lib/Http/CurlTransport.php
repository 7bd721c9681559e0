<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\EmaArchive\Http;

/**
 * ext-curl transport: short, bounded calls (WHMCS runs module actions inside a web request or the
 * cron), TLS verification always on, no redirects.
 */
final class CurlTransport implements Transport
{
    public const CONNECT_TIMEOUT_SECONDS = 5;
    public const TOTAL_TIMEOUT_SECONDS = 25;

    public function __construct(
        private readonly int $connectTimeout = self::CONNECT_TIMEOUT_SECONDS,
        private readonly int $totalTimeout = self::TOTAL_TIMEOUT_SECONDS,
    ) {
    }

    public function send(HttpRequest $request): HttpResponse
    {
        if (!function_exists('curl_init')) {
            throw new TransportException('the PHP curl extension is not installed');
        }
        $handle = curl_init();
        $headers = [];
        foreach ($request->headers as $name => $value) {
            $headers[] = $name . ': ' . $value;
        }
        // Without this, curl waits for "100 Continue" before sending bodies over 1 KiB.
        $headers[] = 'Expect:';

        $responseHeaders = [];
        curl_setopt_array($handle, [
            CURLOPT_URL => $request->url,
            CURLOPT_CUSTOMREQUEST => $request->method,
            CURLOPT_POSTFIELDS => $request->body,
            CURLOPT_HTTPHEADER => $headers,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_FOLLOWLOCATION => false,
            CURLOPT_CONNECTTIMEOUT => $this->connectTimeout,
            CURLOPT_TIMEOUT => $this->totalTimeout,
            CURLOPT_SSL_VERIFYPEER => true,
            CURLOPT_SSL_VERIFYHOST => 2,
            CURLOPT_PROTOCOLS => CURLPROTO_HTTP | CURLPROTO_HTTPS,
            CURLOPT_HEADERFUNCTION => static function ($curl, string $line) use (&$responseHeaders): int {
                $parts = explode(':', $line, 2);
                if (count($parts) === 2) {
                    $responseHeaders[strtolower(trim($parts[0]))] = trim($parts[1]);
                } elseif (str_starts_with($line, 'HTTP/')) {
                    $responseHeaders = [];
                }

                return strlen($line);
            },
        ]);

        $body = curl_exec($handle);
        $errno = curl_errno($handle);
        $error = curl_error($handle);
        $status = (int) curl_getinfo($handle, CURLINFO_RESPONSE_CODE);
        curl_close($handle);

        if ($body === false || $errno !== 0) {
            throw new TransportException(
                $error !== '' ? $error : 'curl error ' . $errno,
                $errno === CURLE_OPERATION_TIMEDOUT,
            );
        }

        return new HttpResponse($status, $responseHeaders, (string) $body);
    }
}
