<?php

declare(strict_types=1);

namespace EmaArchiveTests;

use EmaArchiveTests\Support\Fixtures;
use EmaArchiveTests\Support\ModuleLog;
use EmaArchiveTests\Support\StubTransport;
use PHPUnit\Framework\TestCase;
use WHMCS\Database\Capsule;
use WHMCS\Module\Server\EmaArchive\Module;
use WHMCS\Module\Server\EmaArchive\TenantPresenter;
use WHMCS\Service\Status;
use WHMCS\UsageBilling\Contracts\Metrics\MetricInterface;
use WHMCS\UsageBilling\Contracts\Metrics\ProviderInterface;
use WHMCS\UsageBilling\Contracts\Metrics\UnitInterface;
use WHMCS\UsageBilling\Metrics\Units\GigaBytes;

/** UsageUpdate, MetricProvider, ListAccounts and the admin/client area output. */
final class UsageReportingTest extends TestCase
{
    private StubTransport $daemon;

    protected function setUp(): void
    {
        $this->daemon = new StubTransport();
        Module::useTransport($this->daemon);
        ModuleLog::reset();
        Capsule::reset();
    }

    protected function tearDown(): void
    {
        Module::useTransport(null);
        Capsule::reset();
    }

    /** @return array<string, mixed> a UsageItem as docs/whmcs-channel.md describes it */
    private static function item(array $overrides = []): array
    {
        return $overrides + [
            'service_id' => 1001, 'slug' => 'acme', 'status' => 'active', 'users' => 3, 'active_users' => 2,
            'storage_bytes' => 123456789, 'db_bytes' => 8000000, 's3_bytes' => 115456789, 'storage_limit_gb' => 100,
            'billable' => true, 'not_billable_reason' => null, 'licences' => 2, 'measured_at' => '2026-12-03T10:00:00Z',
        ];
    }

    private function usageAnswer(array ...$items): void
    {
        $this->daemon->queue(StubTransport::json(200, ['items' => $items]));
    }

    // ---------------------------------------------------------------- UsageUpdate

    public function testUsageUpdateWritesMegabytesAndLimitsToTblhosting(): void
    {
        $this->usageAnswer(
            self::item(),
            self::item(['service_id' => 1003, 'slug' => 'globex-archive', 'storage_bytes' => 524288, 'storage_limit_gb' => 2]),
            self::item(['service_id' => null, 'slug' => 'rest-made']),
        );

        self::assertSame('success', emaarchive_UsageUpdate(Fixtures::params('usage_update')));

        self::assertSame(['usage'], $this->daemon->actions(), 'one call per server');
        self::assertSame('{}', $this->daemon->last()->body);
        self::assertCount(2, Capsule::$updates, 'the REST-made tenant without service_id is skipped');
        [$first, $second] = Capsule::$updates;
        self::assertSame('tblhosting', $first['table']);
        self::assertSame([['id', '=', 1001], ['server', '=', 3]], $first['wheres']);
        self::assertSame(118, $first['values']['diskusage'], '123456789 bytes = 117.7 MB, rounded');
        self::assertSame(102400, $first['values']['disklimit']);
        self::assertSame('now()', $first['values']['lastupdate']->getValue());
        self::assertSame([['id', '=', 1003], ['server', '=', 3]], $second['wheres']);
        self::assertSame(['diskusage' => 1, 'disklimit' => 2048], array_diff_key($second['values'], ['lastupdate' => 1]));
    }

    public function testUsageUpdateLogsDatabaseFailuresWithoutThrowing(): void
    {
        $this->usageAnswer(self::item());
        Capsule::$failure = new \RuntimeException('SQLSTATE[HY000]: General error');

        $result = emaarchive_UsageUpdate(Fixtures::params('usage_update'));

        self::assertSame('Usage was updated for 0 services, 1 updates failed (see the Module Log).', $result);
        self::assertContains('UsageUpdate', ModuleLog::actions());
        self::assertStringContainsString('General error', ModuleLog::visibleText());
    }

    public function testUsageUpdateWhenTheDaemonIsDown(): void
    {
        $this->daemon->queue(StubTransport::problem(503, 'unavailable', 'Starting up.', 'r1'));

        self::assertSame('The archive refused the request: Starting up. (request r1)', emaarchive_UsageUpdate(Fixtures::params('usage_update')));
        self::assertSame([], Capsule::$updates);
    }

    // ---------------------------------------------------------------- MetricProvider

    public function testMetricsAreDeclaredWithoutAnyRemoteCall(): void
    {
        $provider = emaarchive_MetricProvider([]);
        self::assertInstanceOf(ProviderInterface::class, $provider);

        $metrics = $provider->metrics();

        self::assertSame([], $this->daemon->requests);
        self::assertSame(['active_users', 'storage'], array_keys($metrics));
        self::assertSame('active_users', $metrics['active_users']->systemName());
        self::assertSame(MetricInterface::TYPE_SNAPSHOT, $metrics['active_users']->type());
        self::assertSame(UnitInterface::TYPE_INT, $metrics['active_users']->units()->type());
        self::assertSame('Users', $metrics['active_users']->units()->name());
        self::assertSame('storage', $metrics['storage']->systemName());
        self::assertSame(MetricInterface::TYPE_SNAPSHOT, $metrics['storage']->type());
        self::assertInstanceOf(GigaBytes::class, $metrics['storage']->units());
    }

    public function testUsageIsOneCallKeyedBySlugInWhmcsUnits(): void
    {
        $this->usageAnswer(
            self::item(['storage_bytes' => 5368709120]),
            self::item(['service_id' => null, 'slug' => 'sandbox-co', 'status' => 'active', 'active_users' => 7, 'storage_bytes' => 0, 'billable' => false, 'not_billable_reason' => 'sandbox']),
            self::item(['service_id' => 1005, 'slug' => 'paused', 'status' => 'suspended', 'active_users' => 4, 'billable' => false, 'not_billable_reason' => 'suspended']),
        );
        $provider = emaarchive_MetricProvider(Fixtures::params('metric_provider'));

        $usage = $provider->usage();

        self::assertSame(['acme', 'sandbox-co', 'paused'], array_keys($usage), 'non-billable tenants still report');
        self::assertSame(2.0, $usage['acme']['active_users']->usage()->value());
        self::assertSame(5.0, $usage['acme']['storage']->usage()->value());
        self::assertSame(7.0, $usage['sandbox-co']['active_users']->usage()->value());
        self::assertSame(4.0, $usage['paused']['active_users']->usage()->value());

        $tenant = $provider->tenantUsage('paused');
        self::assertSame(['active_users', 'storage'], array_keys($tenant));
        self::assertSame([], $provider->tenantUsage('nobody'));
        self::assertSame(['usage'], $this->daemon->actions(), 'tenantUsage reuses the same data');
    }

    public function testTenantUsageAloneMakesOneCall(): void
    {
        $this->usageAnswer(self::item(['active_users' => 11]));
        $provider = emaarchive_MetricProvider(Fixtures::params('metric_provider'));

        self::assertSame(11.0, $provider->tenantUsage('acme')['active_users']->usage()->value());
        self::assertSame(11.0, $provider->tenantUsage('acme')['active_users']->usage()->value());
        self::assertCount(1, $this->daemon->requests);
    }

    // ---------------------------------------------------------------- ListAccounts

    public function testListAccountsUsesTheServerSyncShape(): void
    {
        $this->daemon->queue(StubTransport::json(200, ['items' => [
            StubTransport::tenant(),
            StubTransport::tenant(['slug' => 'paused', 'url' => 'https://paused.archive.example', 'status' => 'suspended', 'plan' => 'pro']),
            StubTransport::tenant(['slug' => 'gone', 'status' => 'suspended', 'deletion_requested' => true]),
            StubTransport::tenant(['slug' => 'new', 'status' => 'provisioning', 'created_at' => '2026-12-03T11:30:15+01:00']),
        ]]));
        $params = Fixtures::params('list_accounts', ['serverip' => '192.0.2.10']);

        $result = emaarchive_ListAccounts($params);

        self::assertTrue($result['success']);
        self::assertCount(4, $result['accounts']);
        self::assertSame([
            'name' => 'Acme Corp',
            'email' => '',
            'username' => 'acme',
            'domain' => 'acme.archive.example',
            'uniqueIdentifier' => 'acme',
            'product' => 'standard',
            'primaryip' => '192.0.2.10',
            'created' => '2026-12-03 09:00:00',
            'status' => Status::ACTIVE,
        ], $result['accounts'][0]);
        self::assertSame(Status::SUSPENDED, $result['accounts'][1]['status']);
        self::assertSame('pro', $result['accounts'][1]['product']);
        self::assertSame(Status::TERMINATED, $result['accounts'][2]['status']);
        self::assertSame(Status::PENDING, $result['accounts'][3]['status']);
        self::assertSame('2026-12-03 10:30:15', $result['accounts'][3]['created']);
    }

    // ---------------------------------------------------------------- admin and client area

    public function testAdminServicesTabShowsTheTenant(): void
    {
        $this->daemon->queue(StubTransport::json(200, ['tenant' => StubTransport::tenant([
            'name' => 'Acme <b>Corp</b>', 'status' => 'suspended', 'suspended_at' => '2026-12-04T08:15:00Z',
            'suspension_reason' => 'Overdue on payment', 'deletion_requested' => true, 'storage_bytes' => 1610612736,
            'db_bytes' => 8000000, 's3_bytes' => 1602612736, 'users' => 12, 'active_users' => 9, 'max_users' => 50,
            'storage_gb' => 100, 'plan' => 'pro',
        ])]));

        $fields = emaarchive_AdminServicesTabFields(Fixtures::params('admin_services_tab_fields'));

        self::assertSame(['service_id' => 1001], $this->daemon->lastBody());
        self::assertSame('Acme &lt;b&gt;Corp&lt;/b&gt; (acme)', $fields['Archive Tenant']);
        self::assertSame('<a href="https://acme.archive.example" target="_blank" rel="noopener noreferrer">https://acme.archive.example</a>', $fields['Archive URL']);
        self::assertSame('Suspended since 2026-12-04 08:15 UTC (Overdue on payment)', $fields['Archive Status']);
        self::assertSame('12 users, 9 active (plan allows 50)', $fields['Archive Users']);
        self::assertSame('1.5 GB of 100 GB (files 1.49 GB, database 7.63 MB)', $fields['Archive Storage']);
        self::assertSame('pro: up to 50 users and 100 GB', $fields['Archive Plan']);
        self::assertSame('No (suspended)', $fields['Archive Billable']);
        self::assertStringStartsWith('Yes: support has a deletion request', $fields['Deletion Requested']);
    }

    public function testAdminServicesTabWithoutTenantSaysSo(): void
    {
        $this->daemon->queue(StubTransport::problem(404, 'not_found', 'No tenant.', 'r2'));

        self::assertSame(
            ['EMA Archive' => 'No archive tenant is linked to WHMCS service #1001 yet; run &quot;Create&quot; first. (request r2)'],
            emaarchive_AdminServicesTabFields(Fixtures::params('admin_services_tab_fields')),
        );
    }

    public function testBillableFlag(): void
    {
        self::assertSame('Yes', (new TenantPresenter(StubTransport::tenant()))->billableText());
        self::assertSame('No (sandbox tenant)', (new TenantPresenter(StubTransport::tenant(['sandbox' => true])))->billableText());
        self::assertSame('No (suspended)', (new TenantPresenter(StubTransport::tenant(['status' => 'suspended'])))->billableText());
    }

    /** @return array<string, array{0: int, 1: string}> */
    public static function sizes(): array
    {
        return [
            'zero' => [0, '0 B'], 'bytes' => [1023, '1023 B'], 'kilobytes' => [123456, '120.6 KB'],
            'megabytes' => [8000000, '7.63 MB'], 'gigabytes' => [5368709120, '5 GB'], 'terabytes' => [3298534883328, '3 TB'],
        ];
    }

    /** @dataProvider sizes */
    public function testHumanSizes(int $bytes, string $text): void
    {
        self::assertSame($text, TenantPresenter::humanBytes($bytes));
    }

    public function testClientAreaUsesTheOverviewTemplate(): void
    {
        $this->daemon->queue(StubTransport::json(200, ['tenant' => StubTransport::tenant()]));

        $output = emaarchive_ClientArea(Fixtures::params('client_area'));

        self::assertSame('templates/overview.tpl', $output['tabOverviewReplacementTemplate']);
        $vars = $output['templateVariables'];
        self::assertSame('https://acme.archive.example', $vars['url']);
        self::assertSame('active', $vars['status']);
        self::assertSame('Active', $vars['statusLabel']);
        self::assertSame(3, $vars['users']);
        self::assertSame(2, $vars['activeUsers']);
        self::assertSame('7.75 MB', $vars['storageUsed']);
        self::assertSame('50 GB', $vars['storageLimit']);
        self::assertSame('', $vars['errorMessage']);
        self::assertFileExists(dirname(__DIR__) . '/modules/servers/emaarchive/templates/overview.tpl');
    }

    public function testClientAreaHidesTechnicalDetailsFromClients(): void
    {
        $this->daemon->queue(StubTransport::problem(401, 'unauthorized', 'Unauthorized.', 'r3'));

        $vars = emaarchive_ClientArea(Fixtures::params('client_area'))['templateVariables'];

        self::assertSame('The archive details are not available right now; please try again later. (request r3)', $vars['errorMessage']);
    }

    public function testTheTemplateEscapesEveryVariable(): void
    {
        $template = (string) file_get_contents(dirname(__DIR__) . '/modules/servers/emaarchive/templates/overview.tpl');
        preg_match_all('/\{\$(\w+)([^}]*)\}/', $template, $uses, PREG_SET_ORDER);
        self::assertNotEmpty($uses);
        foreach ($uses as [$whole, $name, $modifiers]) {
            self::assertStringContainsString('|escape', $modifiers, $whole . ' must be escaped');
        }
    }
}
