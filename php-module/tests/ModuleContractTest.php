<?php

declare(strict_types=1);

namespace EmaArchiveTests;

use EmaArchiveTests\Support\Fixtures;
use EmaArchiveTests\Support\ModuleLog;
use PHPUnit\Framework\TestCase;
use WHMCS\Module\Server\EmaArchive\Module;
use WHMCS\UsageBilling\Contracts\Metrics\ProviderInterface;

/**
 * The official sample module's smoke test, extended: every module function exists and returns
 * the type WHMCS expects, never throwing, both with no parameters at all and with a server
 * record pointing at a daemon that is not there (127.0.0.1 port 9, real curl transport).
 */
final class ModuleContractTest extends TestCase
{
    protected function setUp(): void
    {
        Module::useTransport(null);
        ModuleLog::reset();
    }

    public function testConfigOptionsFunctionExists(): void
    {
        self::assertTrue(function_exists('emaarchive_ConfigOptions'));
    }

    /** @return array<string, array{0: string, 1: string}> function => expected return type */
    public static function providerFunctions(): array
    {
        return [
            'MetaData' => ['MetaData', 'array'],
            'ConfigOptions' => ['ConfigOptions', 'array'],
            'CreateAccount' => ['CreateAccount', 'string'],
            'SuspendAccount' => ['SuspendAccount', 'string'],
            'UnsuspendAccount' => ['UnsuspendAccount', 'string'],
            'TerminateAccount' => ['TerminateAccount', 'string'],
            'ChangePackage' => ['ChangePackage', 'string'],
            'ChangePassword' => ['ChangePassword', 'string'],
            'TestConnection' => ['TestConnection', 'array'],
            'ServiceSingleSignOn' => ['ServiceSingleSignOn', 'array'],
            'AdminServicesTabFields' => ['AdminServicesTabFields', 'array'],
            'ClientArea' => ['ClientArea', 'array'],
            'UsageUpdate' => ['UsageUpdate', 'string'],
            'MetricProvider' => ['MetricProvider', ProviderInterface::class],
            'ListAccounts' => ['ListAccounts', 'array'],
        ];
    }

    /** @dataProvider providerFunctions */
    public function testFunctionsReturnTheRightTypeWithEmptyParams(string $function, string $type): void
    {
        self::assertReturnType($type, ('emaarchive_' . $function)([]));
    }

    /** @dataProvider providerFunctions */
    public function testFunctionsReturnTheRightTypeWhenTheDaemonIsUnreachable(string $function, string $type): void
    {
        $params = Fixtures::params('create_account', [], '127.0.0.1', '9');
        $result = ('emaarchive_' . $function)($params);
        self::assertReturnType($type, $result);

        if ($type === 'string' && !in_array($function, ['MetaData', 'ConfigOptions'], true)) {
            self::assertStringStartsWith('The archive daemon at http://127.0.0.1:9 could not be reached', $result);
            self::assertStringNotContainsString('#0 ', $result, 'no stack trace');
        }
    }

    public function testUnreachableDaemonShapes(): void
    {
        $params = Fixtures::params('create_account', [], '127.0.0.1', '9');

        $test = emaarchive_TestConnection($params);
        self::assertFalse($test['success']);
        self::assertIsString($test['error']);
        self::assertNotSame('', $test['error']);

        $sso = emaarchive_ServiceSingleSignOn($params);
        self::assertSame(false, $sso['success']);
        self::assertIsString($sso['errorMsg']);

        $list = emaarchive_ListAccounts($params);
        self::assertSame(false, $list['success']);
        self::assertIsString($list['error']);

        $tab = emaarchive_AdminServicesTabFields($params);
        self::assertSame(['EMA Archive'], array_keys($tab));

        $area = emaarchive_ClientArea($params);
        self::assertSame('templates/overview.tpl', $area['tabOverviewReplacementTemplate']);
        self::assertStringStartsWith('The archive details are not available right now', $area['templateVariables']['errorMessage']);

        $provider = emaarchive_MetricProvider($params);
        self::assertSame([], $provider->usage());
        self::assertSame([], $provider->tenantUsage('acme'));
    }

    private static function assertReturnType(string $type, mixed $result): void
    {
        match ($type) {
            'array' => self::assertIsArray($result),
            'string' => self::assertIsString($result),
            default => self::assertInstanceOf($type, $result),
        };
        if (is_string($result)) {
            self::assertNotSame('', $result);
            self::assertStringNotContainsString("\n", $result, 'one line');
        }
    }
}
