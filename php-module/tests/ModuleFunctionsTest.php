<?php

declare(strict_types=1);

namespace EmaArchiveTests;

use EmaArchiveTests\Support\Fixtures;
use EmaArchiveTests\Support\ModuleLog;
use EmaArchiveTests\Support\StubTransport;
use EmaArchiveTests\Whmcs\ServiceModel;
use PHPUnit\Framework\TestCase;
use WHMCS\Database\Capsule;
use WHMCS\Module\Server\EmaArchive\Http\TransportException;
use WHMCS\Module\Server\EmaArchive\Module;
use WHMCS\Module\Server\EmaArchive\PendingRequest;

/** The lifecycle functions of emaarchive.php against a stub daemon. */
final class ModuleFunctionsTest extends TestCase
{
    private const KEY_PATTERN = '/^%s:[0-9a-f]{32}$/D';

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
    }

    private function tenantAnswer(array $overrides = [], int $status = 200, string $requestId = 'req-0001'): \WHMCS\Module\Server\EmaArchive\Http\HttpResponse
    {
        return StubTransport::json($status, ['tenant' => StubTransport::tenant($overrides)], $requestId);
    }

    private static function properties(array $params): array
    {
        return $params['model']->serviceProperties->values;
    }

    // ---------------------------------------------------------------- MetaData, ConfigOptions

    public function testMetaData(): void
    {
        self::assertSame([
            'DisplayName' => 'EMA Archive',
            'APIVersion' => '1.1',
            'RequiresServer' => true,
            'DefaultNonSSLPort' => '8080',
            'DefaultSSLPort' => '443',
            'ServiceSingleSignOnLabel' => 'Log in to EMA Archive',
            'ListAccountsUniqueIdentifierDisplayName' => 'Tenant Slug',
            'ListAccountsUniqueIdentifierField' => 'customfield.Tenant Slug',
            'ListAccountsProductField' => 'configoption1',
        ], emaarchive_MetaData());
    }

    public function testConfigOptionsHaveAFixedOrderAndDefaults(): void
    {
        $options = emaarchive_ConfigOptions();
        self::assertSame(['Plan Code', 'Max Users', 'Storage Quota (GB)'], array_keys($options));
        self::assertSame(['standard', '25', '50'], array_column(array_values($options), 'Default'));
        self::assertSame(['text', 'text', 'text'], array_column(array_values($options), 'Type'));
        self::assertSame(array_keys($options), array_column(array_values($options), 'FriendlyName'));
    }

    // ---------------------------------------------------------------- CreateAccount

    public function testCreateSendsExactlyTheContractFields(): void
    {
        $this->daemon->queue($this->tenantAnswer(status: 201));
        $params = Fixtures::params('create_account');

        self::assertSame('success', emaarchive_CreateAccount($params));

        self::assertSame(['create_account'], $this->daemon->actions());
        self::assertSame([
            'service_id' => 1001,
            'slug' => 'acme',
            'name' => 'Acme Corp',
            'plan' => 'standard',
            'max_users' => 25,
            'storage_gb' => 50,
            'admin' => ['email' => 'jane.doe@acme.example', 'password' => 'Xq7!pL2#vR9zT4'],
        ], $this->daemon->lastBody());
        self::assertSame('http://archive.test:8443/whmcs/v1/create_account', $this->daemon->last()->url);
        self::assertMatchesRegularExpression(sprintf(self::KEY_PATTERN, 'create_account'), (string) $this->daemon->last()->header('Idempotency-Key'));
    }

    public function testCreateSavesTheSlugAndClearsThePendingKey(): void
    {
        $this->daemon->queue($this->tenantAnswer(['slug' => 'acme'], 201));
        $params = Fixtures::params('create_account');

        emaarchive_CreateAccount($params);

        $properties = $params['model']->serviceProperties;
        self::assertSame('acme', $properties->get('Tenant Slug'));
        self::assertSame('', $properties->get('EMA Pending Request'));
        self::assertContains(['Tenant Slug' => 'acme'], $properties->saves);
        self::assertSame($this->daemon->last()->header('Idempotency-Key'), $properties->saves[0]['EMA Pending Request'], 'key stored before sending');
    }

    public function testCreateWithoutAModelStillWorks(): void
    {
        $this->daemon->queue($this->tenantAnswer());
        $params = Fixtures::params('create_account');
        unset($params['model']);

        self::assertSame('success', emaarchive_CreateAccount($params));
        self::assertMatchesRegularExpression(sprintf(self::KEY_PATTERN, 'create_account'), (string) $this->daemon->last()->header('Idempotency-Key'));
    }

    /** @return array<string, array{0: array<string, string>, 1: string}> */
    public static function clientNames(): array
    {
        return [
            'company' => [['companyname' => 'Acme Corp', 'firstname' => 'Jane', 'lastname' => 'Doe'], 'Acme Corp'],
            'person' => [['companyname' => '  ', 'firstname' => 'Jane', 'lastname' => 'Doe'], 'Jane Doe'],
            'first name only' => [['companyname' => '', 'firstname' => 'Jane', 'lastname' => ''], 'Jane'],
            'nothing: the slug' => [['companyname' => '', 'firstname' => '', 'lastname' => ''], 'acme'],
        ];
    }

    /** @dataProvider clientNames */
    public function testTenantNameComesFromTheClient(array $client, string $expected): void
    {
        $this->daemon->queue($this->tenantAnswer());
        $params = Fixtures::params('create_account');
        $params['clientsdetails'] = $client + $params['clientsdetails'];

        emaarchive_CreateAccount($params);

        self::assertSame($expected, $this->daemon->lastBody()['name']);
    }

    /** @return array<string, array{0: string, 1: string, 2: string}> */
    public static function slugSources(): array
    {
        return [
            'custom field wins' => ['globex-archive', 'globex.example.org', 'globex-archive'],
            'custom field sent as entered' => ['Acme_Corp', 'acme.example.com', 'Acme_Corp'],
            'custom field trimmed' => ['  spaced  ', 'acme.example.com', 'spaced'],
            'domain first label' => ['', 'acme.example.com', 'acme'],
            'domain lower-cased' => ['', 'Acme_Corp.Example.com', 'acme_corp'],
            'domain without dot' => ['', 'AcmeArchive', 'acmearchive'],
            'domain with trailing dot' => ['', 'initech.example.com.', 'initech'],
        ];
    }

    /** @dataProvider slugSources */
    public function testSlugResolution(string $customField, string $domain, string $expected): void
    {
        $this->daemon->queue($this->tenantAnswer(['slug' => $expected]));
        $params = Fixtures::params('create_account', ['domain' => $domain, 'customfields' => ['Tenant Slug' => $customField]]);

        emaarchive_CreateAccount($params);

        self::assertSame($expected, $this->daemon->lastBody()['slug']);
    }

    public function testNoSlugSourceGivesASentence(): void
    {
        $params = Fixtures::params('create_account', ['domain' => '', 'customfields' => []]);

        self::assertSame(
            'This service has neither a "Tenant Slug" nor a domain, so the archive tenant cannot be named; fill in one of them.',
            emaarchive_CreateAccount($params),
        );
        self::assertSame([], $this->daemon->requests);
    }

    /** @return array<string, array{0: string, 1: \Closure, 2: string}> */
    public static function createErrors(): array
    {
        return [
            'slug_invalid' => [
                'create_account_bad_slug',
                static fn () => StubTransport::problem(422, 'slug_invalid', 'The slug must be 3-48 characters of a-z, 0-9 and -.', '7f3c9a'),
                'The tenant slug "acme_corp" is not valid: use 3-48 lowercase letters, digits or hyphens, starting with a letter. (request 7f3c9a)',
            ],
            'slug_invalid for a reserved word' => [
                'create_account',
                static fn () => StubTransport::problem(422, 'slug_invalid', 'The slug "acme" is a reserved word.', 'r1'),
                'The slug "acme" is a reserved word. Set another "Tenant Slug" on this service. (request r1)',
            ],
            'slug_taken' => [
                'create_account_slug_taken',
                static fn () => StubTransport::problem(409, 'slug_taken', 'The slug "acme" is already used by another tenant.', 'a1b2c3'),
                'The tenant slug "acme" is already used by another archive tenant; set a different "Tenant Slug" on this service and try again. (request a1b2c3)',
            ],
            'service_conflict' => [
                'create_account_custom_slug',
                static fn () => StubTransport::problem(409, 'service_conflict', 'Service 1003 already owns the tenant "globex".', 'r2'),
                'This WHMCS service #1003 is already linked to another archive tenant, so it cannot also become "globex-archive"; put that tenant\'s slug in the "Tenant Slug" field. (request r2)',
            ],
            'unauthorized' => [
                'create_account',
                static fn () => StubTransport::problem(401, 'unauthorized', 'Unauthorized.', 'r3'),
                'The archive daemon refused this server\'s credentials: check that the server\'s Username is the ema-bridge key id and its Password the signing secret, and that the WHMCS server\'s clock is correct. (request r3)',
            ],
            'request_in_progress' => [
                'create_account',
                static fn () => StubTransport::problem(409, 'request_in_progress', 'A request with this key is still running.', 'r4'),
                'The archive is still working on this request; try again in a minute. (request r4)',
            ],
            'validation_failed' => [
                'create_account',
                static fn () => StubTransport::problem(422, 'validation_failed', 'Unknown plan "standard".', 'r5'),
                'The archive rejected the request: Unknown plan "standard". (request r5)',
            ],
            'unreachable' => [
                'create_account',
                static fn () => new TransportException('Failed to connect to archive.test port 8443: Connection refused'),
                'The archive daemon at http://archive.test:8443 could not be reached (Failed to connect to archive.test port 8443: Connection refused); check the server\'s hostname, port and "Secure" setting.',
            ],
            'daemon error' => [
                'create_account',
                static fn () => new \WHMCS\Module\Server\EmaArchive\Http\HttpResponse(500, [], 'oops'),
                'The archive daemon had an internal error (HTTP 500); try again later, retrying is safe.',
            ],
        ];
    }

    /** @dataProvider createErrors */
    public function testCreateErrorsBecomeAdminSentences(string $fixture, \Closure $answer, string $sentence): void
    {
        $this->daemon->queue($answer());

        self::assertSame($sentence, emaarchive_CreateAccount(Fixtures::params($fixture)));
    }

    public function testCustomSlugIsSentAsIs(): void
    {
        $this->daemon->queue(StubTransport::problem(422, 'slug_invalid', 'Invalid slug.', 'r9'));
        $params = Fixtures::params('create_account', ['customfields' => ['Tenant Slug' => 'Acme_1']]);

        self::assertSame(
            'The tenant slug "Acme_1" is not valid: use 3-48 lowercase letters, digits or hyphens, starting with a letter. (request r9)',
            emaarchive_CreateAccount($params),
        );
        self::assertSame('Acme_1', $this->daemon->lastBody()['slug']);
    }

    public function testCreateOfATenantStillProvisioningIsNotSuccess(): void
    {
        $this->daemon->queue($this->tenantAnswer(['status' => 'provisioning'], 201, 'r6'));
        $params = Fixtures::params('create_account');

        self::assertSame('The archive is still preparing tenant "acme"; try again in a minute. (request r6)', emaarchive_CreateAccount($params));
        self::assertSame('acme', self::properties($params)['Tenant Slug']);
    }

    public function testCreateOfAFailedTenantIsNotSuccess(): void
    {
        $this->daemon->queue($this->tenantAnswer(['status' => 'failed'], 200, 'r7'));

        self::assertSame(
            'The archive could not finish creating tenant "acme"; try again to resume it, or contact support. (request r7)',
            emaarchive_CreateAccount(Fixtures::params('create_account')),
        );
    }

    public function testCreateNeedsTheClientEmail(): void
    {
        $params = Fixtures::params('create_account');
        $params['clientsdetails']['email'] = '';

        self::assertStringStartsWith('The client has no email address', emaarchive_CreateAccount($params));
        self::assertSame([], $this->daemon->requests);
    }

    // ---------------------------------------------------------------- settings

    /** @return array<string, array{0: array<string, mixed>, 1: string}> */
    public static function badSettings(): array
    {
        return [
            'max users text' => [['configoption2' => 'lots'], 'The "Max Users" setting must be a positive whole number, not "lots"; fix it in the product\'s module settings or configurable options.'],
            'max users zero' => [['configoption2' => '0'], 'The "Max Users" setting must be a positive whole number, not "0"; fix it in the product\'s module settings or configurable options.'],
            'max users negative' => [['configoption2' => '-5'], 'The "Max Users" setting must be a positive whole number, not "-5"; fix it in the product\'s module settings or configurable options.'],
            'storage decimal' => [['configoption3' => '1.5'], 'The "Storage Quota (GB)" setting must be a positive whole number, not "1.5"; fix it in the product\'s module settings or configurable options.'],
            'storage empty' => [['configoption3' => ''], 'The "Storage Quota (GB)" setting must be a positive whole number, not ""; fix it in the product\'s module settings or configurable options.'],
            'configurable option garbage' => [['configoptions' => ['Max Users' => 'ten']], 'The "Max Users" setting must be a positive whole number, not "ten"; fix it in the product\'s module settings or configurable options.'],
            'plan empty' => [['configoption1' => ' '], 'The product\'s "Plan Code" module setting is empty; set it to an ema-bridge plan code such as "standard".'],
        ];
    }

    /** @dataProvider badSettings */
    public function testSettingsAreValidatedBeforeSending(array $overrides, string $sentence): void
    {
        self::assertSame($sentence, emaarchive_CreateAccount(Fixtures::params('create_account', $overrides)));
        self::assertSame($sentence, emaarchive_ChangePackage(Fixtures::params('change_package', $overrides + ['configoptions' => []])));
        self::assertSame([], $this->daemon->requests);
    }

    public function testConfigurableOptionsOverrideTheProductSettings(): void
    {
        $this->daemon->queue($this->tenantAnswer(), $this->tenantAnswer());
        emaarchive_CreateAccount(Fixtures::params('create_account', ['configoptions' => ['Max Users' => 40, 'Storage Quota (GB)' => '', 'Plan Code' => '']]));
        $body = $this->daemon->lastBody();
        self::assertSame(['standard', 40, 50], [$body['plan'], $body['max_users'], $body['storage_gb']]);

        emaarchive_CreateAccount(Fixtures::params('create_account', ['configoptions' => ['Max Users' => '0', 'Storage Quota (GB)' => ' 75 ']]));
        $body = $this->daemon->lastBody();
        self::assertSame([25, 75], [$body['max_users'], $body['storage_gb']], '0 or empty means not chosen');
    }

    // ---------------------------------------------------------------- other actions

    public function testSuspendSendsTheReasonWhenThereIsOne(): void
    {
        $this->daemon->queue($this->tenantAnswer(['status' => 'suspended']), $this->tenantAnswer(['status' => 'suspended']));

        self::assertSame('success', emaarchive_SuspendAccount(Fixtures::params('suspend_account')));
        self::assertSame(['service_id' => 1001, 'reason' => 'Overdue on payment'], $this->daemon->lastBody());
        self::assertMatchesRegularExpression(sprintf(self::KEY_PATTERN, 'suspend_account'), (string) $this->daemon->last()->header('Idempotency-Key'));

        self::assertSame('success', emaarchive_SuspendAccount(Fixtures::params('suspend_account', ['suspendreason' => ''])));
        self::assertSame(['service_id' => 1001], $this->daemon->lastBody());
    }

    public function testUnsuspend(): void
    {
        $this->daemon->queue($this->tenantAnswer());

        self::assertSame('success', emaarchive_UnsuspendAccount(Fixtures::params('unsuspend_account')));
        self::assertSame(['unsuspend_account'], $this->daemon->actions());
        self::assertSame(['service_id' => 1001], $this->daemon->lastBody());
    }

    public function testTerminateRecordsADeletionRequestAndSucceeds(): void
    {
        $this->daemon->queue($this->tenantAnswer(['status' => 'suspended', 'deletion_requested' => true]));

        self::assertSame('success', emaarchive_TerminateAccount(Fixtures::params('terminate_account')));
        self::assertSame(['terminate_account'], $this->daemon->actions());
        self::assertSame(['service_id' => 1001, 'reason' => 'Terminated in WHMCS (service #1001)'], $this->daemon->lastBody());
    }

    public function testTerminateOfAServiceWithoutTenantSucceeds(): void
    {
        $this->daemon->queue(StubTransport::problem(404, 'not_found', 'No tenant for service 1001.'));

        self::assertSame('success', emaarchive_TerminateAccount(Fixtures::params('terminate_account')));
        self::assertContains('TerminateAccount', ModuleLog::actions());
    }

    public function testSuspendOfAnUnknownServiceIsAnError(): void
    {
        $this->daemon->queue(StubTransport::problem(404, 'not_found', 'No tenant for service 1001.', 'r8'));

        self::assertSame(
            'No archive tenant is linked to WHMCS service #1001 yet; run "Create" first. (request r8)',
            emaarchive_SuspendAccount(Fixtures::params('suspend_account')),
        );
    }

    public function testChangePackageSendsTheFullDesiredState(): void
    {
        $this->daemon->queue($this->tenantAnswer(['plan' => 'pro']));

        self::assertSame('success', emaarchive_ChangePackage(Fixtures::params('change_package')));
        self::assertSame(['service_id' => 1001, 'plan' => 'pro', 'max_users' => 100, 'storage_gb' => 200], $this->daemon->lastBody());
        self::assertMatchesRegularExpression(sprintf(self::KEY_PATTERN, 'change_package'), (string) $this->daemon->last()->header('Idempotency-Key'));
    }

    public function testChangePasswordSendsTheNewPassword(): void
    {
        $this->daemon->queue(StubTransport::json(200, ['ok' => true]));

        self::assertSame('success', emaarchive_ChangePassword(Fixtures::params('change_password')));
        self::assertSame(['service_id' => 1001, 'password' => 'N3w!Passw0rd-2026'], $this->daemon->lastBody());
    }

    public function testChangePasswordRefusesAnEmptyPassword(): void
    {
        self::assertSame('The new password is empty; enter a password and try again.', emaarchive_ChangePassword(Fixtures::params('change_password', ['password' => ''])));
        self::assertSame([], $this->daemon->requests);
    }

    public function testTestConnection(): void
    {
        $this->daemon->queue(
            StubTransport::json(200, ['ok' => true, 'reseller' => 'Reseller One', 'server_time' => time()]),
            StubTransport::problem(401, 'unauthorized', 'Unauthorized.', 'r10'),
        );
        $params = Fixtures::params('test_connection');

        self::assertSame(['success' => true, 'error' => ''], emaarchive_TestConnection($params));
        self::assertSame('{}', $this->daemon->last()->body);
        self::assertNull($this->daemon->last()->header('Idempotency-Key'));

        $failed = emaarchive_TestConnection($params);
        self::assertFalse($failed['success']);
        self::assertStringEndsWith('(request r10)', $failed['error']);
    }

    public function testSingleSignOn(): void
    {
        $url = 'https://acme.archive.example/_ema/sso/tok_abcdef0123456789';
        $this->daemon->queue(
            StubTransport::json(200, ['url' => $url, 'expires_at' => '2026-12-03T10:01:00Z']),
            StubTransport::problem(403, 'tenant_suspended', 'The tenant is suspended.', 'r11'),
        );
        $params = Fixtures::params('service_single_sign_on');

        self::assertSame(['success' => true, 'redirectTo' => $url], emaarchive_ServiceSingleSignOn($params));
        self::assertSame(['service_id' => 1001], $this->daemon->lastBody());
        self::assertNull($this->daemon->last()->header('Idempotency-Key'), 'each login link is new');
        self::assertStringNotContainsString('tok_abcdef', ModuleLog::visibleText());

        self::assertSame(
            ['success' => false, 'errorMsg' => 'The archive tenant of this service is suspended; unsuspend it first and try again. (request r11)'],
            emaarchive_ServiceSingleSignOn($params),
        );
    }

    // ---------------------------------------------------------------- idempotency keys

    public function testTimeoutKeepsTheKeyAndTheRetryReusesIt(): void
    {
        $params = Fixtures::params('create_account');
        $this->daemon->queue(new TransportException('Operation timed out after 25000 milliseconds', true), $this->tenantAnswer());

        self::assertStringContainsString('did not answer within 25 seconds', emaarchive_CreateAccount($params));
        $first = $this->daemon->last()->header('Idempotency-Key');
        self::assertSame($first, self::properties($params)[PendingRequest::PROPERTY]);

        self::assertSame('success', emaarchive_CreateAccount($params));
        self::assertSame($first, $this->daemon->last()->header('Idempotency-Key'));
        self::assertNotSame($this->daemon->requests[0]->header('X-Ema-Nonce'), $this->daemon->requests[1]->header('X-Ema-Nonce'));
        self::assertSame('', self::properties($params)[PendingRequest::PROPERTY]);
    }

    /** @return array<string, array{0: \Closure, 1: bool}> answer => key kept */
    public static function answersAndKeys(): array
    {
        return [
            '2xx clears' => [static fn () => StubTransport::json(200, ['tenant' => StubTransport::tenant(['status' => 'suspended'])]), false],
            '4xx clears' => [static fn () => StubTransport::problem(404, 'not_found', 'No tenant.'), false],
            '401 clears' => [static fn () => StubTransport::problem(401, 'unauthorized', 'Unauthorized.'), false],
            '409 in progress keeps' => [static fn () => StubTransport::problem(409, 'request_in_progress', 'Still running.'), true],
            '5xx keeps' => [static fn () => StubTransport::problem(503, 'unavailable', 'Try later.'), true],
            'network error keeps' => [static fn () => new TransportException('Connection reset by peer'), true],
            'unreadable 2xx keeps' => [static fn () => new \WHMCS\Module\Server\EmaArchive\Http\HttpResponse(200, [], 'not json'), true],
        ];
    }

    /** @dataProvider answersAndKeys */
    public function testThePendingKeyIsKeptOnlyUntilADefinitiveAnswer(\Closure $answer, bool $kept): void
    {
        $params = Fixtures::params('suspend_account');
        $this->daemon->queue($answer());

        emaarchive_SuspendAccount($params);

        $sent = $this->daemon->last()->header('Idempotency-Key');
        self::assertSame($kept ? $sent : '', self::properties($params)[PendingRequest::PROPERTY]);
    }

    public function testAKeyOfAnotherActionIsNotReused(): void
    {
        $stale = 'create_account:' . str_repeat('1', 32);
        $params = Fixtures::params('suspend_account');
        $params['model'] = new ServiceModel([PendingRequest::PROPERTY => $stale]);
        $this->daemon->queue($this->tenantAnswer(['status' => 'suspended']));

        emaarchive_SuspendAccount($params);

        $sent = (string) $this->daemon->last()->header('Idempotency-Key');
        self::assertMatchesRegularExpression(sprintf(self::KEY_PATTERN, 'suspend_account'), $sent);
        self::assertNotSame($stale, $sent);
    }

    public function testAStoredKeyOfTheSameActionIsReused(): void
    {
        $stored = 'change_package:' . str_repeat('ab', 16);
        $params = Fixtures::params('change_package');
        $params['model'] = new ServiceModel([PendingRequest::PROPERTY => $stored]);
        $this->daemon->queue($this->tenantAnswer());

        emaarchive_ChangePackage($params);

        self::assertSame($stored, $this->daemon->last()->header('Idempotency-Key'));
    }

    public function testAKeyReusedForAnotherBodyIsReplacedOnce(): void
    {
        $stored = 'change_package:' . str_repeat('cd', 16);
        $params = Fixtures::params('change_package');
        $params['model'] = new ServiceModel([PendingRequest::PROPERTY => $stored]);
        $this->daemon->queue(
            StubTransport::problem(422, 'idempotency_key_reused', 'This key was used with another body.'),
            $this->tenantAnswer(),
        );

        self::assertSame('success', emaarchive_ChangePackage($params));
        self::assertCount(2, $this->daemon->requests);
        self::assertSame($stored, $this->daemon->requests[0]->header('Idempotency-Key'));
        $fresh = (string) $this->daemon->requests[1]->header('Idempotency-Key');
        self::assertNotSame($stored, $fresh);
        self::assertMatchesRegularExpression(sprintf(self::KEY_PATTERN, 'change_package'), $fresh);
        self::assertSame($this->daemon->requests[0]->body, $this->daemon->requests[1]->body);
        self::assertSame('', self::properties($params)[PendingRequest::PROPERTY]);
    }

    public function testReadOnlyCallsSendNoKey(): void
    {
        $this->daemon->queue($this->tenantAnswer(), StubTransport::json(200, ['items' => []]), StubTransport::json(200, ['items' => []]));
        emaarchive_AdminServicesTabFields(Fixtures::params('admin_services_tab_fields'));
        emaarchive_UsageUpdate(Fixtures::params('usage_update'));
        emaarchive_ListAccounts(Fixtures::params('list_accounts'));

        self::assertSame(['get_account', 'usage', 'list_accounts'], $this->daemon->actions());
        foreach ($this->daemon->requests as $request) {
            self::assertNull($request->header('Idempotency-Key'));
        }
    }

    // ---------------------------------------------------------------- secrets in the module log

    public function testTheModuleLogNeverShowsSecretsOrPasswords(): void
    {
        $this->daemon = new StubTransport(static function ($request) {
            $action = basename((string) parse_url($request->url, PHP_URL_PATH));

            return match ($action) {
                'sso' => StubTransport::json(200, ['url' => 'https://acme.archive.example/_ema/sso/tok_secret_link', 'expires_at' => 'x']),
                'change_password', 'test_connection' => StubTransport::json(200, ['ok' => true]),
                'usage', 'list_accounts' => StubTransport::json(200, ['items' => [StubTransport::tenant()]]),
                default => StubTransport::json(200, ['tenant' => StubTransport::tenant()]),
            };
        });
        Module::useTransport($this->daemon);

        $calls = [
            'CreateAccount' => 'create_account', 'SuspendAccount' => 'suspend_account', 'UnsuspendAccount' => 'unsuspend_account',
            'TerminateAccount' => 'terminate_account', 'ChangePackage' => 'change_package', 'ChangePassword' => 'change_password',
            'TestConnection' => 'test_connection', 'ServiceSingleSignOn' => 'service_single_sign_on',
            'AdminServicesTabFields' => 'admin_services_tab_fields', 'ClientArea' => 'client_area', 'UsageUpdate' => 'usage_update',
            'ListAccounts' => 'list_accounts',
        ];
        foreach ($calls as $function => $fixture) {
            ('emaarchive_' . $function)(Fixtures::params($fixture));
        }
        emaarchive_MetricProvider(Fixtures::params('metric_provider'))->usage();
        // Failures are logged too.
        $this->daemon->queue(StubTransport::problem(500, 'internal', 'boom'));
        emaarchive_ChangePassword(Fixtures::params('change_password'));

        self::assertGreaterThanOrEqual(14, count(ModuleLog::entries()));
        $visible = ModuleLog::visibleText();
        foreach ([Fixtures::SECRET, 'Xq7!pL2#vR9zT4', 'N3w!Passw0rd-2026', 'tok_secret_link'] as $secret) {
            self::assertStringNotContainsString($secret, $visible);
        }
        foreach ($this->daemon->requests as $request) {
            self::assertStringNotContainsString((string) $request->header('X-Ema-Signature'), $visible);
        }
        foreach (ModuleLog::entries() as $entry) {
            self::assertSame('emaarchive', $entry['module']);
            self::assertContains(Fixtures::SECRET, $entry['raw']['replace_vars'], 'the secret is always passed for masking');
        }
    }

    public function testMaskingByValueCatchesSecretsInTextWhereKeysCannot(): void
    {
        // A daemon that echoes the secret in a plain-text error must still not leak it.
        $this->daemon->queue(new \WHMCS\Module\Server\EmaArchive\Http\HttpResponse(400, ['Content-Type' => 'text/plain'], 'bad key ' . Fixtures::SECRET));

        emaarchive_SuspendAccount(Fixtures::params('suspend_account'));

        $stored = implode("\n", array_map(static fn (array $e): string => $e['request'] . $e['response'] . $e['processed'], ModuleLog::entries()));
        self::assertStringNotContainsString(Fixtures::SECRET, $stored);
        self::assertStringContainsString(str_repeat('*', strlen(Fixtures::SECRET)), $stored);
    }
}
