<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\EmaArchive;

/**
 * Plan and limits of a service: the product's module settings (configoption1..3), overridden by
 * configurable options of the same name when the client ordered them.
 */
final class PlanSettings
{
    public const PLAN_CODE = 'Plan Code';
    public const MAX_USERS = 'Max Users';
    public const STORAGE_GB = 'Storage Quota (GB)';
    private const MAX_VALUE = 2147483647;

    private function __construct(
        public readonly string $plan,
        public readonly int $maxUsers,
        public readonly int $storageGb,
    ) {
    }

    public static function fromParams(array $params): self
    {
        $overrides = is_array($params['configoptions'] ?? null) ? $params['configoptions'] : [];

        $plan = self::override($overrides, self::PLAN_CODE) ?? trim((string) ($params['configoption1'] ?? ''));
        if ($plan === '') {
            throw new UserFacingException(
                'The product\'s "Plan Code" module setting is empty; set it to an ema-bridge plan code such as "standard".'
            );
        }
        if (preg_match('/[\x00-\x1f\x7f]/', $plan) === 1 || mb_strlen($plan) > 64) {
            throw new UserFacingException(sprintf('The plan code "%s" is not valid: use a short code such as "standard".', $plan));
        }

        return new self(
            $plan,
            self::positive(self::MAX_USERS, self::override($overrides, self::MAX_USERS) ?? ($params['configoption2'] ?? '')),
            self::positive(self::STORAGE_GB, self::override($overrides, self::STORAGE_GB) ?? ($params['configoption3'] ?? '')),
        );
    }

    /** @return array{plan: string, max_users: int, storage_gb: int} */
    public function toArray(): array
    {
        return ['plan' => $this->plan, 'max_users' => $this->maxUsers, 'storage_gb' => $this->storageGb];
    }

    /** A configurable option's value, or null when it is absent, empty or zero (not chosen). */
    private static function override(array $options, string $name): ?string
    {
        $value = $options[$name] ?? null;
        if (!is_scalar($value)) {
            return null;
        }
        $value = trim((string) $value);

        return $value === '' || $value === '0' ? null : $value;
    }

    private static function positive(string $label, mixed $raw): int
    {
        $text = is_scalar($raw) ? trim((string) $raw) : '';
        if (preg_match('/^[0-9]{1,10}$/D', $text) !== 1 || (int) $text < 1 || (int) $text > self::MAX_VALUE) {
            throw new UserFacingException(sprintf(
                'The "%s" setting must be a positive whole number, not "%s"; fix it in the product\'s module settings '
                . 'or configurable options.',
                $label,
                $text,
            ));
        }

        return (int) $text;
    }
}
