<?php

declare(strict_types=1);

namespace EmaArchiveTests;

use EmaArchiveTests\Support\FakeDaemon;
use EmaArchiveTests\Support\Fixtures;
use EmaArchiveTests\Support\ModuleLog;
use PHPUnit\Framework\TestCase;
use WHMCS\Module\Server\EmaArchive\ApiClient;
use WHMCS\Module\Server\EmaArchive\Http\CurlTransport;
use WHMCS\Module\Server\EmaArchive\Http\HttpRequest;
use WHMCS\Module\Server\EmaArchive\Http\TransportException;
use WHMCS\Module\Server\EmaArchive\Module;
use WHMCS\Module\Server\EmaArchive\ModuleLogger;
use WHMCS\Module\Server\EmaArchive\Signer;

/**
 * Real HTTP over loopback: the curl transport against a fake daemon that checks signatures the
 * way docs/signing.md says, and the e2e runner that the Rust integration tests use.
 */
final class CurlTransportTest extends TestCase
{
    private static ?FakeDaemon $daemon = null;
    private static string $work = '';

    public static function setUpBeforeClass(): void
    {
        self::$daemon = new FakeDaemon(Fixtures::KEY_ID, Fixtures::SECRET);
        self::$work = sys_get_temp_dir() . '/ema-e2e-' . getmypid();
        @mkdir(self::$work, 0700, true);
    }

    public static function tearDownAfterClass(): void
    {
        self::$daemon?->stop();
        foreach (glob(self::$work . '/*') ?: [] as $file) {
            @unlink($file);
        }
        @rmdir(self::$work);
    }

    protected function setUp(): void
    {
        Module::useTransport(null);
        ModuleLog::reset();
    }

    private function params(string $fixture, array $overrides = []): array
    {
        return Fixtures::params($fixture, $overrides, '127.0.0.1', (string) self::$daemon->port);
    }

    public function testTestConnectionOverRealHttp(): void
    {
        self::assertSame(['success' => true, 'error' => ''], emaarchive_TestConnection($this->params('test_connection')));
    }

    public function testCreateOverRealHttpIsAcceptedWithItsIdempotencyKey(): void
    {
        $params = $this->params('create_account');

        self::assertSame('success', emaarchive_CreateAccount($params));

        $accepted = self::$daemon->acceptedRequests();
        $last = end($accepted);
        self::assertSame('/whmcs/v1/create_account', $last['path']);
        self::assertMatchesRegularExpression('/^create_account:[0-9a-f]{32}$/D', $last['idempotency_key']);
        self::assertSame('acme', $params['model']->serviceProperties->get('Tenant Slug'));
    }

    public function testAWrongSecretIsRefused(): void
    {
        $result = emaarchive_TestConnection($this->params('test_connection', ['serverpassword' => 'whsec_wrong']));

        self::assertFalse($result['success']);
        self::assertStringStartsWith('The archive daemon refused this server\'s credentials', $result['error']);
        self::assertMatchesRegularExpression('/\(request [0-9a-f]{16}\)$/D', $result['error']);
    }

    public function testAReplayedRequestIsRefused(): void
    {
        $transport = new CurlTransport();
        $path = '/whmcs/v1/test_connection';
        $nonce = Signer::newNonce();
        $timestamp = time();
        $toSign = Signer::stringToSign('POST', $path, '', $timestamp, $nonce, Fixtures::KEY_ID, '', Signer::bodySha256('{}'));
        $request = new HttpRequest('POST', 'http://127.0.0.1:' . self::$daemon->port . $path, [
            'Content-Type' => 'application/json',
            'X-Ema-Key-Id' => Fixtures::KEY_ID,
            'X-Ema-Timestamp' => (string) $timestamp,
            'X-Ema-Nonce' => $nonce,
            'X-Ema-Content-Sha256' => Signer::bodySha256('{}'),
            'X-Ema-Signature' => Signer::sign(Fixtures::SECRET, $toSign),
        ], '{}');

        self::assertSame(200, $transport->send($request)->status);
        $replay = $transport->send($request);
        self::assertSame(401, $replay->status);
        self::assertSame('unauthorized', json_decode($replay->body, true)['code']);
        self::assertMatchesRegularExpression('/^[0-9a-f]{16}$/D', (string) $replay->header('X-Request-Id'));
    }

    public function testTotalTimeoutIsEnforced(): void
    {
        // A listening socket that never answers: the connection is made, the answer never comes.
        $silent = stream_socket_server('tcp://127.0.0.1:0');
        self::assertNotFalse($silent);
        $url = 'http://' . stream_socket_get_name($silent, false);
        $client = new ApiClient($url, Fixtures::KEY_ID, Fixtures::SECRET, new CurlTransport(2, 1), new ModuleLogger());
        $started = microtime(true);
        try {
            $client->call('test_connection');
            self::fail('expected a timeout');
        } catch (\WHMCS\Module\Server\EmaArchive\ApiException $e) {
            self::assertSame('timeout', $e->problemCode);
            self::assertFalse($e->isDefinitive());
            self::assertLessThan(2.5, microtime(true) - $started);
        } finally {
            fclose($silent);
        }
    }

    public function testConnectionRefusedIsNotATimeout(): void
    {
        try {
            (new CurlTransport())->send(new HttpRequest('POST', 'http://127.0.0.1:9/whmcs/v1/test_connection', [], '{}'));
            self::fail('expected a TransportException');
        } catch (TransportException $e) {
            self::assertFalse($e->timedOut);
        }
    }

    public function testCurlDefaults(): void
    {
        self::assertSame(5, CurlTransport::CONNECT_TIMEOUT_SECONDS);
        self::assertSame(25, CurlTransport::TOTAL_TIMEOUT_SECONDS);
    }

    // ---------------------------------------------------------------- tests/e2e/run.php

    /** @return array{0: int, 1: array<string, mixed>, 2: string} exit code, decoded stdout, stderr */
    private function runner(string $function, string $fixture, array $overrides = []): array
    {
        $file = self::$work . '/' . $fixture . '.json';
        if (!is_file($file)) {
            $text = (string) file_get_contents(Fixtures::path('fixtures/whmcs/' . $fixture . '.json'));
            $text = str_replace(['@HOST@', '@PORT@', '@KEY_ID@', '@SECRET@'], ['127.0.0.1', (string) self::$daemon->port, Fixtures::KEY_ID, Fixtures::SECRET], $text);
            $params = array_replace(json_decode($text, true), $overrides);
            file_put_contents($file, json_encode($params));
        }
        $process = proc_open(
            [PHP_BINARY, dirname(__DIR__) . '/tests/e2e/run.php', $function, $file],
            [1 => ['pipe', 'w'], 2 => ['pipe', 'w']],
            $pipes,
        );
        $stdout = stream_get_contents($pipes[1]);
        $stderr = stream_get_contents($pipes[2]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        $code = proc_close($process);

        return [$code, (array) json_decode((string) $stdout, true), $stderr];
    }

    public function testRunnerCreatesAndPersistsProperties(): void
    {
        [$code, $out, $stderr] = $this->runner('CreateAccount', 'create_account');

        self::assertSame(0, $code, $stderr);
        self::assertSame(['result', 'module_log', 'capsule_updates', 'properties'], array_keys($out));
        self::assertSame('success', $out['result']);
        self::assertSame('acme', $out['properties']['Tenant Slug']);
        self::assertSame('', $out['properties']['EMA Pending Request']);
        self::assertSame('create_account', $out['module_log'][0]['action']);
        self::assertStringNotContainsString(Fixtures::SECRET, json_encode($out));
        self::assertStringNotContainsString('Xq7!pL2#vR9zT4', json_encode($out, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE));

        $props = json_decode((string) file_get_contents(self::$work . '/create_account.json.props.json'), true);
        self::assertSame('acme', $props['Tenant Slug']);
    }

    public function testRunnerSecondInvocationSeesSavedProperties(): void
    {
        $file = self::$work . '/suspend_account.json';
        [$code] = $this->runner('SuspendAccount', 'suspend_account');
        self::assertSame(0, $code);
        file_put_contents($file . '.props.json', json_encode(['Tenant Slug' => 'acme', 'EMA Pending Request' => 'suspend_account:' . str_repeat('e', 32)]));

        [$code, $out] = $this->runner('SuspendAccount', 'suspend_account');

        self::assertSame(0, $code);
        self::assertSame('success', $out['result']);
        $accepted = self::$daemon->acceptedRequests();
        self::assertSame('suspend_account:' . str_repeat('e', 32), end($accepted)['idempotency_key']);
        self::assertSame('', $out['properties']['EMA Pending Request']);
    }

    public function testRunnerReportsAnErrorSentenceWithExitZero(): void
    {
        [$code, $out] = $this->runner('CreateAccount', 'create_account_bad_slug');

        self::assertSame(0, $code);
        self::assertMatchesRegularExpression(
            '/^The tenant slug "acme_corp" is not valid: use 3-48 lowercase letters, digits or hyphens, starting with a letter\. \(request [0-9a-f]{16}\)$/D',
            $out['result'],
        );
    }

    public function testRunnerMetricProviderAndUsageUpdate(): void
    {
        [$code, $out] = $this->runner('MetricProvider', 'metric_provider');
        self::assertSame(0, $code);
        self::assertSame(['metrics' => ['active_users', 'storage'], 'usage' => ['acme' => ['active_users' => 1.0, 'storage' => 0.001953]]], $out['result']);

        [$code, $out] = $this->runner('UsageUpdate', 'usage_update');
        self::assertSame(0, $code);
        self::assertSame('success', $out['result']);
        self::assertSame([[
            'table' => 'tblhosting',
            'wheres' => [['id', '=', 1001], ['server', '=', 3]],
            'values' => ['diskusage' => 2, 'disklimit' => 51200, 'lastupdate' => ['raw' => 'now()']],
        ]], $out['capsule_updates']);
    }

    public function testRunnerRejectsBadArguments(): void
    {
        $process = proc_open([PHP_BINARY, dirname(__DIR__) . '/tests/e2e/run.php', 'NoSuchFunction', '/nonexistent'], [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
        stream_get_contents($pipes[1]);
        $stderr = stream_get_contents($pipes[2]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        self::assertSame(2, proc_close($process));
        self::assertStringContainsString('unknown module function', (string) $stderr);
    }
}
