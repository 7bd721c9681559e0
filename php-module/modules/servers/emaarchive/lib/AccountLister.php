<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\EmaArchive;

use DateTimeImmutable;
use DateTimeZone;

/** _ListAccounts (Server Sync): the reseller's tenants in the shape WHMCS documents. */
final class AccountLister
{
    public function __construct(private readonly ApiClient $client, private readonly array $params)
    {
    }

    /** @return list<array<string, string>> */
    public function accounts(): array
    {
        $items = $this->client->call('list_accounts')->data['items'] ?? [];
        $accounts = [];
        foreach (is_array($items) ? $items : [] as $tenant) {
            if (is_array($tenant) && is_string($tenant['slug'] ?? null)) {
                $accounts[] = $this->account($tenant);
            }
        }

        return $accounts;
    }

    /** @return array<string, string> */
    private function account(array $tenant): array
    {
        $slug = $tenant['slug'];
        $url = is_string($tenant['url'] ?? null) ? $tenant['url'] : '';
        $host = (string) (parse_url($url, PHP_URL_HOST) ?? '');

        return [
            'name' => is_string($tenant['name'] ?? null) ? $tenant['name'] : $slug,
            'email' => '',
            'username' => $slug,
            'domain' => $host,
            'uniqueIdentifier' => $slug,
            'product' => is_string($tenant['plan'] ?? null) ? $tenant['plan'] : '',
            'primaryip' => (string) ($this->params['serverip'] ?? ''),
            'created' => self::created($tenant['created_at'] ?? null),
            'status' => self::status($tenant),
        ];
    }

    private static function created(mixed $iso): string
    {
        if (!is_string($iso) || $iso === '') {
            return '';
        }
        try {
            return (new DateTimeImmutable($iso))->setTimezone(new DateTimeZone('UTC'))->format('Y-m-d H:i:s');
        } catch (\Exception) {
            return '';
        }
    }

    /** WHMCS service statuses (WHMCS\Service\Status constants when WHMCS provides them). */
    private static function status(array $tenant): string
    {
        if (($tenant['deletion_requested'] ?? false) === true) {
            return self::constant('TERMINATED', 'Terminated');
        }

        return match ($tenant['status'] ?? '') {
            'active' => self::constant('ACTIVE', 'Active'),
            'suspended' => self::constant('SUSPENDED', 'Suspended'),
            default => self::constant('PENDING', 'Pending'),
        };
    }

    private static function constant(string $name, string $fallback): string
    {
        $qualified = '\\WHMCS\\Service\\Status::' . $name;

        return defined($qualified) ? (string) constant($qualified) : $fallback;
    }
}
