<?php

/*
 * PHPUnit bootstrap (and the e2e runner's): no Composer needed.
 *
 * WHMCS is not available outside WHMCS, so tests/stubs/ provides stand-ins that follow WHMCS's
 * documented behaviour; each file cites the developer docs pages it follows:
 *   - functions.php     logModuleCall()  https://developers.whmcs.com/provisioning-modules/module-logging/
 *   - Capsule.php       WHMCS\Database\Capsule  https://developers.whmcs.com/advanced/db-interaction/
 *                       and https://developers.whmcs.com/provisioning-modules/usage-update/
 *   - ServiceModel.php  $params['model']->serviceProperties
 *                       https://developers.whmcs.com/provisioning-modules/service-properties/
 *   - ServiceStatus.php WHMCS\Service\Status  https://developers.whmcs.com/provisioning-modules/server-sync/
 *   - UsageBilling.php  WHMCS\UsageBilling\...  https://developers.whmcs.com/provisioning-modules/usage-metrics/
 *                       and the class docs https://developers.whmcs.com/classes/whmcs/usagebilling/
 * Every stand-in is declared only if WHMCS (or another bootstrap) has not declared it already.
 */

declare(strict_types=1);

if (!defined('WHMCS')) {
    define('WHMCS', true);
}

$GLOBALS['WHMCS_MODULE_LOG'] = [];

require_once __DIR__ . '/stubs/functions.php';
require_once __DIR__ . '/stubs/Capsule.php';
require_once __DIR__ . '/stubs/ServiceStatus.php';
require_once __DIR__ . '/stubs/ServiceModel.php';
require_once __DIR__ . '/stubs/UsageBilling.php';

require_once dirname(__DIR__) . '/modules/servers/emaarchive/emaarchive.php';

require_once __DIR__ . '/Support/StubTransport.php';
require_once __DIR__ . '/Support/Fixtures.php';
require_once __DIR__ . '/Support/ModuleLog.php';
require_once __DIR__ . '/Support/FakeDaemon.php';
