<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\EmaArchive;

/**
 * Writes WHMCS module log entries (logModuleCall) with secrets removed twice: by key before the
 * data is handed over, and by value through logModuleCall's 6th argument ($replaceVars), which
 * WHMCS applies to the stored text. Masking by value alone would leak through any encoding
 * WHMCS does not see (e.g. a JSON-escaped password), hence the first pass.
 */
final class ModuleLogger
{
    public const MODULE = 'emaarchive';
    public const REDACTED = '[redacted]';

    /** Keys whose values are never logged, at any depth. */
    private const SECRET_KEY_PATTERN = '/password|secret|signature|accesshash|token|passwd/i';

    /** @var array<string, true> */
    private array $secrets = [];

    /** @param iterable<string|null> $secrets */
    public function __construct(iterable $secrets = [])
    {
        foreach ($secrets as $secret) {
            $this->addSecret($secret);
        }
    }

    /** A logger that masks every secret WHMCS passes to module functions. */
    public static function fromParams(array $params): self
    {
        $logger = new self();
        foreach ($params as $key => $value) {
            if (is_string($key) && self::isSecretKey($key) && is_scalar($value)) {
                $logger->addSecret((string) $value);
            }
        }

        return $logger;
    }

    public static function isSecretKey(string $key): bool
    {
        return preg_match(self::SECRET_KEY_PATTERN, $key) === 1;
    }

    public function addSecret(?string $value): void
    {
        if ($value !== null && $value !== '') {
            $this->secrets[$value] = true;
        }
    }

    /** @return list<string> the values to mask, longest first */
    public function secrets(): array
    {
        $list = array_map('strval', array_keys($this->secrets));
        usort($list, static fn (string $a, string $b): int => strlen($b) <=> strlen($a));

        return $list;
    }

    /**
     * Replaces the value of every secret-looking key by a marker and remembers the value for
     * masking. Objects are logged by class name only.
     */
    public function redact(mixed $data): mixed
    {
        if (is_array($data)) {
            $clean = [];
            foreach ($data as $key => $value) {
                if (is_string($key) && self::isSecretKey($key) && !is_array($value) && !is_object($value)) {
                    if (is_scalar($value)) {
                        $this->addSecret((string) $value);
                    }
                    $clean[$key] = self::REDACTED;
                } else {
                    $clean[$key] = $this->redact($value);
                }
            }

            return $clean;
        }
        if (is_object($data)) {
            return '(' . $data::class . ')';
        }

        return $data;
    }

    /** A raw JSON text with secret keys redacted; non-JSON text is returned as it is. */
    public function redactJsonText(string $text): string
    {
        $decoded = json_decode($text, true);
        if (!is_array($decoded)) {
            return $text;
        }

        return (string) json_encode(
            $this->redact($decoded),
            JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE,
        );
    }

    public function log(string $action, mixed $request, mixed $response, mixed $processed = ''): void
    {
        if (!function_exists('logModuleCall')) {
            return;
        }
        $request = $this->redact($request);
        $response = $this->redact($response);
        $processed = $this->redact($processed);

        try {
            logModuleCall(self::MODULE, $action, $request, $response, $processed, $this->secrets());
        } catch (\Throwable) {
            // Logging must never turn a module action into a failure.
        }
    }
}
