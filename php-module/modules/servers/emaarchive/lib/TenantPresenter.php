<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\EmaArchive;

use DateTimeImmutable;
use DateTimeZone;

/** Formats a TenantView for the admin service tab and the client area. */
final class TenantPresenter
{
    private const STATUS_LABELS = [
        'provisioning' => 'Provisioning',
        'active' => 'Active',
        'suspended' => 'Suspended',
        'failed' => 'Failed (creation did not finish)',
    ];

    /** @param array<string, mixed> $tenant */
    public function __construct(private readonly array $tenant)
    {
    }

    /** @return array<string, string> label => HTML, as AdminServicesTabFields returns */
    public function adminFields(): array
    {
        $t = $this->tenant;
        $url = $this->string('url');
        $fields = [
            'Archive Tenant' => self::html(sprintf('%s (%s)', $this->string('name'), $this->string('slug'))),
            'Archive URL' => $url === ''
                ? '-'
                : sprintf('<a href="%1$s" target="_blank" rel="noopener noreferrer">%1$s</a>', self::html($url)),
            'Archive Status' => self::html($this->statusText()),
            'Archive Users' => self::html(sprintf(
                '%d users, %d active (plan allows %d)',
                $this->int('users'),
                $this->int('active_users'),
                $this->int('max_users'),
            )),
            'Archive Storage' => self::html(sprintf(
                '%s of %s (files %s, database %s)',
                self::humanBytes($this->int('storage_bytes')),
                self::humanGigabytes($this->int('storage_gb')),
                self::humanBytes($this->int('s3_bytes')),
                self::humanBytes($this->int('db_bytes')),
            )),
            'Archive Plan' => self::html(sprintf(
                '%s: up to %d users and %s',
                $this->string('plan'),
                $this->int('max_users'),
                self::humanGigabytes($this->int('storage_gb')),
            )),
            'Archive Billable' => self::html($this->billableText()),
            'Usage Measured' => self::html(self::dateText($t['usage_measured_at'] ?? null) ?? 'not measured yet'),
            'Deletion Requested' => self::html(($t['deletion_requested'] ?? false) === true
                ? 'Yes: support has a deletion request for this tenant (its data is kept until support deletes it)'
                : 'No'),
        ];

        return $fields;
    }

    /** @return array<string, mixed> variables of templates/overview.tpl */
    public function clientVars(): array
    {
        return [
            'errorMessage' => '',
            'tenantName' => $this->string('name'),
            'slug' => $this->string('slug'),
            'url' => $this->string('url'),
            'status' => $this->string('status'),
            'statusLabel' => self::STATUS_LABELS[$this->string('status')] ?? ucfirst($this->string('status')),
            'users' => $this->int('users'),
            'activeUsers' => $this->int('active_users'),
            'maxUsers' => $this->int('max_users'),
            'storageUsed' => self::humanBytes($this->int('storage_bytes')),
            'storageLimit' => self::humanGigabytes($this->int('storage_gb')),
            'plan' => $this->string('plan'),
            'usageMeasuredAt' => self::dateText($this->tenant['usage_measured_at'] ?? null) ?? '',
        ];
    }

    /** "Yes", "No (suspended)" or "No (sandbox tenant)", as the daemon's usage feed decides billing. */
    public function billableText(): string
    {
        if (($this->tenant['sandbox'] ?? false) === true) {
            return 'No (sandbox tenant)';
        }
        if ($this->string('status') === 'suspended') {
            return 'No (suspended)';
        }

        return 'Yes';
    }

    public static function humanBytes(int $bytes): string
    {
        $units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
        $value = (float) max(0, $bytes);
        $unit = 0;
        while ($value >= 1024 && $unit < count($units) - 1) {
            $value /= 1024;
            $unit++;
        }
        if ($unit === 0) {
            return sprintf('%d B', (int) $value);
        }
        $text = number_format($value, $value < 10 ? 2 : 1, '.', ',');

        return rtrim(rtrim($text, '0'), '.') . ' ' . $units[$unit];
    }

    public static function humanGigabytes(int $gigabytes): string
    {
        return $gigabytes >= 1024 && $gigabytes % 1024 === 0
            ? sprintf('%d TB', intdiv($gigabytes, 1024))
            : sprintf('%d GB', $gigabytes);
    }

    private function statusText(): string
    {
        $status = $this->string('status');
        $text = self::STATUS_LABELS[$status] ?? ucfirst($status);
        if ($status === 'suspended') {
            $since = self::dateText($this->tenant['suspended_at'] ?? null);
            $reason = $this->string('suspension_reason');
            $text .= $since !== null ? ' since ' . $since : '';
            $text .= $reason !== '' ? ' (' . $reason . ')' : '';
        }

        return $text;
    }

    private static function dateText(mixed $iso): ?string
    {
        if (!is_string($iso) || $iso === '') {
            return null;
        }
        try {
            return (new DateTimeImmutable($iso))->setTimezone(new DateTimeZone('UTC'))->format('Y-m-d H:i') . ' UTC';
        } catch (\Exception) {
            return $iso;
        }
    }

    private function string(string $key): string
    {
        $value = $this->tenant[$key] ?? '';

        return is_scalar($value) ? (string) $value : '';
    }

    private function int(string $key): int
    {
        $value = $this->tenant[$key] ?? 0;

        return is_numeric($value) ? (int) $value : 0;
    }

    private static function html(string $text): string
    {
        return htmlspecialchars($text, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
    }
}
