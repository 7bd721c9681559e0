<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\EmaArchive;

use Closure;
use JsonException;
use WHMCS\Module\Server\EmaArchive\Http\HttpRequest;
use WHMCS\Module\Server\EmaArchive\Http\HttpResponse;
use WHMCS\Module\Server\EmaArchive\Http\Transport;
use WHMCS\Module\Server\EmaArchive\Http\TransportException;

/**
 * Signed calls to the daemon's WHMCS channel: POST {base}/whmcs/v1/{action} with a JSON body
 * (docs/whmcs-channel.md, docs/signing.md). Every call is written to the module log.
 */
final class ApiClient
{
    public const PATH_PREFIX = '/whmcs/v1/';
    public const MAX_BODY_BYTES = 65536;
    public const DEFAULT_SSL_PORT = 443;
    public const DEFAULT_NON_SSL_PORT = 8080;
    private const USER_AGENT = 'ema-archive-whmcs/1.0';
    private const JSON_FLAGS = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE
        | JSON_THROW_ON_ERROR;

    private readonly Closure $clock;
    private readonly Closure $nonces;

    public function __construct(
        private readonly string $baseUrl,
        private readonly string $keyId,
        private readonly string $secret,
        private readonly Transport $transport,
        private readonly ModuleLogger $logger,
        ?Closure $clock = null,
        ?Closure $nonces = null,
    ) {
        $this->clock = $clock ?? static fn (): int => time();
        $this->nonces = $nonces ?? static fn (): string => Signer::newNonce();
        $this->logger->addSecret($secret);
    }

    /** Builds a client from the server fields WHMCS passes in $params. */
    public static function fromParams(array $params, Transport $transport, ModuleLogger $logger): self
    {
        $baseUrl = self::baseUrlFromParams($params);
        $keyId = trim((string) ($params['serverusername'] ?? ''));
        $secret = (string) ($params['serverpassword'] ?? '');
        if ($keyId === '' || !Signer::isValidKeyId($keyId)) {
            throw new UserFacingException(
                'The server\'s Username must be the ema-bridge key id (like wk_0123456789ab) '
                . 'that "ema-bridge reseller create" printed.'
            );
        }
        if (trim($secret) === '') {
            throw new UserFacingException(
                'The server\'s Password must be the ema-bridge signing secret (whsec_...); it is empty.'
            );
        }

        return new self($baseUrl, $keyId, $secret, $transport, $logger);
    }

    /** https://host[:port] when "Secure" is ticked, else http://host[:port]; no trailing slash. */
    public static function baseUrlFromParams(array $params): string
    {
        $secure = self::truthy($params['serversecure'] ?? false);
        $host = trim((string) ($params['serverhostname'] ?? ''));
        if ($host === '') {
            $host = trim((string) ($params['serverip'] ?? ''));
        }
        $host = (string) preg_replace('#^[a-z][a-z0-9+.-]*://#i', '', $host);
        $host = rtrim($host, '/');
        if ($host === '') {
            throw new UserFacingException(
                'The server record has no hostname or IP address; enter the archive daemon\'s host name.'
            );
        }
        if (str_contains($host, ':') && !str_starts_with($host, '[') && filter_var($host, FILTER_VALIDATE_IP, FILTER_FLAG_IPV6)) {
            $host = '[' . $host . ']';
        }
        if (preg_match('/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)$/D', $host) !== 1) {
            throw new UserFacingException(sprintf(
                'The server hostname "%s" is not valid: enter only the archive daemon\'s host name or IP address, '
                . 'and put the port in the Port field.',
                $host,
            ));
        }

        $portText = trim((string) ($params['serverport'] ?? ''));
        if ($portText === '') {
            $port = $secure ? self::DEFAULT_SSL_PORT : self::DEFAULT_NON_SSL_PORT;
        } elseif (preg_match('/^[0-9]{1,5}$/D', $portText) === 1 && (int) $portText >= 1 && (int) $portText <= 65535) {
            $port = (int) $portText;
        } else {
            throw new UserFacingException(sprintf(
                'The server port "%s" is not valid: use a number from 1 to 65535.',
                $portText,
            ));
        }

        $scheme = $secure ? 'https' : 'http';
        $defaultPort = $secure ? 443 : 80;

        return $scheme . '://' . $host . ($port === $defaultPort ? '' : ':' . $port);
    }

    public function baseUrl(): string
    {
        return $this->baseUrl;
    }

    /**
     * @param array<string, mixed> $body the JSON object to send ({} when empty)
     * @param list<string> $secretResponseFields top-level answer fields to keep out of the log
     *
     * @throws ApiException when the daemon is not reached or does not answer 2xx with JSON
     */
    public function call(
        string $action,
        array $body = [],
        ?string $idempotencyKey = null,
        array $secretResponseFields = [],
    ): ApiResponse {
        if (preg_match('/^[a-z_]{1,64}$/D', $action) !== 1) {
            throw new \InvalidArgumentException('Unknown daemon action name.');
        }
        $path = self::PATH_PREFIX . $action;
        $url = $this->baseUrl . $path;
        $json = $body === [] ? '{}' : json_encode($body, self::JSON_FLAGS);
        if (strlen($json) > self::MAX_BODY_BYTES) {
            throw new UserFacingException('The request is larger than the archive daemon accepts (64 KiB); shorten the names or reasons sent.');
        }

        $timestamp = ($this->clock)();
        $nonce = ($this->nonces)();
        $bodySha256 = Signer::bodySha256($json);
        $stringToSign = Signer::stringToSign(
            'POST', $path, '', $timestamp, $nonce, $this->keyId, $idempotencyKey ?? '', $bodySha256,
        );
        $headers = [
            'Content-Type' => 'application/json',
            'Accept' => 'application/json, application/problem+json',
            'User-Agent' => self::USER_AGENT,
            'X-Ema-Key-Id' => $this->keyId,
            'X-Ema-Timestamp' => (string) $timestamp,
            'X-Ema-Nonce' => $nonce,
        ];
        if ($idempotencyKey !== null && $idempotencyKey !== '') {
            $headers['Idempotency-Key'] = $idempotencyKey;
        }
        $headers['X-Ema-Content-Sha256'] = $bodySha256;
        $headers['X-Ema-Signature'] = Signer::sign($this->secret, $stringToSign);

        $request = new HttpRequest('POST', $url, $headers, $json);
        $logRequest = ['method' => 'POST', 'url' => $url, 'headers' => $headers, 'body' => $body];
        $started = microtime(true);

        try {
            $response = $this->transport->send($request);
        } catch (TransportException $e) {
            $this->logger->log($action, $logRequest, ['error' => $e->getMessage()], [
                'duration_ms' => self::elapsedMs($started),
                'timed_out' => $e->timedOut,
            ]);
            throw new ApiException(
                0,
                $e->timedOut ? ApiException::TIMEOUT : ApiException::UNREACHABLE,
                $e->getMessage(),
                null,
                $this->baseUrl,
            );
        }

        return $this->handle($action, $logRequest, $response, $started, $secretResponseFields);
    }

    /** @param list<string> $secretResponseFields */
    private function handle(
        string $action,
        array $logRequest,
        HttpResponse $response,
        float $started,
        array $secretResponseFields,
    ): ApiResponse {
        try {
            $decoded = $response->body === '' ? null : json_decode($response->body, true, 64, JSON_THROW_ON_ERROR);
        } catch (JsonException) {
            $decoded = null;
        }
        $data = is_array($decoded) ? $decoded : null;
        $requestId = self::requestId($response, $data);

        $logBody = $data ?? $response->body;
        if (is_array($logBody)) {
            foreach ($secretResponseFields as $field) {
                if (isset($logBody[$field]) && is_scalar($logBody[$field])) {
                    $this->logger->addSecret((string) $logBody[$field]);
                    $logBody[$field] = ModuleLogger::REDACTED;
                }
            }
        }
        $this->logger->log($action, $logRequest, [
            'status' => $response->status,
            'request_id' => $requestId,
            'content_type' => $response->header('content-type'),
            'body' => $logBody,
        ], ['duration_ms' => self::elapsedMs($started)]);

        $status = $response->status;
        if ($status >= 200 && $status < 300) {
            if ($data === null || array_is_list($data) && $data !== []) {
                throw new ApiException($status, ApiException::INVALID_RESPONSE, 'The answer is not a JSON object.', $requestId, $this->baseUrl);
            }

            return new ApiResponse($status, $data, $requestId);
        }

        if ($data !== null && isset($data['code']) && is_string($data['code']) && $data['code'] !== '') {
            $detail = is_string($data['detail'] ?? null) ? $data['detail'] : (is_string($data['title'] ?? null) ? $data['title'] : '');
            throw new ApiException($status, $data['code'], $detail, $requestId, $this->baseUrl);
        }
        if ($status === 401) {
            throw new ApiException($status, 'unauthorized', 'Unauthorized.', $requestId, $this->baseUrl);
        }
        throw new ApiException(
            $status,
            $status >= 500 ? ApiException::SERVER_ERROR : ApiException::HTTP_ERROR,
            self::shortText($response->body),
            $requestId,
            $this->baseUrl,
        );
    }

    private static function requestId(HttpResponse $response, ?array $data): ?string
    {
        $id = $response->header('x-request-id');
        if (($id === null || $id === '') && is_string($data['request_id'] ?? null)) {
            $id = $data['request_id'];
        }
        if ($id === null || preg_match('/^[A-Za-z0-9._:-]{1,128}$/D', $id) !== 1) {
            return null;
        }

        return $id;
    }

    private static function shortText(string $body): string
    {
        $text = trim((string) preg_replace('/\s+/', ' ', strip_tags($body)));

        return mb_strlen($text) > 200 ? mb_substr($text, 0, 200) . '…' : $text;
    }

    private static function elapsedMs(float $started): int
    {
        return (int) round((microtime(true) - $started) * 1000);
    }

    private static function truthy(mixed $value): bool
    {
        if (is_bool($value)) {
            return $value;
        }
        if (is_int($value)) {
            return $value !== 0;
        }

        return in_array(strtolower(trim((string) $value)), ['1', 'true', 'on', 'yes'], true);
    }
}
