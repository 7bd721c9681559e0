<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\EmaArchive;

/**
 * The idempotency key of the service's pending daemon request, kept in the service property
 * "EMA Pending Request" as "<action>:<32 hex>" until the daemon gives a definitive answer, so a
 * retry after a timeout or a 5xx reuses it (docs/whmcs-channel.md, Idempotency).
 */
final class PendingRequest
{
    public const PROPERTY = 'EMA Pending Request';

    public function __construct(private readonly ?object $model)
    {
    }

    public static function fromParams(array $params): self
    {
        $model = $params['model'] ?? null;

        return new self(is_object($model) ? $model : null);
    }

    /** The stored key when it belongs to $action, else a new key, stored before it is used. */
    public function keyFor(string $action): string
    {
        $stored = $this->stored();
        if ($stored !== null && preg_match('/^' . preg_quote($action, '/') . ':[0-9a-f]{32}$/D', $stored) === 1) {
            return $stored;
        }

        return $this->renew($action);
    }

    /** Replaces the key by a new one (after the daemon said the old one was used for another body). */
    public function renew(string $action): string
    {
        $key = $action . ':' . bin2hex(random_bytes(16));
        $this->save($key);

        return $key;
    }

    public function clear(): void
    {
        if ($this->stored() !== null) {
            $this->save('');
        }
    }

    private function stored(): ?string
    {
        $properties = $this->properties();
        if ($properties === null) {
            return null;
        }
        $value = $properties->get(self::PROPERTY);
        if (!is_scalar($value) || trim((string) $value) === '') {
            return null;
        }

        return trim((string) $value);
    }

    private function save(string $value): void
    {
        $this->properties()?->save([self::PROPERTY => $value]);
    }

    private function properties(): ?object
    {
        if ($this->model === null) {
            return null;
        }
        // Read the (magic, on WHMCS's Eloquent model) property directly: isset()/?? would ask
        // __isset, which need not know about it.
        $properties = $this->model->serviceProperties;

        return is_object($properties) ? $properties : null;
    }
}
