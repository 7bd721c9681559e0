<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\EmaArchive;

use WHMCS\UsageBilling\Contracts\Metrics\MetricInterface;
use WHMCS\UsageBilling\Contracts\Metrics\ProviderInterface;
use WHMCS\UsageBilling\Metrics\Metric;
use WHMCS\UsageBilling\Metrics\Units\GigaBytes;
use WHMCS\UsageBilling\Metrics\Units\WholeNumber;
use WHMCS\UsageBilling\Metrics\Usage;

/**
 * WHMCS usage billing metrics: active users and storage of every tenant, keyed by tenant slug
 * (the module's ListAccountsUniqueIdentifierField, custom field "Tenant Slug").
 *
 * Suspended and sandbox tenants still report usage: WHMCS decides what it bills; the admin
 * service tab shows whether the daemon considers the tenant billable.
 */
final class MetricsProvider implements ProviderInterface
{
    public const ACTIVE_USERS = 'active_users';
    public const STORAGE = 'storage';
    private const BYTES_PER_GB = 1073741824;

    /** @var array<string, array<string, mixed>>|null usage items by slug, fetched once */
    private ?array $items = null;

    public function __construct(
        private readonly array $params,
        private ?ApiClient $client = null,
        private ?ModuleLogger $logger = null,
    ) {
    }

    /** No remote call: WHMCS asks for this in product contexts without a server. */
    public function metrics(): array
    {
        return [
            self::ACTIVE_USERS => new Metric(
                self::ACTIVE_USERS,
                'Active Users',
                MetricInterface::TYPE_SNAPSHOT,
                new WholeNumber('Users', 'User', 'Users'),
            ),
            self::STORAGE => new Metric(
                self::STORAGE,
                'Archive Storage',
                MetricInterface::TYPE_SNAPSHOT,
                new GigaBytes('Storage'),
            ),
        ];
    }

    /** One `usage` call for the whole server; keyed by tenant slug. */
    public function usage(): array
    {
        $usage = [];
        foreach ($this->items() as $slug => $item) {
            $usage[$slug] = $this->wrap($item);
        }

        return $usage;
    }

    public function tenantUsage($tenant): array
    {
        $items = $this->items();
        $key = is_scalar($tenant) ? (string) $tenant : '';

        return isset($items[$key]) ? $this->wrap($items[$key]) : [];
    }

    /** @return array<string, array<string, mixed>> */
    private function items(): array
    {
        if ($this->items !== null) {
            return $this->items;
        }
        $this->items = [];
        try {
            $this->logger ??= ModuleLogger::fromParams($this->params);
            $this->client ??= Module::client($this->params, $this->logger);
            $items = $this->client->call('usage')->data['items'] ?? [];
        } catch (\Throwable $e) {
            // The cron polls every server; one unreachable daemon must not stop the others.
            $this->logger?->log('MetricProvider', ['server' => $this->params['serverhostname'] ?? ''], $e->getMessage(), ErrorMessages::forThrowable($e));
            return $this->items;
        }
        foreach (is_array($items) ? $items : [] as $item) {
            if (is_array($item) && is_string($item['slug'] ?? null) && $item['slug'] !== '') {
                $this->items[$item['slug']] = $item;
            }
        }

        return $this->items;
    }

    /** @return array<string, MetricInterface> */
    private function wrap(array $item): array
    {
        $values = [
            self::ACTIVE_USERS => is_numeric($item['active_users'] ?? null) ? (float) $item['active_users'] : 0.0,
            self::STORAGE => is_numeric($item['storage_bytes'] ?? null)
                ? round((float) $item['storage_bytes'] / self::BYTES_PER_GB, 6)
                : 0.0,
        ];
        $metrics = [];
        foreach ($this->metrics() as $name => $metric) {
            $metrics[$name] = $metric->withUsage(new Usage($values[$name]));
        }

        return $metrics;
    }
}
