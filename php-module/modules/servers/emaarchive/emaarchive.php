<?php
/**
 * EMA Archive: WHMCS provisioning (server) module for ema-bridge.
 *
 * Every function is a thin wrapper over the classes in lib/ and returns what WHMCS expects:
 * 'success' or one sentence for the admin. The daemon contract is docs/whmcs-channel.md and the
 * request signature docs/signing.md of the ema-bridge repository.
 *
 * Server record: hostname + port + "Secure" give the daemon's URL; Username = key id,
 * Password = signing secret. Module settings: 1 Plan Code, 2 Max Users, 3 Storage Quota (GB).
 */

declare(strict_types=1);

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

require_once __DIR__ . '/lib/autoload.php';

use WHMCS\Module\Server\EmaArchive\AccountLister;
use WHMCS\Module\Server\EmaArchive\ErrorMessages;
use WHMCS\Module\Server\EmaArchive\MetricsProvider;
use WHMCS\Module\Server\EmaArchive\Module;
use WHMCS\Module\Server\EmaArchive\ModuleLogger;
use WHMCS\Module\Server\EmaArchive\PlanSettings;
use WHMCS\Module\Server\EmaArchive\SlugResolver;
use WHMCS\Module\Server\EmaArchive\TenantPresenter;
use WHMCS\Module\Server\EmaArchive\UsageUpdater;

function emaarchive_MetaData(): array
{
    return [
        'DisplayName' => 'EMA Archive',
        'APIVersion' => '1.1',
        'RequiresServer' => true,
        'DefaultNonSSLPort' => '8080',
        'DefaultSSLPort' => '443',
        'ServiceSingleSignOnLabel' => 'Log in to EMA Archive',
        'ListAccountsUniqueIdentifierDisplayName' => 'Tenant Slug',
        'ListAccountsUniqueIdentifierField' => 'customfield.' . SlugResolver::CUSTOM_FIELD,
        'ListAccountsProductField' => 'configoption1',
    ];
}

/** The order is part of the contract (configoption1..3): never reorder. */
function emaarchive_ConfigOptions(): array
{
    return [
        PlanSettings::PLAN_CODE => [
            'FriendlyName' => PlanSettings::PLAN_CODE,
            'Type' => 'text',
            'Size' => '25',
            'Default' => 'standard',
            'Description' => 'ema-bridge plan code',
            'SimpleMode' => true,
        ],
        PlanSettings::MAX_USERS => [
            'FriendlyName' => PlanSettings::MAX_USERS,
            'Type' => 'text',
            'Size' => '10',
            'Default' => '25',
            'Description' => 'Maximum user accounts of the tenant (a configurable option "Max Users" overrides it)',
            'SimpleMode' => true,
        ],
        PlanSettings::STORAGE_GB => [
            'FriendlyName' => PlanSettings::STORAGE_GB,
            'Type' => 'text',
            'Size' => '10',
            'Default' => '50',
            'Description' => 'Storage quota in GB (a configurable option "Storage Quota (GB)" overrides it)',
            'SimpleMode' => true,
        ],
    ];
}

function emaarchive_CreateAccount(array $params): string
{
    try {
        return Module::accounts($params)->create();
    } catch (\Throwable $e) {
        return Module::failure('CreateAccount', $params, $e);
    }
}

function emaarchive_SuspendAccount(array $params): string
{
    try {
        return Module::accounts($params)->suspend();
    } catch (\Throwable $e) {
        return Module::failure('SuspendAccount', $params, $e);
    }
}

function emaarchive_UnsuspendAccount(array $params): string
{
    try {
        return Module::accounts($params)->unsuspend();
    } catch (\Throwable $e) {
        return Module::failure('UnsuspendAccount', $params, $e);
    }
}

/** The daemon suspends the tenant and records a deletion request for support: nothing is deleted. */
function emaarchive_TerminateAccount(array $params): string
{
    try {
        return Module::accounts($params)->terminate();
    } catch (\Throwable $e) {
        return Module::failure('TerminateAccount', $params, $e);
    }
}

/** Upgrades, downgrades and configurable option changes: sends the full desired plan and limits. */
function emaarchive_ChangePackage(array $params): string
{
    try {
        return Module::accounts($params)->changePackage();
    } catch (\Throwable $e) {
        return Module::failure('ChangePackage', $params, $e);
    }
}

/** Sets the password of the tenant's first administrator (created from the service at Create). */
function emaarchive_ChangePassword(array $params): string
{
    try {
        return Module::accounts($params)->changePassword();
    } catch (\Throwable $e) {
        return Module::failure('ChangePassword', $params, $e);
    }
}

function emaarchive_TestConnection(array $params): array
{
    try {
        $response = Module::client($params)->call('test_connection');
        if (($response->data['ok'] ?? false) !== true) {
            return [
                'success' => false,
                'error' => ErrorMessages::withRequestId('The archive daemon answered but did not confirm the connection.', $response->requestId),
            ];
        }

        return ['success' => true, 'error' => ''];
    } catch (\Throwable $e) {
        return ['success' => false, 'error' => Module::failure('TestConnection', $params, $e)];
    }
}

function emaarchive_ServiceSingleSignOn(array $params): array
{
    try {
        return ['success' => true, 'redirectTo' => Module::accounts($params)->singleSignOnUrl()];
    } catch (\Throwable $e) {
        return ['success' => false, 'errorMsg' => Module::failure('ServiceSingleSignOn', $params, $e)];
    }
}

function emaarchive_AdminServicesTabFields(array $params): array
{
    try {
        [$tenant] = Module::accounts($params)->account();

        return (new TenantPresenter($tenant))->adminFields();
    } catch (\Throwable $e) {
        $sentence = Module::failure('AdminServicesTabFields', $params, $e);

        return ['EMA Archive' => htmlspecialchars($sentence, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8')];
    }
}

function emaarchive_ClientArea(array $params): array
{
    $template = 'templates/overview.tpl';
    try {
        [$tenant] = Module::accounts($params)->account();

        return ['tabOverviewReplacementTemplate' => $template, 'templateVariables' => (new TenantPresenter($tenant))->clientVars()];
    } catch (\Throwable $e) {
        // Clients get a plain message; the admin's sentence goes to the module log.
        Module::failure('ClientArea', $params, $e);

        return [
            'tabOverviewReplacementTemplate' => $template,
            'templateVariables' => [
                'errorMessage' => ErrorMessages::withRequestId(
                    'The archive details are not available right now; please try again later.',
                    ErrorMessages::requestIdOf($e),
                ),
            ],
        ];
    }
}

/** Daily cron, per server: disk usage and limit (MB) of every WHMCS-created tenant into tblhosting. */
function emaarchive_UsageUpdate(array $params): string
{
    try {
        $logger = ModuleLogger::fromParams($params);
        $summary = (new UsageUpdater(Module::client($params, $logger), $logger))->run((int) ($params['serverid'] ?? 0));
        if ($summary['failed'] > 0) {
            return sprintf('Usage was updated for %d services, %d updates failed (see the Module Log).', $summary['updated'], $summary['failed']);
        }

        return 'success';
    } catch (\Throwable $e) {
        return Module::failure('UsageUpdate', $params, $e);
    }
}

function emaarchive_MetricProvider(array $params): MetricsProvider
{
    return new MetricsProvider($params);
}

function emaarchive_ListAccounts(array $params): array
{
    try {
        $logger = ModuleLogger::fromParams($params);

        return ['success' => true, 'accounts' => (new AccountLister(Module::client($params, $logger), $params))->accounts()];
    } catch (\Throwable $e) {
        return ['success' => false, 'error' => Module::failure('ListAccounts', $params, $e)];
    }
}
