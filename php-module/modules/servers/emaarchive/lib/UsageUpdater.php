<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\EmaArchive;

use WHMCS\Database\Capsule;

/**
 * _UsageUpdate: one `usage` call for the whole server, then the disk columns of tblhosting
 * (megabytes, as WHMCS stores them) for every tenant created through WHMCS.
 */
final class UsageUpdater
{
    private const BYTES_PER_MB = 1048576;
    private const MB_PER_GB = 1024;

    public function __construct(
        private readonly ApiClient $client,
        private readonly ModuleLogger $logger,
    ) {
    }

    /** @return array{updated: int, skipped: int, failed: int} */
    public function run(int $serverId): array
    {
        $items = $this->client->call('usage')->data['items'] ?? [];
        $summary = ['updated' => 0, 'skipped' => 0, 'failed' => 0];
        if (!is_array($items)) {
            return $summary;
        }

        foreach ($items as $item) {
            $serviceId = is_array($item) ? ($item['service_id'] ?? null) : null;
            if (!is_int($serviceId) && !(is_string($serviceId) && ctype_digit($serviceId))) {
                // Tenants made through the REST API have no WHMCS service.
                $summary['skipped']++;
                continue;
            }
            $values = self::columns($item);
            try {
                Capsule::table('tblhosting')
                    ->where('id', (int) $serviceId)
                    ->where('server', $serverId)
                    ->update($values + ['lastupdate' => Capsule::raw('now()')]);
                $summary['updated']++;
            } catch (\Throwable $e) {
                $summary['failed']++;
                $this->logger->log(
                    'UsageUpdate',
                    ['service_id' => (int) $serviceId, 'server_id' => $serverId, 'values' => $values],
                    $e->getMessage(),
                    'tblhosting update failed',
                );
            }
        }

        return $summary;
    }

    /** @return array{diskusage: int, disklimit: int} */
    public static function columns(array $item): array
    {
        $bytes = is_numeric($item['storage_bytes'] ?? null) ? (float) $item['storage_bytes'] : 0.0;
        $limitGb = is_numeric($item['storage_limit_gb'] ?? null) ? (int) $item['storage_limit_gb'] : 0;

        return [
            'diskusage' => (int) round($bytes / self::BYTES_PER_MB),
            'disklimit' => $limitGb * self::MB_PER_GB,
        ];
    }
}
