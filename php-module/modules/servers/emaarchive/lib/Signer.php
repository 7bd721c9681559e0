<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\EmaArchive;

use InvalidArgumentException;

/**
 * The EMA-HMAC-SHA256-V1 request signature (docs/signing.md). Pure functions, no I/O.
 */
final class Signer
{
    public const ALGORITHM = 'EMA-HMAC-SHA256-V1';
    public const SIGNATURE_PREFIX = 'v1=';

    private const KEY_ID_PATTERN = '/^[a-z0-9_-]{1,32}$/D';
    private const NONCE_PATTERN = '/^[0-9a-f]{32}$/D';
    private const IDEMPOTENCY_KEY_PATTERN = '/^[A-Za-z0-9:._-]{1,255}$/D';
    private const METHOD_PATTERN = '/^[A-Z]+$/D';

    public static function bodySha256(string $body): string
    {
        return hash('sha256', $body);
    }

    public static function newNonce(): string
    {
        return bin2hex(random_bytes(16));
    }

    /**
     * The nine lines of docs/signing.md section 3, joined by "\n" without a trailing newline.
     * Every field is validated so that none can contain a line feed.
     */
    public static function stringToSign(
        string $method,
        string $path,
        string $query,
        int $timestamp,
        string $nonce,
        string $keyId,
        string $idempotencyKey,
        string $bodySha256,
    ): string {
        $method = strtoupper($method);
        self::check($method, self::METHOD_PATTERN, 'method');
        if ($path === '' || $path[0] !== '/' || preg_match('/[\x00-\x20\x7f]/', $path) === 1) {
            throw new InvalidArgumentException('The path must start with "/" and contain no spaces or control characters.');
        }
        if (preg_match('/[\x00-\x20\x7f#]/', $query) === 1) {
            throw new InvalidArgumentException('The query string must contain no spaces, control characters or "#".');
        }
        if ($timestamp < 0 || $timestamp > 999_999_999_999) {
            throw new InvalidArgumentException('The timestamp must be 0 to 12 digits of Unix seconds.');
        }
        self::check($nonce, self::NONCE_PATTERN, 'nonce');
        self::check($keyId, self::KEY_ID_PATTERN, 'key id');
        if ($idempotencyKey !== '') {
            self::check($idempotencyKey, self::IDEMPOTENCY_KEY_PATTERN, 'idempotency key');
        }
        self::check($bodySha256, '/^[0-9a-f]{64}$/D', 'body hash');

        return implode("\n", [
            self::ALGORITHM,
            $method,
            $path,
            $query,
            (string) $timestamp,
            $nonce,
            $keyId,
            $idempotencyKey,
            $bodySha256,
        ]);
    }

    /** The X-Ema-Signature header value: "v1=" + lowercase hex HMAC-SHA256. */
    public static function sign(string $secret, string $stringToSign): string
    {
        if ($secret === '') {
            throw new InvalidArgumentException('The signing secret is empty.');
        }

        return self::SIGNATURE_PREFIX . hash_hmac('sha256', $stringToSign, $secret);
    }

    /** Constant-time check of an X-Ema-Signature value (used by the tests and the docs' example). */
    public static function verify(string $secret, string $stringToSign, string $signatureHeader): bool
    {
        if (preg_match('/^v1=[0-9a-f]{64}$/D', $signatureHeader) !== 1) {
            return false;
        }

        return hash_equals(self::sign($secret, $stringToSign), $signatureHeader);
    }

    public static function isValidKeyId(string $keyId): bool
    {
        return preg_match(self::KEY_ID_PATTERN, $keyId) === 1;
    }

    public static function isValidIdempotencyKey(string $key): bool
    {
        return preg_match(self::IDEMPOTENCY_KEY_PATTERN, $key) === 1;
    }

    private static function check(string $value, string $pattern, string $what): void
    {
        if (preg_match($pattern, $value) !== 1) {
            throw new InvalidArgumentException(sprintf('The %s is not valid for signing.', $what));
        }
    }
}
