<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\EmaArchive;

use RuntimeException;

/**
 * A daemon call that did not succeed: a problem document (RFC 9457) from the daemon, an HTTP
 * error without one, an unreadable answer, or no answer at all (status 0).
 */
final class ApiException extends RuntimeException
{
    /** No HTTP answer: connection refused, DNS or TLS failure. */
    public const UNREACHABLE = 'unreachable';
    /** No HTTP answer within the timeout; the daemon may still finish the request. */
    public const TIMEOUT = 'timeout';
    /** A 5xx answer without a problem document. */
    public const SERVER_ERROR = 'server_error';
    /** A non-2xx answer without a problem document (not ema-bridge, or a proxy in between). */
    public const HTTP_ERROR = 'http_error';
    /** A 2xx answer whose body is not a JSON object. */
    public const INVALID_RESPONSE = 'invalid_response';

    public function __construct(
        public readonly int $status,
        public readonly string $problemCode,
        public readonly string $detail,
        public readonly ?string $requestId = null,
        public readonly string $url = '',
    ) {
        $text = sprintf('HTTP %d %s: %s', $status, $problemCode, $detail);
        if ($requestId !== null) {
            $text .= ' (request ' . $requestId . ')';
        }
        parent::__construct($text);
    }

    /**
     * Whether the daemon gave a final answer for this request: the pending idempotency key can be
     * dropped. Not final: no answer, 5xx, an unreadable 2xx, 408/425/429, and 409
     * request_in_progress; the next retry must reuse the key.
     */
    public function isDefinitive(): bool
    {
        if ($this->status < 400 || $this->status >= 500) {
            return false;
        }
        if (in_array($this->status, [408, 425, 429], true)) {
            return false;
        }

        return $this->problemCode !== 'request_in_progress';
    }

    public function isNoAnswer(): bool
    {
        return $this->status === 0;
    }
}
