<?php

declare(strict_types=1);

namespace EmaArchiveTests\Support;

/** Runs tests/e2e/fake_daemon.php under PHP's built-in web server on a free loopback port. */
final class FakeDaemon
{
    /** @var resource */
    private $process;
    public readonly int $port;
    public readonly string $state;

    public function __construct(public readonly string $keyId, public readonly string $secret)
    {
        $probe = stream_socket_server('tcp://127.0.0.1:0');
        if ($probe === false) {
            throw new \RuntimeException('no free port');
        }
        $this->port = (int) substr((string) strrchr((string) stream_socket_get_name($probe, false), ':'), 1);
        fclose($probe);

        $this->state = sys_get_temp_dir() . '/ema-fake-daemon-' . getmypid() . '-' . $this->port;
        @mkdir($this->state, 0700, true);
        $env = getenv() + [];
        $env['EMA_FAKE_SECRET'] = $secret;
        $env['EMA_FAKE_KEY_ID'] = $keyId;
        $env['EMA_FAKE_STATE'] = $this->state;
        $process = proc_open(
            [PHP_BINARY, '-S', '127.0.0.1:' . $this->port, dirname(__DIR__) . '/e2e/fake_daemon.php'],
            [0 => ['file', '/dev/null', 'r'], 1 => ['file', $this->state . '/server.out', 'a'], 2 => ['file', $this->state . '/server.out', 'a']],
            $pipes,
            null,
            $env,
        );
        if (!is_resource($process)) {
            throw new \RuntimeException('could not start the fake daemon');
        }
        $this->process = $process;
        $deadline = microtime(true) + 10;
        while (microtime(true) < $deadline) {
            $socket = @fsockopen('127.0.0.1', $this->port, $errno, $error, 0.2);
            if ($socket !== false) {
                fclose($socket);

                return;
            }
            usleep(50_000);
        }
        $this->stop();
        throw new \RuntimeException('the fake daemon did not start');
    }

    /** @return list<array{path: string, idempotency_key: string, body: string}> requests the daemon accepted */
    public function acceptedRequests(): array
    {
        $file = $this->state . '/requests.log';
        if (!is_file($file)) {
            return [];
        }

        return array_map(static fn (string $line): array => json_decode($line, true), file($file, FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES));
    }

    public function stop(): void
    {
        if (is_resource($this->process)) {
            proc_terminate($this->process);
            proc_close($this->process);
        }
        foreach (glob($this->state . '/*') ?: [] as $file) {
            @unlink($file);
        }
        @rmdir($this->state);
    }
}
