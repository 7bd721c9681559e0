<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\EmaArchive;

/**
 * The tenant slug of a service: the custom field "Tenant Slug" when set, else the service's
 * domain (its first label when it is a host name), lower-cased. The daemon validates the slug;
 * it is sent as it is, so the admin sees the daemon's verdict on exactly what was entered.
 */
final class SlugResolver
{
    public const CUSTOM_FIELD = 'Tenant Slug';

    /** The daemon's slug rule, used only to word error messages. */
    private const FORMAT = '/^[a-z][a-z0-9-]{1,46}[a-z0-9]$/D';

    public static function resolve(array $params): string
    {
        $slug = self::tryResolve($params);
        if ($slug === null) {
            throw new UserFacingException(
                'This service has neither a "Tenant Slug" nor a domain, so the archive tenant cannot be named; '
                . 'fill in one of them.'
            );
        }

        return $slug;
    }

    public static function tryResolve(array $params): ?string
    {
        $custom = self::customField($params);
        if ($custom !== null) {
            return $custom;
        }
        $domain = strtolower(trim((string) ($params['domain'] ?? '')));
        $domain = rtrim($domain, '.');
        if ($domain === '') {
            return null;
        }
        $dot = strpos($domain, '.');

        return $dot === false ? $domain : substr($domain, 0, $dot);
    }

    /** The "Tenant Slug" custom field, trimmed, or null when absent or empty. */
    public static function customField(array $params): ?string
    {
        $fields = $params['customfields'] ?? null;
        if (!is_array($fields)) {
            return null;
        }
        $value = $fields[self::CUSTOM_FIELD] ?? null;
        if (!is_scalar($value)) {
            return null;
        }
        $value = trim((string) $value);

        return $value === '' ? null : $value;
    }

    public static function looksValid(string $slug): bool
    {
        return preg_match(self::FORMAT, $slug) === 1;
    }
}
